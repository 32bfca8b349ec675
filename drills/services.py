"""Restore drills as the portal runs them: start, run, recover, schedule.

A drill restores a group into a scratch group ``<group>-drill-<n>`` (a name the wizard
refuses to DBAs), checks every node, records the evidence on its ``Drill`` row and
removes the scratch group. The clean-up runs in a ``finally``: a failed check or an
error still removes the scratch group. When the process running a drill dies, its
heartbeat stops; ``drills_recover`` (the scheduler loop runs it) removes what the
drill left and fails it.

Drills never run on the task queue real restores use: the scheduler runs them in
threads of its own, and it starts none while a real restore is queued, so a drill
never delays a DBA's restore.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from portal.backends import BackendError, get_backend
from portal.backends.base import Backend, Progress, RestorePhase, RestoreRequest, ServerGroup
from portal.instants import utc_text
from portal.models import ActivityEvent, Notification
from portal.services import activity_record, may_restore, notification_create
from restore_wizard.models import RestoreOperation
from restore_wizard.services.checks import DRILL_SUFFIX, RestoreRefused
from restore_wizard.services.operations import restore_operation_cancel, restore_operation_record
from restore_wizard.services.outcomes import restore_operation_fail
from restore_wizard.services.runner import restore_operation_run

from . import checks
from .models import Drill, DrillPlan

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
STALE_AFTER = timedelta(seconds=30)
Status = Drill.Status


class DrillCancelled(Exception):
    """An operator cancelled the drill; it stops, removes its scratch group and ends."""


class DrillRefused(Exception):
    """A drill the portal will not start now; the message says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def scratch_name_for(group_name: str, drill_id: int) -> str:
    """``<group>-drill-<n>``, the group's part shortened to fit a 40-character name."""
    suffix = f"{DRILL_SUFFIX}{drill_id}"
    return group_name[: 40 - len(suffix)].rstrip("-") + suffix


def plan_for(backend_key: str, group_name: str) -> DrillPlan:
    plan = DrillPlan.objects.filter(backend=backend_key, group_name=group_name).first()
    return plan or DrillPlan(backend=backend_key, group_name=group_name)


def drill_blocker(backend: Backend, group: ServerGroup) -> str | None:
    """Why ``group`` cannot be drilled now, or None."""
    if DRILL_SUFFIX in group.name and group.restored_from:
        return f"{group.name} is itself a drill's scratch group."
    blocker = backend.restore_blocker(group)
    if blocker:
        return blocker
    if not backend.can_delete_scratch:
        return (
            f"Drills need to delete their scratch server group afterwards, and the "
            f"{backend.label} backend cannot delete server groups from this portal: a "
            "drill would leave a server behind."
        )
    if backend.restores_cost_money and not plan_for(backend.key, group.name).cloud_cost_accepted:
        return (
            f"Drills of {backend.label} server groups are off: each drill creates a real "
            "server that is billed while it exists. An operator can turn them on for this "
            "group on its Drills page."
        )
    return None


def drill_start(
    *,
    backend_key: str,
    group_name: str,
    point_choice: str = Drill.Point.LATEST,
    trigger: str,
    user=None,
) -> Drill:
    """Queue one drill of the group; ``DrillRefused`` says why not."""
    if point_choice not in Drill.Point.values:
        raise DrillRefused(
            f"'{point_choice}' is not a drill point: choose latest, random or earliest."
        )
    try:
        backend = get_backend(backend_key)
        group = backend.find_server_group(group_name)
    except BackendError as error:
        raise DrillRefused(error.message) from error
    blocker = drill_blocker(backend, group)
    if blocker:
        raise DrillRefused(blocker)
    try:
        with transaction.atomic():
            drill = Drill.objects.create(
                backend=backend.key,
                group_name=group.name,
                source_id=group.id,
                point_choice=point_choice,
                trigger=trigger,
                started_by=user,
                started_by_name=user.get_username() if user else trigger,
            )
            drill.scratch_name = scratch_name_for(group.name, drill.pk)
            drill.save(update_fields=["scratch_name"])
    except IntegrityError:
        raise DrillRefused(
            f"A drill of {group.name} is already queued or running; one at a time per group."
        ) from None
    return drill


