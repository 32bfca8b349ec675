"""Restore drills: the evidence that a group can be restored, and how long it takes.

A ``Drill`` row is the truth: the scheduler and the ``drill`` command claim it with a
conditional update, the runner writes every phase, check and the clean-up to it, and
the pages and exports read it. A ``DrillPlan`` is one group's drill settings: its
schedule, its SQL assertions and (Azure) whether drills may spend money.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Drill(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        # The restore reached Ready but the portal could not run its checks there (a
        # cloud server it cannot reach): not proof the data is sound, so not a pass.
        UNCHECKED = "unchecked", "Restored, not checked"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Point(models.TextChoices):
        LATEST = "latest", "Latest restore point"
        RANDOM = "random", "Random point in the window"
        EARLIEST = "earliest", "Earliest restore point"

    class Trigger(models.TextChoices):
        USER = "user", "An operator, on the portal"
        CLI = "cli", "The drill command"
        SCHEDULE = "schedule", "The schedule"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    backend = models.CharField(max_length=40)
    group_name = models.CharField(max_length=100)
    source_id = models.CharField(max_length=500)
    scratch_name = models.CharField(max_length=40, blank=True)
    point_choice = models.CharField(max_length=10, choices=Point.choices, default=Point.LATEST)
    point = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_by_name = models.CharField(max_length=150, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=100, blank=True)
    token = models.TextField(blank=True)
    # The drill's restore, run as any restore is: its progress, its cancel.
    operation = models.ForeignKey(
        "restore_wizard.RestoreOperation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="drills",
    )
    # [{"name": ..., "seconds": ...}] in the order the phases ran.
    phases = models.JSONField(default=list, blank=True)
    # {node: {"backup": id, "backup_end": iso, "bytes_restored": n, "wal_bytes": n}}
    nodes = models.JSONField(default=dict, blank=True)
    # [{"node": ..., "check": ..., "passed": bool, "detail": ...}]
    checks = models.JSONField(default=list, blank=True)
    # {node: {"schema.table": rows}}
    row_counts = models.JSONField(default=dict, blank=True)
    rto_seconds = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    cleanup = models.TextField(blank=True)
    cleaned_up = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancelled_by_name = models.CharField(max_length=150, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # At most one drill per group at once, whoever starts it.
            models.UniqueConstraint(
                fields=["backend", "group_name"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_drill_per_group",
            ),
        ]

    def __str__(self) -> str:
        return f"drill {self.pk} of {self.group_name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def failed_checks(self) -> list[dict]:
        return [check for check in self.checks if not check.get("passed")]


class DrillPlan(models.Model):
    class Frequency(models.TextChoices):
        OFF = "off", "No schedule"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    backend = models.CharField(max_length=40)
    group_name = models.CharField(max_length=100)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default="off")
    weekday = models.PositiveSmallIntegerField(default=0)  # Monday is 0, as datetime's
    time_utc = models.TimeField(null=True, blank=True)
    point_choice = models.CharField(
        max_length=10, choices=Drill.Point.choices, default=Drill.Point.LATEST
    )
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # One SQL assertion a line: each a query that must return true.
    assertions = models.TextField(blank=True)
    # Azure drills create a real server that is billed while it exists.
    cloud_cost_accepted = models.BooleanField(default=False)
    updated_by_name = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["backend", "group_name"], name="one_plan_per_group")
        ]

    def __str__(self) -> str:
        return f"drill plan of {self.group_name}"

    @property
    def assertion_list(self) -> list[str]:
        return [line.strip() for line in self.assertions.splitlines() if line.strip()]
