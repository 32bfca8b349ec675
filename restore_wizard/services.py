"""Restores as the portal runs them: start (web request), run (task worker), recover.

The web request only validates, writes one ``RestoreOperation`` row and enqueues the
task in the same transaction. The worker does the work through the backend, writing
progress to the row; a watchdog hands restores whose worker died back to a worker.
"""

from __future__ import annotations

import logging
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
from portal.backends.base import Backend, Progress, RestoreRequest, RestoreWindow, ServerGroup
from portal.instants import utc_text
from portal.models import ActivityEvent, Notification
from portal.services import activity_record, notification_create

from .models import PostRestoreMark, RestoreOperation

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 3

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


def restore_target_problem(
    backend: Backend, group: ServerGroup, target_name: str, *, location: str = ""
) -> str | None:
    """Why ``target_name`` cannot be used for a restore of ``group`` (into ``location``,
    by default the source's), or None."""
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
            f"(started by {in_flight.created_by.get_username()}). Choose another name."
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


class ProgressWriter:
    """Writes a backend's progress to the row: every phase change, and at most twice a second."""

    def __init__(self, operation_id: int):
        self.operation_id = operation_id
        self.last_phase = ""
        self.last_message = ""
        self.last_write = 0.0
        self.nodes: dict[str, int] = {}

    def __call__(self, progress: Progress) -> None:
        self.nodes.update(progress.nodes)
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
            **fields
        )


class Heartbeat:
    """Marks the row alive while a long backend call blocks, so the watchdog leaves it."""

    def __init__(self, operation_id: int):
        self.operation_id = operation_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_SECONDS):
                RestoreOperation.objects.filter(pk=self.operation_id, status=Status.RUNNING).update(
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


def restore_operation_run(*, operation_id: int) -> None:
    """Run (or resume) one restore to its end. Called by the task worker."""
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
        with Heartbeat(operation_id):
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
            result = backend.wait_restore(token, ProgressWriter(operation_id))
    except BackendError as error:
        operation_fail(operation, error.message, cleanup=abandon(backend, token))
        return
    except Exception as error:
        logger.exception("restore operation %s failed unexpectedly", operation_id)
        operation_fail(
            operation,
            f"The restore stopped on an unexpected error: {error}",
            cleanup=abandon(backend, token),
        )
        return
    operation_succeed(operation, target_id=result.target_id, point=result.point_in_time)


def abandon(backend: Backend, token: str) -> str:
    if not token:
        return "Nothing was created."
    try:
        return backend.abandon_restore(token) or "Nothing was left to clean up."
    except BackendError as error:
        return f"Cleaning up failed: {error.message}"


def operation_succeed(operation: RestoreOperation, *, target_id: str, point) -> None:
    updated = RestoreOperation.objects.filter(pk=operation.pk, status=Status.RUNNING).update(
        status=Status.SUCCEEDED,
        phase="Ready",
        target_id=target_id,
        restored_point=point,
        finished_at=timezone.now(),
    )
    if not updated:
        return
    operation.refresh_from_db()
    # A group made again under an old name starts with none of the old group's marks.
    PostRestoreMark.objects.filter(backend=operation.backend, group_id=target_id).delete()
    notification_create(
        user=operation.created_by,
        level=Notification.Level.SUCCESS,
        title=f"Restore succeeded: {operation.target_name} is ready",
        body=f"{operation.source_name} was restored to {operation_detail(operation)['point']}.",
        link=reverse("servergroup_overview", args=[operation.backend, operation.target_name]),
        link_text=f"Open {operation.target_name}",
        more_link=reverse("post_restore", args=[operation.backend, operation.target_name]),
        more_link_text="Post-restore tasks",
    )
    activity_record(
        actor=operation.created_by,
        action="restore",
        result=ActivityEvent.Result.SUCCEEDED,
        backend=operation.backend,
        target=operation.target_name,
        detail=operation_detail(operation),
    )


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
    notification_create(
        user=operation.created_by,
        level=Notification.Level.ERROR,
        title=f"Restore of {operation.source_name} to {operation.target_name} failed",
        body=message,
        link=reverse("operation_detail", args=[operation.pk]),
        link_text="See what happened",
    )
    activity_record(
        actor=operation.created_by,
        action="restore",
        result=ActivityEvent.Result.FAILED,
        backend=operation.backend,
        target=operation.target_name,
        message=message,
        detail=operation_detail(operation),
    )


def restore_operations_recover(*, now: datetime | None = None) -> list[int]:
    """Hand restores whose worker died back to a worker; give up after a few tries.

    A running row whose heartbeat is older than ``STALE_AFTER`` lost its worker (a
    kill -9, a reboot). The conditional update makes sure only one watchdog acts.
    """
    from .tasks import run_restore

    now = now or timezone.now()
    handed_back = []
    stale = RestoreOperation.objects.filter(
        status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    for operation in stale:
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