def drills_running() -> int:
    return Drill.objects.filter(status=Status.RUNNING).count()


def drill_claim(drill_id: int) -> bool:
    """Queued to running, for exactly one caller, and only while fewer than
    ``PORTAL_DRILLS_MAX_RUNNING`` drills run in the whole portal.

    The count and the update are one transaction that first locks every queued and
    running drill (in id order, so two claims never deadlock): two schedulers claiming
    two different drills both lock both rows, so the second waits for the first to
    commit and then counts its drill as running. (SQLite's immediate transactions
    already serialise writers; on PostgreSQL the row locks do.)
    """
    now = timezone.now()
    with transaction.atomic():
        list(
            Drill.objects.select_for_update()
            .filter(status__in=Drill.ACTIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if drills_running() >= settings.PORTAL_DRILLS_MAX_RUNNING:
            return False
        return bool(
            Drill.objects.filter(pk=drill_id, status=Status.QUEUED).update(
                status=Status.RUNNING,
                started_at=now,
                heartbeat_at=now,
                attempts=F("attempts") + 1,
            )
        )


class Heartbeat:
    """Keeps the drill's row alive while it runs, so recovery leaves it alone."""

    def __init__(self, drill_id: int):
        self.drill_id = drill_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_SECONDS):
                Drill.objects.filter(pk=self.drill_id, status=Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connection.close()

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


class Evidence:
    """What a running drill has learned so far, written to its row as it goes."""

    def __init__(self, drill: Drill):
        self.drill = drill
        self.phases: list[dict] = []
        self.checks: list[dict] = []
        self.phase_started = time.monotonic()
        self.phase_name = ""

    def phase(self, name: str) -> None:
        self.end_phase()
        self.phase_name, self.phase_started = name, time.monotonic()
        Drill.objects.filter(pk=self.drill.pk).update(
            phase=name, phases=self.phases, heartbeat_at=timezone.now()
        )

    def end_phase(self) -> None:
        if self.phase_name:
            seconds = round(time.monotonic() - self.phase_started, 3)
            self.phases.append({"name": self.phase_name, "seconds": seconds})
            self.phase_name = ""

    def check(self, node: str, name: str, passed: bool, detail: str) -> None:
        self.checks.append({"node": node, "check": name, "passed": passed, "detail": detail})


def choose_point(backend: Backend, drill: Drill) -> datetime:
    window = backend.restore_window(drill.source_id)
    if drill.point_choice == Drill.Point.EARLIEST:
        return window.earliest
    if drill.point_choice == Drill.Point.RANDOM:
        span = (window.latest - window.earliest).total_seconds()
        return window.earliest + timedelta(seconds=random.uniform(0, max(span, 0)))  # noqa: S311
    return window.latest


def cancel_asked(drill: Drill) -> None:
    """Raise ``DrillCancelled`` once an operator has asked to cancel the drill."""
    asked = Drill.objects.filter(pk=drill.pk, cancel_requested_at__isnull=False).exists()
    if asked:
        raise DrillCancelled()


def restore_scratch(backend: Backend, drill: Drill, evidence: Evidence) -> None:
    """Restore the source into the scratch group at ``drill.point``.

    The drill's restore is a ``RestoreOperation`` run as any restore is (its progress on
    the operation's page, its cancel), in this thread rather than on the task worker, so
    it never takes a worker from a DBA's restore. The engine's phases are mirrored onto
    the drill's row. Raises ``DrillCancelled`` or ``BackendError`` when it did not end
    Ready. The token is on the drill's row before anything else: the clean-up needs it.
    """

    def progress(report: Progress) -> None:
        name = f"restore: {report.phase}"
        if name != evidence.phase_name and report.phase != RestorePhase.READY:
            evidence.phase(name)

    source = backend.get_server_group(drill.source_id)
    token = backend.begin_restore(
        RestoreRequest(
            source_id=drill.source_id,
            target_name=drill.scratch_name,
            point_in_time=drill.point,
        )
    )
    Drill.objects.filter(pk=drill.pk).update(token=token)
    drill.token = token
    operation = restore_operation_record(
        backend=backend,
        group=source,
        choice=RestoreOperation.Choice.CUSTOM,
        point=drill.point,
        target_name=drill.scratch_name,
        token=token,
        started_by_name=f"restore drill {drill.pk}",
        origin=RestoreOperation.Origin.DRILL,
    )
    Drill.objects.filter(pk=drill.pk).update(operation=operation)
    drill.operation = operation
    if Drill.objects.filter(pk=drill.pk, cancel_requested_at__isnull=False).exists():
        operation_cancel_quietly(operation.pk)
    restore_operation_run(operation_id=operation.pk, echo=progress)
    operation.refresh_from_db()
    if operation.status == RestoreOperation.Status.CANCELLED:
        raise DrillCancelled()
    if operation.status != RestoreOperation.Status.SUCCEEDED:
        raise BackendError(operation.message or "The drill's restore did not reach Ready.")


def operation_cancel_quietly(operation_id: int, user=None, actor_name: str = "") -> str:
    """Cancel the drill's restore; what stands in the way, or ""."""
    try:
        restore_operation_cancel(operation_id=operation_id, user=user, actor_name=actor_name)
    except RestoreRefused as refused:
        return refused.message
    return ""


def drill_run(*, drill_id: int) -> Drill:
    """Run a queued drill to its end (claiming it first); returns the finished row.

    1. choose T; 2. restore into the scratch group (time to Ready measured);
    3. check every node; 4. remove the scratch group, always; 5. record and notify.
    The heartbeat runs through the clean-up too: a cloud's delete can take minutes, and
    a drill still cleaning up must not look dead to another scheduler.
    """
    if not drill_claim(drill_id):
        return Drill.objects.get(pk=drill_id)
    drill = Drill.objects.get(pk=drill_id)
    evidence = Evidence(drill)
    with Heartbeat(drill_id):
        backend, failure, cancelled = drill_steps(drill, evidence)
        evidence.phase("clean-up")
        cleanup, cleaned = scratch_remove(backend, drill)
        evidence.end_phase()
    bad = [check for check in evidence.checks if check["passed"] is False]
    if not failure and bad:
        first = bad[0]
        failure = f"Check failed on {first['node']}: {first['check']}: {first['detail']}"
        if len(bad) > 1:
            failure += f" (and {len(bad) - 1} more failed checks)"
    if cancelled:
        drill_cancelled(drill, evidence=evidence, cleanup=cleanup, cleaned=cleaned)
        return Drill.objects.get(pk=drill_id)
    if not cleaned and not failure:
        failure = f"The scratch group was not removed: {cleanup}"
    drill_finish(
        drill,
        evidence=evidence,
        failure=failure,
        cleanup=cleanup,
        cleaned=cleaned,
        note="" if failure else unchecked_note(evidence.checks),
    )
    return Drill.objects.get(pk=drill_id)


def drill_steps(drill: Drill, evidence: Evidence) -> tuple[Backend | None, str, bool]:
    """Steps 1 to 3 of ``drill_run``; (the backend, why the drill failed, cancelled)."""
    backend = None
    try:
        backend = get_backend(drill.backend)
        evidence.phase("choose the point")
        drill.point = choose_point(backend, drill)
        Drill.objects.filter(pk=drill.pk).update(point=drill.point)
        cancel_asked(drill)
        evidence.phase("restore")
        began = time.monotonic()
        restore_scratch(backend, drill, evidence)
        rto = round(time.monotonic() - began, 3)
        Drill.objects.filter(pk=drill.pk).update(rto_seconds=rto, ready_at=timezone.now())
        cancel_asked(drill)
        evidence.phase("checks")
        plan = plan_for(drill.backend, drill.group_name)
        found = checks.run_all(backend, drill, evidence, plan)
        Drill.objects.filter(pk=drill.pk).update(
            nodes=found.nodes, row_counts=found.row_counts, checks=evidence.checks
        )
    except DrillCancelled:
        return backend, "", True
    except BackendError as error:
        return backend, error.message, False
    except Exception as error:
        logger.exception("drill %s failed unexpectedly", drill.pk)
        return backend, f"The drill stopped on an unexpected error: {error}", False
    return backend, "", False


def drill_cancel(*, drill_id: int, user) -> str:
    """Cancel a drill at whatever phase it is; what the operator is told.

    A queued drill ends here. A running one is marked, and its restore is cancelled as
    any restore is (``restore_operation_cancel``); the drill's runner then skips what is
    left, removes the scratch group and ends the drill Cancelled. A cloud that cannot
    stop a restore runs it to its end; the drill then removes the server at once.
    """
    now, who = timezone.now(), user.get_username()
    rows = Drill.objects.filter(pk=drill_id)
    message = f"Cancelled by {who} at {utc_text(now)}."
    if rows.filter(status=Status.QUEUED).update(
        status=Status.CANCELLED,
        cancel_requested_at=now,
        cancelled_by_name=who,
        finished_at=now,
        phase="Cancelled",
        message=f"{message} It had not started.",
        cleanup="Nothing was created.",
        cleaned_up=True,
    ):
        drill_cancel_record(rows.get(), user=user)
        return f"Drill {drill_id} is cancelled; it had not started."
    if not rows.filter(status=Status.RUNNING, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now, cancelled_by_name=who
    ):
        drill = rows.get()
        if drill.is_active:
            raise DrillRefused(f"A cancel of drill {drill_id} was already asked for.")
        raise DrillRefused(
            f"Drill {drill_id} has already ended ({drill.get_status_display().lower()}); "
            "there is nothing to cancel."
        )
    drill = rows.get()
    said = f"Drill {drill_id} is being cancelled; it removes its scratch group and stops."
    operation = drill.operation
    if operation is not None and operation.is_active:
        refused = operation_cancel_quietly(operation.pk, user=user)
        if refused:
            said += f" {refused} The drill removes the scratch group as soon as it is Ready."
    return said


def drill_cancelled(drill: Drill, *, evidence: Evidence, cleanup: str, cleaned: bool) -> None:
    asked = Drill.objects.filter(pk=drill.pk).values("cancelled_by_name", "cancel_requested_at")[0]
    message = f"Cancelled by {asked['cancelled_by_name'] or 'an operator'} at "
    message += f"{utc_text(asked['cancel_requested_at'] or timezone.now())}."
    if not cleaned:
        message += f" The scratch group was not removed: {cleanup}"
    updated = Drill.objects.filter(pk=drill.pk, status=Status.RUNNING).update(
        status=Status.CANCELLED,
        message=message,
        cleanup=cleanup,
        cleaned_up=cleaned,
        finished_at=timezone.now(),
        phase="Cancelled",
        phases=evidence.phases,
        checks=evidence.checks,
    )
    if updated:
        drill.refresh_from_db()
        drill_cancel_record(drill, user=None)


def drill_cancel_record(drill: Drill, *, user) -> None:
    event = activity_record(
        actor=user,
        action="cancel restore drill",
        result=ActivityEvent.Result.SUCCEEDED,
        backend=drill.backend,
        target=drill.group_name,
        message=f"{drill.message} {drill.cleanup}".strip(),
        detail={"drill": drill.pk, "scratch": drill.scratch_name},
    )
    if user is None and drill.cancelled_by_name:
        ActivityEvent.objects.filter(pk=event.pk).update(actor_name=drill.cancelled_by_name)


def unchecked_note(results: list[dict]) -> str:
    """What a drill says when the portal could not run its checks (a cloud server it
    cannot reach): the restore alone was proven, so it ends "Restored, not checked"."""
    if not results or any(check["passed"] is not None for check in results):
        return ""
    return (
        "The restore reached Ready and the scratch group was removed, but no check ran: "
        f"{results[0]['detail']}"
    )


def scratch_remove(backend: Backend | None, drill: Drill) -> tuple[str, bool]:
    """Remove the scratch group whatever state it is in; (what happened, whether gone).

    Only a drill that began its restore (it has the backend's token) made a scratch
    group: without one, a group of that name is not the drill's, and stays."""
    if backend is None or not drill.scratch_name or not drill.token:
        return "Nothing was created.", True
    try:
        said = backend.delete_scratch_group(drill.source_id, drill.scratch_name, drill.token)
    except BackendError as error:
        return f"Removing the scratch group {drill.scratch_name} failed: {error.message}", False
    return said or "Nothing was left to clean up.", True


def drill_finish(
    drill: Drill,
    *,
    evidence: Evidence | None,
    failure: str,
    cleanup: str,
    cleaned: bool,
    note: str = "",
) -> None:
    status = Status.FAILED if failure else Status.UNCHECKED if note else Status.PASSED
    fields = {
        "status": status,
        "message": failure or note,
        "cleanup": cleanup,
        "cleaned_up": cleaned,
        "finished_at": timezone.now(),
        "phase": Status(status).label,
    }
    if evidence is not None:
        fields.update(phases=evidence.phases, checks=evidence.checks)
    if not Drill.objects.filter(pk=drill.pk, status=Status.RUNNING).update(**fields):
        return
    drill.refresh_from_db()
    detail = {
        "drill": drill.pk,
        "scratch": drill.scratch_name,
        "point": utc_text(drill.point) if drill.point else "",
        "time_to_ready_s": drill.rto_seconds,
    }
    activity_record(
        actor=drill.started_by,
        action="restore drill",
        result=ActivityEvent.Result.FAILED if failure else ActivityEvent.Result.SUCCEEDED,
        backend=drill.backend,
        target=drill.group_name,
        message=drill.message,
        detail=detail,
    )
    if failure:
        operators_notify(drill)


def operators_notify(drill: Drill) -> None:
    """A failed drill reaches every operator's bell (and whoever started it)."""
    users = get_user_model().objects.filter(is_active=True)
    operators = users.filter(Q(is_superuser=True) | Q(groups__name="Restore operators")).distinct()
    link = reverse("drill_group", args=[drill.backend, drill.group_name])
    for user in operators:
        if may_restore(user):
            notification_create(
                user=user,
                level=Notification.Level.ERROR,
                title=f"Restore drill of {drill.group_name} failed",
                body=drill.message,
                link=link,
                link_text="See the drill",
            )


def drills_recover(*, now: datetime | None = None) -> list[int]:
    """Finish drills whose process died: remove their scratch group, fail them."""
    now = now or timezone.now()
    finished = []
    stale = Drill.objects.filter(status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    for drill in stale:
        try:
            backend = get_backend(drill.backend)
        except BackendError:
            backend = None
        cleanup, cleaned = scratch_remove(backend, drill)
        if drill.operation_id is not None:
            # The restore watchdog leaves a drill's restore to the drill scheduler.
            restore_operation_fail(
                operation=RestoreOperation.objects.get(pk=drill.operation_id),
                message="The process running this restore drill stopped; the drill "
                "scheduler removed the scratch group.",
                cleanup=cleanup,
            )
        drill_finish(
            drill,
            evidence=None,
            failure="The process running this drill stopped before the drill ended; "
            "the scheduler removed what it left.",
            cleanup=cleanup,
            cleaned=cleaned,
        )
        finished.append(drill.pk)
    return finished


CLEANUP_RETRY = timedelta(minutes=1)


def drills_cleanup_retry(*, now: datetime | None = None) -> list[int]:
    """Try again, at most once a minute, to remove the scratch group of every ended
    drill whose clean-up failed (a cloud that refused the delete for a while): a scratch
    server, billed while it exists, must not stay behind. Each retry is claimed with a
    conditional update, so two schedulers never retry one drill at once."""
    now = now or timezone.now()
    due = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - CLEANUP_RETRY)
    pending = (
        Drill.objects.filter(due, cleaned_up=False)
        .exclude(status__in=Drill.ACTIVE)
        .exclude(token="")
    )
    removed = []
    for drill in pending:
        claimed = Drill.objects.filter(
            pk=drill.pk, cleaned_up=False, heartbeat_at=drill.heartbeat_at
        ).update(heartbeat_at=now)
        if not claimed:
            continue
        try:
            backend = get_backend(drill.backend)
        except BackendError:
            continue
        cleanup, cleaned = scratch_remove(backend, drill)
        Drill.objects.filter(pk=drill.pk).update(
            cleanup=f"{cleanup} (tried again at {utc_text(now)}; the first attempt failed)",
            cleaned_up=cleaned,
        )
        if cleaned:
            removed.append(drill.pk)
    return removed


# Schedules --------------------------------------------------------------------------


def next_run(plan: DrillPlan, after: datetime) -> datetime | None:
    """The first scheduled moment strictly after ``after`` (UTC), or None when off."""
    if plan.frequency == DrillPlan.Frequency.OFF or plan.time_utc is None:
        return None
    moment = datetime.combine(after.astimezone(UTC).date(), plan.time_utc, tzinfo=UTC)
    step = timedelta(days=1)
    while moment <= after or (
        plan.frequency == DrillPlan.Frequency.WEEKLY and moment.weekday() != plan.weekday
    ):
        moment += step
    return moment


def plan_save(
    *,
    backend_key: str,
    group_name: str,
    frequency: str,
    time_utc,
    weekday: int,
    point_choice: str,
    assertions: str,
    cloud_cost_accepted: bool,
    user,
) -> DrillPlan:
    plan = plan_for(backend_key, group_name)
    plan.frequency = frequency
    plan.time_utc = time_utc
    plan.weekday = weekday
    plan.point_choice = point_choice
    plan.assertions = assertions
    plan.cloud_cost_accepted = cloud_cost_accepted
    plan.updated_by_name = user.get_username()
    plan.next_run_at = next_run(plan, timezone.now())
    plan.save()
    activity_record(
        actor=user,
        action="set drill schedule",
        result=ActivityEvent.Result.SUCCEEDED,
        backend=backend_key,
        target=group_name,
        detail={
            "frequency": frequency,
            "time_utc": time_utc.strftime("%H:%M") if time_utc else "",
            "next": utc_text(plan.next_run_at) if plan.next_run_at else "",
        },
    )
    return plan


def drills_schedule_due(*, now: datetime | None = None) -> list[int]:
    """Queue a drill for every plan that is due; each plan's due moment is claimed with
    a conditional update, so two schedulers never queue the same drill."""
    now = now or timezone.now()
    queued = []
    for plan in DrillPlan.objects.filter(next_run_at__lte=now).exclude(frequency="off"):
        following = next_run(plan, now)
        claimed = DrillPlan.objects.filter(pk=plan.pk, next_run_at=plan.next_run_at).update(
            next_run_at=following
        )
        if not claimed:
            continue
        try:
            drill = drill_start(
                backend_key=plan.backend,
                group_name=plan.group_name,
                point_choice=plan.point_choice,
                trigger=Drill.Trigger.SCHEDULE,
            )
        except DrillRefused as refused:
            logger.warning("scheduled drill of %s not started: %s", plan.group_name, refused)
            activity_record(
                actor=None,
                action="restore drill",
                result=ActivityEvent.Result.REFUSED,
                backend=plan.backend,
                target=plan.group_name,
                message=refused.message,
            )
            continue
        queued.append(drill.pk)
    return queued


def real_restores_waiting() -> bool:
    """A DBA's restore is queued (a drill's own restore does not count)."""
    drills_own = Drill.objects.filter(operation__isnull=False).values("operation")
    return (
        RestoreOperation.objects.filter(status=RestoreOperation.Status.QUEUED)
        .exclude(pk__in=drills_own)
        .exists()
    )


def drill_next_runnable() -> int | None:
    """The oldest queued drill that may start now, or None (none queued, a real restore
    waiting, or the portal's limit reached). ``drill_run`` claims it, the limit checked
    again in the claim: of two schedulers picking drills at once, the limit holds."""
    if real_restores_waiting():
        return None
    if drills_running() >= settings.PORTAL_DRILLS_MAX_RUNNING:
        return None
    drill = Drill.objects.filter(status=Status.QUEUED).order_by("created_at", "pk").first()
    return drill.pk if drill else None
