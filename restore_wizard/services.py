"""Restores as the portal runs them: start (web request), run (task worker), recover.

The web request only validates, writes one ``RestoreOperation`` row and enqueues the
task in the same transaction. The worker does the work through the backend, writing
progress to the row; a watchdog hands restores whose worker died back to a worker.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django_tasks_db import DatabaseBackend

from portal.backends import BackendError, get_backend
from portal.backends.base import (
    Backend,
    Progress,
    ProgressCallback,
    RestoreRequest,
    RestoreWindow,
    ServerGroup,
)
from portal.instants import utc_text
from portal.models import ActivityEvent, Notification
from portal.services import activity_record, notification_create

from .models import PostRestoreMark, RestoreOperation

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
CANCEL_CHECK_SECONDS = 1.0  # how soon a running restore sees a cancel asked elsewhere
STALE_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 3
NOTHING_LEFT = "Nothing was left to clean up."

Status = RestoreOperation.Status
# The choices whose point is chosen in the wizard (a custom point, a full backup's end).
WITH_POINT = (RestoreOperation.Choice.CUSTOM, RestoreOperation.Choice.FAST)
POINT_WORDS = {
    RestoreOperation.Choice.EARLIEST: "earliest restore point",
    RestoreOperation.Choice.LATEST: "latest restore point",
    RestoreOperation.Choice.GEO: "latest restore point, in the paired region",
}


class RestoreRefused(Exception):
    """A restore request the portal will not start; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def fmt(moment: datetime) -> str:
    return utc_text(moment)


def restore_point_problem(point: datetime, window: RestoreWindow, now: datetime) -> str | None:
    """Why ``point`` cannot be restored to, or None: the window's exact bounds, both
    inclusive, to the microsecond (an earliest point with a fraction of a second is
    itself restorable; the whole second before it is not)."""
    if point > now:
        return f"The restore point {fmt(point)} is in the future; it is now {fmt(now)}."
    if point < window.earliest:
        return (
            f"The restore point {fmt(point)} is before the earliest restore point, "
            f"{fmt(window.earliest)}."
        )
    if point > window.latest:
        return (
            f"The restore point {fmt(point)} is after the latest restorable time, "
            f"{fmt(window.latest)}."
        )
    return None


# Restore drills name their scratch groups ``<group>-drill-<n>``; nobody else may.
DRILL_SUFFIX = "-drill-"
DRILL_NAME = re.compile(r".+-drill-[0-9]+")


def restore_target_problem(
    backend: Backend, group: ServerGroup, target_name: str, *, location: str = ""
) -> str | None:
    """Why ``target_name`` cannot be used for a restore of ``group`` (into ``location``,
    by default the source's), or None."""
    if DRILL_NAME.fullmatch(target_name):
        return (
            f"Names ending in '-drill-' and a number, like '{target_name}', are reserved "
            "for restore drills' scratch groups. Choose another name."
        )
    if target_name == group.name:
        return (
            f"'{target_name}' is the source server group's own name. "
            "A restore always creates a new server group: choose another name."
        )
    in_flight = RestoreOperation.objects.filter(
        backend=backend.key, target_name=target_name, status__in=RestoreOperation.ACTIVE
    ).first()
    if in_flight is not None:
        return (
            f"A restore to '{target_name}' is already running "
            f"(started by {in_flight.started_by}). Choose another name."
        )
    return backend.name_available_in(target_name, location or group.location)


def restore_operation_start(
    *,
    user,
    backend: Backend,
    group: ServerGroup,
    choice: str,
    point: datetime | None,
    target_name: str,
    idempotency_key: uuid.UUID,
) -> tuple[RestoreOperation, bool]:
    """Record one restore and enqueue it; returns (operation, created).

    The same idempotency key from the same user always answers with the operation it
    first made, so a double click or a resubmitted form starts nothing more. Keys are
    per user: another user's identical key starts that user's own operation.
    """
    from .tasks import run_restore

    mine = RestoreOperation.objects.filter(created_by=user)
    existing = mine.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            operation = RestoreOperation.objects.create(
                idempotency_key=idempotency_key,
                backend=backend.key,
                source_id=group.id,
                source_name=group.name,
                target_name=target_name,
                choice=choice,
                requested_point=point if choice in WITH_POINT else None,
                subscription=group.subscription,
                resource_group=group.resource_group,
                location=group.paired_location
                if choice == RestoreOperation.Choice.GEO
                else group.location,
                created_by=user,
            )
            notification_create(
                user=user,
                title="The restore operation has been initiated",
                body=f"Restoring {group.name} to a new server group, {target_name}.",
                link=reverse("operation_detail", args=[operation.pk]),
                link_text="Follow the restore",
            )
            activity_record(
                actor=user,
                action="restore",
                result=ActivityEvent.Result.STARTED,
                backend=backend.key,
                target=target_name,
                detail=operation_detail(operation),
            )
            operation_id = operation.pk
            if isinstance(run_restore.get_backend(), DatabaseBackend):
                # The task row is written by this transaction too: the operation and
                # its task exist together or not at all.
                run_restore.enqueue(operation_id)
            else:
                transaction.on_commit(lambda: run_restore.enqueue(operation_id))
    except IntegrityError:
        again = mine.filter(idempotency_key=idempotency_key).first()
        if again is not None:
            return again, False
        raise RestoreRefused(
            f"A restore to '{target_name}' was started a moment ago by someone else. "
            "Choose another name.",
            field="target_name",
        ) from None
    return operation, True


