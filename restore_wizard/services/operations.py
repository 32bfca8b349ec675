"""Restore operations begun and stopped: start (OK), record (the command line), cancel,
and recover the restores whose worker died. Starting enqueues the task; nothing here
runs a restore (that is ``runner``, in the worker)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db import DatabaseBackend

from portal.backends import BackendError, get_backend
from portal.backends.base import Backend, ServerGroup
from portal.models import ActivityEvent
from portal.services import activity_record, notification_create

from ..models import RestoreOperation
from ..tasks import run_restore
from .checks import DRILL_NAME, RestoreRefused
from .outcomes import (
    operation_activity_detail,
    operation_activity_record,
    restore_abandon,
    restore_abandon_quietly,
    restore_operation_cancelled,
    restore_operation_fail,
)

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 3
Status = RestoreOperation.Status
# The choices whose point is chosen in the wizard (a custom point, a full backup's end).
WITH_POINT = (RestoreOperation.Choice.CUSTOM, RestoreOperation.Choice.FAST)


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
                detail=operation_activity_detail(operation),
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
    origin: str = RestoreOperation.Origin.CLI,
) -> RestoreOperation:
    """Record a restore begun outside the portal (the command line, a drill), like one
    from OK.

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
            origin=origin,
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
        operation_activity_record(operation=operation, result=ActivityEvent.Result.STARTED)
    return operation


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
        restore_operation_cancelled(
            operation=operation, cleanup=restore_abandon_quietly(operation=operation)
        )
    elif rows.filter(status=Status.RUNNING).update(status=Status.CANCELLING, **who):
        operation = rows.get()
        if operation.token:
            try:
                get_backend(operation.backend).cancel_restore(operation.token)
            except BackendError as error:
                logger.info("restore operation %s: cancel: %s", operation_id, error.message)
        if operation.heartbeat_at is None or operation.heartbeat_at < now - STALE_AFTER:
            restore_operation_cancelled(
                operation=operation, cleanup=restore_abandon_quietly(operation=operation)
            )
    operation = rows.get()
    if operation.status not in (Status.CANCELLING, Status.CANCELLED) and not (
        operation.cancel_requested_at
    ):
        raise RestoreRefused(
            f"Restore operation #{operation.pk} has already ended "
            f"({operation.get_status_display().lower()}); there is nothing to cancel."
        )
    return operation


def restore_operations_recover(*, now: datetime | None = None) -> list[int]:
    """Hand restores whose worker died back to a worker; give up after a few tries.

    A running row whose heartbeat is older than ``STALE_AFTER`` lost its worker (a
    kill -9, a reboot). The conditional update makes sure only one watchdog acts.
    """
    now = now or timezone.now()
    handed_back = []
    stale = RestoreOperation.objects.filter(
        status__in=[Status.RUNNING, Status.CANCELLING], heartbeat_at__lt=now - STALE_AFTER
    )
    for operation in stale:
        if DRILL_NAME.fullmatch(operation.target_name):
            # A restore drill's own restore: the drill scheduler removes its scratch group.
            continue
        if operation.status == Status.CANCELLING:
            # Cancelled while its worker was dead: nobody else will finish it.
            restore_operation_cancelled(
                operation=operation, cleanup=restore_abandon_quietly(operation=operation)
            )
            continue
        if operation.attempts >= MAX_ATTEMPTS:
            backend_cleanup = ""
            try:
                backend_cleanup = restore_abandon(
                    backend=get_backend(operation.backend), token=operation.token
                )
            except BackendError as error:
                backend_cleanup = error.message
            restore_operation_fail(
                operation=operation,
                message=f"The task worker stopped {operation.attempts} times during this restore; "
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
