"""Reads for the drill pages and exports: a group's drills, the fleet, the chart."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from portal.backends import BackendError, get_backends

from .models import Drill, DrillPlan

CHART_DRILLS = 30
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 600, 160, 24


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    passed: bool
    label: str
    unchecked: bool = False


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    top_seconds: float
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    baseline: int = CHART_HEIGHT - CHART_PAD


def rto_chart(drills: list[Drill]) -> Chart | None:
    """Time to Ready of the last 30 drills that reached Ready (a cancelled drill proves
    nothing either way), oldest on the left, as SVG geometry (attributes, not styles:
    the CSP allows no inline style)."""
    measured = [
        drill
        for drill in drills
        if drill.rto_seconds is not None and drill.status != Drill.Status.CANCELLED
    ][:CHART_DRILLS]
    if not measured:
        return None
    measured.reverse()
    top = max(drill.rto_seconds for drill in measured) or 1.0
    usable = CHART_HEIGHT - 2 * CHART_PAD
    slot = (CHART_WIDTH - 2 * CHART_PAD) // CHART_DRILLS
    bars = []
    for index, drill in enumerate(measured):
        height = max(1, round(drill.rto_seconds / top * usable))
        bars.append(
            Bar(
                x=CHART_PAD + index * slot + 2,
                y=CHART_HEIGHT - CHART_PAD - height,
                width=max(1, slot - 4),
                height=height,
                passed=drill.status == Drill.Status.PASSED,
                unchecked=drill.status == Drill.Status.UNCHECKED,
                label=f"Drill {drill.pk}: {drill.rto_seconds:.2f} s to Ready, "
                f"{drill.get_status_display().lower()}",
            )
        )
    return Chart(bars=tuple(bars), top_seconds=round(top, 2))


def group_drills(backend_key: str, group_name: str, limit: int = 50) -> list[Drill]:
    return list(Drill.objects.filter(backend=backend_key, group_name=group_name)[:limit])


@dataclass(frozen=True)
class FleetRow:
    backend: str
    group_name: str
    last_passed: Drill | None
    last: Drill | None
    plan: DrillPlan | None
    state: str  # "never drilled", "overdue", "ok"
    # A later drill that restored but whose checks could not run: said apart, never
    # counted as a passed drill (it proves the restore, not the data).
    last_unchecked: Drill | None = None


SCHEDULE_PERIODS = {
    DrillPlan.Frequency.DAILY: timedelta(days=1),
    DrillPlan.Frequency.WEEKLY: timedelta(days=7),
}


def overdue_after(plan: DrillPlan | None) -> timedelta:
    """How old a group's last passed drill may be before the group is overdue: its
    schedule's period plus the grace (a drill that ran a little late, or took a while,
    is not overdue), or ``PORTAL_DRILL_OVERDUE_DAYS`` for a group without a schedule."""
    period = SCHEDULE_PERIODS.get(plan.frequency) if plan is not None else None
    if period is None:
        return timedelta(days=settings.PORTAL_DRILL_OVERDUE_DAYS)
    return period + timedelta(hours=settings.PORTAL_DRILL_OVERDUE_GRACE_HOURS)


def fleet(now: datetime | None = None) -> tuple[list[FleetRow], list[str]]:
    """Every group of every backend (scratch groups left out) with its drill state."""
    now = now or timezone.now()
    errors: list[str] = []
    groups = []
    for key, backend in get_backends().items():
        try:
            groups += [(key, group) for group in backend.list_server_groups()]
        except BackendError as error:
            errors.append(f"{backend.label}: {error.message}")
    plans = {(plan.backend, plan.group_name): plan for plan in DrillPlan.objects.all()}
    rows = []
    for key, group in groups:
        if "-drill-" in group.name and group.restored_from:
            continue
        drills = Drill.objects.filter(backend=key, group_name=group.name)
        last_passed = drills.filter(status=Drill.Status.PASSED).first()
        unchecked = drills.filter(status=Drill.Status.UNCHECKED)
        if last_passed is not None:
            unchecked = unchecked.filter(finished_at__gt=last_passed.finished_at)
        plan = plans.get((key, group.name))
        if last_passed is None:
            state = "never drilled"
        elif now - last_passed.finished_at > overdue_after(plan):
            state = "overdue"
        else:
            state = "ok"
        rows.append(
            FleetRow(key, group.name, last_passed, drills.first(), plan, state, unchecked.first())
        )
    return rows, errors


EXPORT_FIELDS = (
    "id", "backend", "group", "scratch_group", "status", "started_by", "trigger", "point_choice",
    "point_utc", "created_utc", "started_utc", "ready_utc", "finished_utc", "time_to_ready_s",
    "phases", "nodes", "checks", "row_counts", "message", "cleanup", "cleaned_up",
    "restore_operation", "cancelled_by",
)  # fmt: skip


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def drill_record(drill: Drill) -> dict:
    """One drill as an auditor reads it: the JSON export's item and the CSV's row."""
    return {
        "id": drill.pk,
        "backend": drill.backend,
        "group": drill.group_name,
        "scratch_group": drill.scratch_name,
        "status": drill.status,
        "started_by": drill.started_by_name,
        "trigger": drill.trigger,
        "point_choice": drill.point_choice,
        "point_utc": iso(drill.point),
        "created_utc": iso(drill.created_at),
        "started_utc": iso(drill.started_at),
        "ready_utc": iso(drill.ready_at),
        "finished_utc": iso(drill.finished_at),
        "time_to_ready_s": drill.rto_seconds,
        "phases": drill.phases,
        "nodes": drill.nodes,
        "checks": drill.checks,
        "row_counts": drill.row_counts,
        "message": drill.message,
        "cleanup": drill.cleanup,
        "cleaned_up": drill.cleaned_up,
        "restore_operation": drill.operation_id,
        "cancelled_by": drill.cancelled_by_name,
    }


def export_csv(drills) -> str:
    """One row per drill; the nested evidence (phases, nodes, checks) as compact text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)
    for drill in drills:
        record = drill_record(drill)
        record["phases"] = "; ".join(f"{p['name']} {p['seconds']} s" for p in drill.phases)
        record["nodes"] = "; ".join(
            f"{node}: backup {info.get('backup', '?')}, {info.get('bytes_restored', '?')} bytes, "
            f"WAL {info.get('wal_bytes', '?')} bytes"
            for node, info in drill.nodes.items()
        )
        record["checks"] = "; ".join(
            f"{c['node']} {c['check']}: "
            f"{'passed' if c['passed'] else 'not run' if c['passed'] is None else 'FAILED'}"
            for c in drill.checks
        )
        record["row_counts"] = "; ".join(
            f"{node} {table}={rows}"
            for node, tables in drill.row_counts.items()
            for table, rows in tables.items()
        )
        writer.writerow([record[name] for name in EXPORT_FIELDS])
    return out.getvalue()