def operation_detail(operation: RestoreOperation) -> dict:
    point = operation.restored_point or operation.requested_point
    return {
        "source": operation.source_name,
        "point": fmt(point) if point else POINT_WORDS.get(operation.choice, "restore point"),
        "target": operation.target_name,
        "operation": operation.pk,
    }


def restore_operation_record(
    *,
    backend: Backend,
    group: ServerGroup,
    choice: str,
    point: datetime | None,
    target_name: str,
    token: str,
    user=None,
    started_by_name: str = "",
) -> RestoreOperation:
    """Record a restore begun outside the portal (the command line), like one from OK.

    ``token`` is the backend's, from ``begin_restore``: the name is reserved and the
    point checked. The caller runs it (``restore_operation_run``); the row makes it
    visible in Restore operations, the operators' bell and the Activity log.
    """
    with transaction.atomic():
        operation = RestoreOperation.objects.create(
            backend=backend.key,
            source_id=group.id,
            source_name=group.name,
            target_name=target_name,
            choice=choice,
            requested_point=point if choice in WITH_POINT else None,
            subscription=group.subscription,
            resource_group=group.resource_group,
            location=group.location,
            created_by=user,
            started_by_name=started_by_name,
            origin=RestoreOperation.Origin.CLI,
            token=token,
        )
        if user is not None:
            notification_create(
                user=user,
                title="The restore operation has been initiated",
                body=f"Restoring {group.name} to a new server group, {target_name}.",
                link=reverse("operation_detail", args=[operation.pk]),
                link_text="Follow the restore",
            )
        operation_activity(operation, result=ActivityEvent.Result.STARTED)
    return operation


def operation_activity(
    operation: RestoreOperation, *, result: str, message: str = "", action: str = "restore"
) -> None:
    """The Activity log's line for this restore, in the name of who started it."""
    event = activity_record(
        actor=operation.created_by,
        action=action,
        result=result,
        backend=operation.backend,
        target=operation.target_name,
        message=message,
        detail=operation_detail(operation),
    )
    if operation.created_by is None and operation.started_by_name:
        ActivityEvent.objects.filter(pk=event.pk).update(actor_name=operation.started_by_name)


def operation_notify(operation: RestoreOperation, **notification) -> None:
    """Tell who started the restore; a command-line restore without --as has nobody."""
    if operation.created_by is not None:
        notification_create(user=operation.created_by, **notification)


def progress_json(progress: Progress) -> dict:
    return {
        "nodes": {name: figures.to_json() for name, figures in progress.details.items()},
        "seconds_left": progress.seconds_left,
        "coarse": progress.coarse,
        "message": progress.message,
    }


class ProgressWriter:
    """Writes a backend's progress to the row: every phase change, and at most twice a
    second; ``echo`` (the command line's --wait) sees every report."""

    def __init__(self, operation_id: int, echo: ProgressCallback | None = None):
        self.operation_id = operation_id
        self.echo = echo
        self.last_phase = ""
        self.last_message = ""
        self.last_write = 0.0
        self.nodes: dict[str, int] = {}
        self.figures: dict = {}

    def __call__(self, progress: Progress) -> None:
        self.nodes.update(progress.nodes)
        if progress.details or progress.coarse or progress.message:
            self.figures = progress_json(progress)
        if self.echo is not None:
            self.echo(progress)
        now = time.monotonic()
        changed = progress.message and progress.message != self.last_message
        if progress.phase == self.last_phase and not changed and now - self.last_write < 0.5:
            return
        self.last_phase, self.last_write = progress.phase, now
        fields = {
            "phase": progress.phase[:100],
            "node_progress": dict(self.nodes),
            "heartbeat_at": timezone.now(),
        }
        if progress.message:
            self.last_message = fields["progress_message"] = progress.message
        RestoreOperation.objects.filter(pk=self.operation_id, status=Status.RUNNING).update(
            **fields, progress=self.figures
        )


