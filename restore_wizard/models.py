"""A restore operation: what was asked, by whom, and how far it got.

The row is the truth the pages poll and the task worker writes; it survives restarts
of either. ``token`` is what the backend needs to pick a restore up again.
"""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.backends.base import NAME_MAX_LENGTH, NodePhase, NodeProgress


@dataclass(frozen=True)
class NodeRow:
    """One node's line on the pages: its name and the figures its cloud gave."""

    name: str
    figures: NodeProgress


class RestoreOperation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLING = "cancelling", "Cancelling"
        CANCELLED = "cancelled", "Cancelled"

    class Origin(models.TextChoices):
        PORTAL = "portal", "Portal"
        CLI = "cli", "Command line"
        DRILL = "drill", "Restore drill"

    class Choice(models.TextChoices):
        EARLIEST = "earliest", "Earliest restore point"
        CUSTOM = "custom", "Custom restore point"
        LATEST = "latest", "Latest restore point (now)"
        FAST = "fast", "Fast restore point"
        GEO = "geo", "Restore to paired region"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)

    # Unique per user (below): a key another user posts never finds this operation.
    idempotency_key = models.UUIDField(default=uuid.uuid4)
    backend = models.CharField(max_length=40)
    source_id = models.CharField(max_length=500)
    source_name = models.CharField(max_length=100)
    target_name = models.CharField(max_length=NAME_MAX_LENGTH)
    target_id = models.CharField(max_length=500, blank=True)
    choice = models.CharField(max_length=10, choices=Choice.choices)
    requested_point = models.DateTimeField(null=True, blank=True)
    restored_point = models.DateTimeField(null=True, blank=True)
    subscription = models.CharField(max_length=200)
    resource_group = models.CharField(max_length=200)
    location = models.CharField(max_length=100)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=100, blank=True)
    node_progress = models.JSONField(default=dict, blank=True)
    # The figures behind the bars: {"nodes": {name: NodeProgress.to_json()},
    # "seconds_left": the group's, "coarse": the cloud reports its state only,
    # "message": the cloud's last word}. Written by the runner, read by every page.
    progress = models.JSONField(default=dict, blank=True)
    # What the backend estimated when the restore started (RestoreEstimate.to_json()),
    # kept to be shown beside the time it took.
    estimate = models.JSONField(default=dict, blank=True)
    token = models.TextField(blank=True)
    message = models.TextField(blank=True)
    # The backend's latest words on a running restore (a cloud's state, an estimate).
    progress_message = models.TextField(blank=True)
    cleanup = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    # A restore from the command line without --as has no portal user: the OS user's
    # name is kept instead.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    started_by_name = models.CharField(max_length=150, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.PORTAL)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Two people asking for the same new name at once: the database lets one in.
            models.UniqueConstraint(
                fields=["backend", "target_name"],
                condition=Q(status__in=["queued", "running", "cancelling"]),
                name="one_active_restore_per_target",
            ),
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"], name="one_operation_per_user_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name} -> {self.target_name} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def elapsed(self) -> str:
        """Time since the restore started (to its end once it ended), e.g. "12 min 5 s"."""
        if self.started_at is None:
            return ""
        seconds = int(((self.finished_at or timezone.now()) - self.started_at).total_seconds())
        hours, rest = divmod(max(seconds, 0), 3600)
        minutes, seconds = divmod(rest, 60)
        if hours:
            return f"{hours} h {minutes} min"
        return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"

    @property
    def started_by(self) -> str:
        """Who started it: the portal user, or the OS user of a command-line restore."""
        if self.created_by is not None:
            return self.created_by.get_username()
        return self.started_by_name or "unknown"

    @property
    def percent(self) -> int:
        values = list(self.node_progress.values())
        if self.status == self.Status.SUCCEEDED:
            return 100
        return round(sum(values) / len(values)) if values else 0

    @property
    def node_rows(self) -> list[NodeRow]:
        """Every node's figures; from the percent alone for rows written before them."""
        details = (self.progress or {}).get("nodes") or {}
        if details:
            return [NodeRow(name, NodeProgress.from_json(data)) for name, data in details.items()]
        done = self.status == self.Status.SUCCEEDED
        return [
            NodeRow(
                name,
                NodeProgress(
                    phase=NodePhase.READY if done else NodePhase.WAITING,
                    percent=100 if done else percent,
                ),
            )
            for name, percent in self.node_progress.items()
        ]

    @property
    def seconds_left(self) -> float | None:
        """The whole group's time left while it runs; None when unknown or over."""
        if self.status != self.Status.RUNNING:
            return None
        return (self.progress or {}).get("seconds_left")

    @property
    def coarse(self) -> bool:
        """The cloud reports only its own state (Azure): no figures per node."""
        return bool((self.progress or {}).get("coarse"))

    @property
    def percent_step(self) -> int:
        """The percent rounded down to a tenth, for the CSS bar (no inline styles)."""
        return self.percent // 10 * 10


class PostRestoreMark(models.Model):
    """A DBA's word that a post-restore task is done, where the portal cannot check it
    (clients redirected, alerts configured, a firewall with nothing to copy).

    Keyed by backend and group id; a new restore into the same name clears the marks.
    """

    class Task(models.TextChoices):
        ENDPOINT = "endpoint", "Redirect clients and applications"
        FIREWALL = "firewall", "Firewall rules"
        LOGINS = "logins", "Logins and permissions"
        ALERTS = "alerts", "Alerts"
        MANUAL = "manual", "What a restore does not carry over"

    backend = models.CharField(max_length=40)
    group_id = models.CharField(max_length=500)
    task = models.CharField(max_length=20, choices=Task.choices)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    marked_by_name = models.CharField(max_length=150)
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["backend", "group_id", "task"], name="one_mark_per_group_task"
            )
        ]

    def __str__(self) -> str:
        return f"{self.backend}/{self.group_id} {self.task} marked by {self.marked_by_name}"
