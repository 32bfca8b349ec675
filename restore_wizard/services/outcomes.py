"""How a restore operation ends: Succeeded, Failed or Cancelled, each a conditional
update of the row, with the notification to who started it and the Activity log line.
The runner and the operations (cancel, recover) end operations only through here."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.backends import BackendError, get_backend
from portal.backends.base import Backend, GroupStatus
from portal.instants import utc_text
from portal.models import ActivityEvent, Notification
from portal.services import activity_record, notification_create

from ..models import PostRestoreMark, RestoreOperation

Status = RestoreOperation.Status
NOTHING_LEFT = "Nothing was left to clean up."
POINT_WORDS = {
    RestoreOperation.Choice.EARLIEST: "earliest restore point",
    RestoreOperation.Choice.LATEST: "latest restore point",
    RestoreOperation.Choice.GEO: "latest restore point, in the paired region",
}


def operation_activity_detail(operation: RestoreOperation) -> dict:
    point = operation.restored_point or operation.requested_point
    return {
        "source": operation.source_name,
        "point": utc_text(point) if point else POINT_WORDS.get(operation.choice, "restore point"),
        "target": operation.target_name,
        "operation": operation.pk,
    }


def operation_activity_record(
    *, operation: RestoreOperation, result: str, message: str = "", action: str = "restore"
) -> None:
    """The Activity log's line for this restore, in the name of who started it."""
    event = activity_record(
        actor=operation.created_by,
        action=action,
        result=result,
        backend=operation.backend,
        target=operation.target_name,
        message=message,
        detail=operation_activity_detail(operation),
    )
    if operation.created_by is None and operation.started_by_name:
        ActivityEvent.objects.filter(pk=event.pk).update(actor_name=operation.started_by_name)


def operation_notification_create(*, operation: RestoreOperation, **notification) -> None:
    """Tell who started the restore; a command-line restore without --as has nobody."""
    if operation.created_by is not None:
        notification_create(user=operation.created_by, **notification)


def restore_operation_end_in_error(
    *, operation: RestoreOperation, message: str, backend: Backend, token: str
) -> None:
    """A restore that stopped: Cancelled when an operator asked for it, else Failed."""
    cleanup = restore_abandon(backend=backend, token=token)
    if token and cleanup == NOTHING_LEFT:
        # The backend removed what it made as it stopped; say so rather than "nothing".
        stopped = (
            f"The restore removed every node, port and folder of {operation.target_name} "
            "as it stopped."
        )
        if restore_operation_cancelled(operation=operation, cleanup=stopped):
            return
    elif restore_operation_cancelled(operation=operation, cleanup=cleanup):
        return
    restore_operation_fail(operation=operation, message=message, cleanup=cleanup)


def restore_abandon(*, backend: Backend, token: str) -> str:
    if not token:
        return "Nothing was created."
    try:
        return backend.abandon_restore(token) or NOTHING_LEFT
    except BackendError as error:
        return f"Cleaning up failed: {error.message}"


def restore_operation_succeed(*, operation: RestoreOperation, target_id: str, point) -> None:
    # A cancel that came after the last step: the group is Ready, and the row says so.
    late = RestoreOperation.objects.filter(pk=operation.pk, status=Status.CANCELLING).update(
        message="The restore had finished before the cancel reached it; "
        "delete the new group if it is not wanted."
    )
    updated = RestoreOperation.objects.filter(
        pk=operation.pk, status__in=[Status.RUNNING, Status.CANCELLING]
    ).update(
        status=Status.SUCCEEDED,
        phase=GroupStatus.READY,
        target_id=target_id,
        restored_point=point,
        finished_at=timezone.now(),
    )
    if not updated:
        return
    if not late:
        RestoreOperation.objects.filter(pk=operation.pk).update(
            progress=progress_complete(operation_id=operation.pk)
        )
    operation.refresh_from_db()
    restored_to = operation_activity_detail(operation)["point"]
    # A group made again under an old name starts with none of the old group's marks.
    PostRestoreMark.objects.filter(backend=operation.backend, group_id=target_id).delete()
    operation_notification_create(
        operation=operation,
        level=Notification.Level.SUCCESS,
        title=f"Restore succeeded: {operation.target_name} is ready",
        body=f"{operation.source_name} was restored to {restored_to}.",
        link=reverse("servergroup_overview", args=[operation.backend, operation.target_name]),
        link_text=f"Open {operation.target_name}",
        more_link=reverse("post_restore", args=[operation.backend, operation.target_name]),
        more_link_text="Post-restore tasks",
    )
    operation_activity_record(operation=operation, result=ActivityEvent.Result.SUCCEEDED)


def progress_complete(*, operation_id: int) -> dict:
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


def restore_operation_fail(*, operation: RestoreOperation, message: str, cleanup: str) -> None:
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
    operation_notification_create(
        operation=operation,
        level=Notification.Level.ERROR,
        title=f"Restore of {operation.source_name} to {operation.target_name} failed",
        body=message,
        link=reverse("operation_detail", args=[operation.pk]),
        link_text="See what happened",
    )
    operation_activity_record(
        operation=operation, result=ActivityEvent.Result.FAILED, message=message
    )


def restore_abandon_quietly(*, operation: RestoreOperation) -> str:
    try:
        return restore_abandon(backend=get_backend(operation.backend), token=operation.token)
    except BackendError as error:
        return f"Cleaning up failed: {error.message}"


def restore_operation_cancelled(*, operation: RestoreOperation, cleanup: str) -> bool:
    """End a Cancelling operation as Cancelled; False when it was not cancelling.

    The row, the notification and the Activity log change together (one transaction),
    so whoever sees Cancelled sees who cancelled and the log line too.
    """
    asked = RestoreOperation.objects.filter(pk=operation.pk).values(
        "cancelled_by_name", "cancel_requested_at"
    )[0]
    who = asked["cancelled_by_name"] or "an operator"
    when = asked["cancel_requested_at"] or timezone.now()
    message = f"Cancelled by {who} at {utc_text(when)}."
    with transaction.atomic():
        updated = RestoreOperation.objects.filter(pk=operation.pk, status=Status.CANCELLING).update(
            status=Status.CANCELLED, cleanup=cleanup, message=message, finished_at=timezone.now()
        )
        if not updated:
            return False
        operation.refresh_from_db()
        operation_notification_create(
            operation=operation,
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
            detail=operation_activity_detail(operation),
        )
        if operation.cancelled_by is None and operation.cancelled_by_name:
            ActivityEvent.objects.filter(pk=event.pk).update(actor_name=operation.cancelled_by_name)
    return True