class Heartbeat:
    """Marks the row alive while a long backend call blocks, so the watchdog leaves it,
    and passes a cancel asked for meanwhile on to the backend."""

    def __init__(self, operation_id: int, backend: Backend):
        self.operation_id = operation_id
        self.backend = backend
        self.token = ""
        self.cancel_sent = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self.stop.wait(CANCEL_CHECK_SECONDS):
                rows = RestoreOperation.objects.filter(
                    pk=self.operation_id, status__in=[Status.RUNNING, Status.CANCELLING]
                )
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    rows.update(heartbeat_at=timezone.now())
                if rows.filter(status=Status.CANCELLING).exists():
                    self.pass_cancel_on()
        finally:
            connection.close()

    def pass_cancel_on(self) -> None:
        if self.cancel_sent or not self.token:
            return
        self.cancel_sent = True
        try:
            self.backend.cancel_restore(self.token)
        except BackendError as error:
            logger.info("restore operation %s: cancel: %s", self.operation_id, error.message)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def restore_operation_run(*, operation_id: int, echo: ProgressCallback | None = None) -> None:
    """Run (or resume) one restore to its end. Called by the task worker (and by the
    command line's restore, in its own process)."""
    now = timezone.now()
    claimed = RestoreOperation.objects.filter(pk=operation_id, status=Status.QUEUED).update(
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        logger.info("restore operation %s is not queued; nothing to do", operation_id)
        return
    operation = RestoreOperation.objects.get(pk=operation_id)
    try:
        backend = get_backend(operation.backend)
    except BackendError as error:
        operation_fail(operation, error.message, cleanup="")
        return
    token = operation.token
    try:
        with Heartbeat(operation_id, backend) as heartbeat:
            if not token:
                token = backend.begin_restore(
                    RestoreRequest(
                        source_id=operation.source_id,
                        target_name=operation.target_name,
                        point_in_time=operation.requested_point,
                        choice=operation.choice,
                    )
                )
                RestoreOperation.objects.filter(pk=operation_id).update(token=token)
            heartbeat.token = token
            # A cancel that came before the token: the restore must not start.
            if RestoreOperation.objects.filter(pk=operation_id, status=Status.CANCELLING).exists():
                heartbeat.pass_cancel_on()
            result = backend.wait_restore(token, ProgressWriter(operation_id, echo))
    except BackendError as error:
        operation_end_in_error(operation, error.message, backend=backend, token=token)
        return
    except Exception as error:
        logger.exception("restore operation %s failed unexpectedly", operation_id)
        operation_end_in_error(
            operation,
            f"The restore stopped on an unexpected error: {error}",
            backend=backend,
            token=token,
        )
        return
    operation_succeed(operation, target_id=result.target_id, point=result.point_in_time)


def operation_end_in_error(
    operation: RestoreOperation, message: str, *, backend: Backend, token: str
) -> None:
    """A restore that stopped: Cancelled when an operator asked for it, else Failed."""
    cleanup = abandon(backend, token)
    if token and cleanup == NOTHING_LEFT:
        # The backend removed what it made as it stopped; say so rather than "nothing".
        stopped = (
            f"The restore removed every node, port and folder of {operation.target_name} "
            "as it stopped."
        )
        if operation_cancelled(operation, cleanup=stopped):
            return
    elif operation_cancelled(operation, cleanup=cleanup):
        return
    operation_fail(operation, message, cleanup=cleanup)


def abandon(backend: Backend, token: str) -> str:
    if not token:
        return "Nothing was created."
    try:
        return backend.abandon_restore(token) or NOTHING_LEFT
    except BackendError as error:
        return f"Cleaning up failed: {error.message}"


def operation_succeed(operation: RestoreOperation, *, target_id: str, point) -> None:
    # A cancel that came after the last step: the group is Ready, and the row says so.
    late = RestoreOperation.objects.filter(pk=operation.pk, status=Status.CANCELLING).update(
        message="The restore had finished before the cancel reached it; "
        "delete the new group if it is not wanted."
    )
    updated = RestoreOperation.objects.filter(
        pk=operation.pk, status__in=[Status.RUNNING, Status.CANCELLING]
    ).update(
        status=Status.SUCCEEDED,
        phase="Ready",
        target_id=target_id,
        restored_point=point,
        finished_at=timezone.now(),
    )
    if not updated:
        return
    if not late:
        RestoreOperation.objects.filter(pk=operation.pk).update(progress=complete(operation.pk))
    operation.refresh_from_db()
    # A group made again under an old name starts with none of the old group's marks.
    PostRestoreMark.objects.filter(backend=operation.backend, group_id=target_id).delete()
    operation_notify(
        operation,
        level=Notification.Level.SUCCESS,
        title=f"Restore succeeded: {operation.target_name} is ready",
        body=f"{operation.source_name} was restored to {operation_detail(operation)['point']}.",
        link=reverse("servergroup_overview", args=[operation.backend, operation.target_name]),
        link_text=f"Open {operation.target_name}",
        more_link=reverse("post_restore", args=[operation.backend, operation.target_name]),
        more_link_text="Post-restore tasks",
    )
    operation_activity(operation, result=ActivityEvent.Result.SUCCEEDED)


def complete(operation_id: int) -> dict:
    """The stored figures with every node Ready (the last report may predate the end)."""
    figures = dict(RestoreOperation.objects.get(pk=operation_id).progress or {})
    nodes = figures.get("nodes") or {}
    for data in nodes.values():
        data.update(phase="ready", percent=100, seconds_left=0)
        for done, total in (("bytes_done", "bytes_total"), ("wal_done", "wal_total")):
            if data.get(total):
                data[done] = data[total]
    figures["seconds_left"] = 0
    return figures


def operation_fail(operation: RestoreOperation, message: str, *, cleanup: str) -> None:
    updated = RestoreOperation.objects.filter(
        pk=operation.pk, status__in=RestoreOperation.ACTIVE
    ).update(
        status=Status.FAILED,
        message=message,
        cleanup=cleanup,
        finished_at=timezone.now(),
    )
    if not updated:
        return
    operation.refresh_from_db()
    operation_notify(
        operation,
        level=Notification.Level.ERROR,
        title=f"Restore of {operation.source_name} to {operation.target_name} failed",
        body=message,
        link=reverse("operation_detail", args=[operation.pk]),
        link_text="See what happened",
    )
    operation_activity(operation, result=ActivityEvent.Result.FAILED, message=message)


def restore_operation_cancel(
    *, operation_id: int, user=None, actor_name: str = "", now: datetime | None = None
) -> RestoreOperation:
    """Stop a restore at whatever phase it is; the operation ends Cancelled.

    A queued restore (no worker holds it) is finished here. A running one turns
    Cancelling and its backend is told at once; the worker that runs it then removes
    what it made and ends it, or, when that worker is dead (its heartbeat stale), this
    call or the watchdog does. Raises ``RestoreRefused`` for a restore already over.
    """
    now = now or timezone.now()
    who = {
        "cancel_requested_at": now,
        "cancelled_by": user,
        "cancelled_by_name": user.get_username() if user is not None else actor_name,
    }
    rows = RestoreOperation.objects.filter(pk=operation_id)
    operation = rows.get()
    begun = operation.token or operation.status != Status.QUEUED
    if begun and operation.status in (Status.QUEUED, Status.RUNNING):
        try:
            cloud = get_backend(operation.backend)
        except BackendError as error:
            raise RestoreRefused(error.message) from error
        if not cloud.can_cancel:
            raise RestoreRefused(
                f"The {cloud.label} backend cannot stop a restore once it has begun; "
                "it runs to its end (delete the new server group afterwards if it is not wanted)."
            )
    if rows.filter(status=Status.QUEUED).update(status=Status.CANCELLING, **who):
        operation = rows.get()
        operation_cancelled(operation, cleanup=abandon_quietly(operation))
    elif rows.filter(status=Status.RUNNING).update(status=Status.CANCELLING, **who):
        operation = rows.get()
        if operation.token:
            try:
                get_backend(operation.backend).cancel_restore(operation.token)
            except BackendError as error:
                logger.info("restore operation %s: cancel: %s", operation_id, error.message)
        if operation.heartbeat_at is None or operation.heartbeat_at < now - STALE_AFTER:
            operation_cancelled(operation, cleanup=abandon_quietly(operation))
    operation = rows.get()
    if operation.status not in (Status.CANCELLING, Status.CANCELLED) and not (
        operation.cancel_requested_at
    ):
        raise RestoreRefused(
            f"Restore operation #{operation.pk} has already ended "
            f"({operation.get_status_display().lower()}); there is nothing to cancel."
        )
    return operation


def abandon_quietly(operation: RestoreOperation) -> str:
    try:
        return abandon(get_backend(operation.backend), operation.token)
    except BackendError as error:
        return f"Cleaning up failed: {error.message}"


def operation_cancelled(operation: RestoreOperation, *, cleanup: str) -> bool:
    """End a Cancelling operation as Cancelled; False when it was not cancelling.

    The row, the notification and the Activity log change together (one transaction),
    so whoever sees Cancelled sees who cancelled and the log line too.
    """
    asked = RestoreOperation.objects.filter(pk=operation.pk).values(
        "cancelled_by_name", "cancel_requested_at"
    )[0]
    who = asked["cancelled_by_name"] or "an operator"
    when = asked["cancel_requested_at"] or timezone.now()
    message = f"Cancelled by {who} at {fmt(when)}."
    with transaction.atomic():
        updated = RestoreOperation.objects.filter(pk=operation.pk, status=Status.CANCELLING).update(
            status=Status.CANCELLED, cleanup=cleanup, message=message, finished_at=timezone.now()
        )
        if not updated:
            return False
        operation.refresh_from_db()
        operation_notify(
            operation,
            level=Notification.Level.WARNING,
            title=f"Restore of {operation.source_name} to {operation.target_name} cancelled",
            body=f"{message} {cleanup}",
            link=reverse("operation_detail", args=[operation.pk]),
            link_text="See the operation",
        )
        event = activity_record(
            actor=operation.cancelled_by,
            action="cancel restore",
            result=ActivityEvent.Result.SUCCEEDED,
            backend=operation.backend,
            target=operation.target_name,
            message=f"{message} {cleanup}",
            detail=operation_detail(operation),
        )
        if operation.cancelled_by is None and operation.cancelled_by_name:
            ActivityEvent.objects.filter(pk=event.pk).update(actor_name=operation.cancelled_by_name)
    return True


def restore_operations_recover(*, now: datetime | None = None) -> list[int]:
    """Hand restores whose worker died back to a worker; give up after a few tries.

    A running row whose heartbeat is older than ``STALE_AFTER`` lost its worker (a
    kill -9, a reboot). The conditional update makes sure only one watchdog acts.
    """
    from .tasks import run_restore

    now = now or timezone.now()
    handed_back = []
    stale = RestoreOperation.objects.filter(
        status__in=[Status.RUNNING, Status.CANCELLING], heartbeat_at__lt=now - STALE_AFTER
    )
    for operation in stale:
        if operation.status == Status.CANCELLING:
            # Cancelled while its worker was dead: nobody else will finish it.
            operation_cancelled(operation, cleanup=abandon_quietly(operation))
            continue
        if operation.attempts >= MAX_ATTEMPTS:
            backend_cleanup = ""
            try:
                backend_cleanup = abandon(get_backend(operation.backend), operation.token)
            except BackendError as error:
                backend_cleanup = error.message
            operation_fail(
                operation,
                f"The task worker stopped {operation.attempts} times during this restore; "
                "the portal gave up.",
                cleanup=backend_cleanup,
            )
            continue
        requeued = RestoreOperation.objects.filter(
            pk=operation.pk, status=Status.RUNNING, heartbeat_at=operation.heartbeat_at
        ).update(status=Status.QUEUED, phase="Waiting for a worker to resume", heartbeat_at=now)
        if requeued:
            run_restore.enqueue(operation.pk)
            handed_back.append(operation.pk)
    return handed_back


def post_restore_mark(
    *, user, backend: Backend, group: ServerGroup, task: str, title: str, done: bool
) -> None:
    """Record (or withdraw) a DBA's mark that a post-restore task is done."""
    with transaction.atomic():
        if done:
            PostRestoreMark.objects.get_or_create(
                backend=backend.key,
                group_id=group.id,
                task=task,
                defaults={"marked_by": user, "marked_by_name": user.get_username()},
            )
        else:
            PostRestoreMark.objects.filter(
                backend=backend.key, group_id=group.id, task=task
            ).delete()
        activity_record(
            actor=user,
            action="mark post-restore task" if done else "unmark post-restore task",
            result=ActivityEvent.Result.SUCCEEDED,
            backend=backend.key,
            target=group.name,
            detail={"task": title},
        )
