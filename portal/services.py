"""Writes shared by the portal and the wizard: notifications, the activity log, sign-in
lockouts, and the previews each user holds."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta

from axes.utils import reset
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .backends import BackendError, get_backend
from .backends.base import Backend, PreviewInfo, PreviewRows, PreviewStatus, ServerGroup
from .models import ActivityEvent, Notification, OpenPreview

logger = logging.getLogger(__name__)

# How long past a preview query's own timeout the web thread waits for the backend.
PREVIEW_GRACE_SECONDS = 1.0
# A preview slot reserved by a start that never finished (its process died) is free again
# after this long; a start takes seconds.
RESERVATION_LIFETIME = timedelta(minutes=10)

OPERATORS_GROUP = "Restore operators"


def may_restore(user) -> bool:
    """Superusers and members of "Restore operators" may restore and copy settings."""
    return bool(
        user.is_authenticated
        and (user.is_superuser or user.groups.filter(name=OPERATORS_GROUP).exists())
    )


def notification_create(
    *,
    user: AbstractBaseUser,
    title: str,
    body: str = "",
    level: str = Notification.Level.INFO,
    link: str = "",
    link_text: str = "",
    more_link: str = "",
    more_link_text: str = "",
) -> Notification:
    return Notification.objects.create(
        user=user,
        title=title,
        body=body,
        level=level,
        link=link,
        link_text=link_text,
        more_link=more_link,
        more_link_text=more_link_text,
    )


def notifications_mark_read(*, user: AbstractBaseUser) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def activity_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    result: str,
    backend: str = "",
    target: str = "",
    message: str = "",
    detail: dict | None = None,
) -> ActivityEvent:
    actor_name = actor.get_username() if actor is not None else "portal"
    return ActivityEvent.objects.create(
        actor=actor,
        actor_name=actor_name,
        action=action,
        backend=backend,
        target=target,
        result=result,
        message=message,
        detail=detail or {},
    )


def signin_lockout_reset(*, actor, username: str = "", address: str = "") -> int:
    """Lift the sign-in lockout of a user name and/or an address (forget its failures);
    recorded in the activity log. Returns how many failure records were removed."""
    if not username and not address:
        raise ValueError("Name a user or an address to unlock.")
    removed = reset(username=username or None, ip=address or None)
    activity_record(
        actor=actor,
        action="unlock sign-in",
        result=ActivityEvent.Result.SUCCEEDED,
        backend="",
        target=username or address,
        detail={"failure records removed": removed},
    )
    return removed


# Previews: who owns which, how many each user may hold, and a deadline on queries ------


class PreviewRefused(Exception):
    """A preview request the portal will not carry out; ``message`` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def preview_open(
    *, user, session_key: str, backend: Backend, group: ServerGroup, point: datetime, node: str
) -> PreviewInfo:
    """Start a preview owned by ``user``, within the user's slots.

    1. Reserve a slot (a row) first, then count: two starts at once by one user cannot
       both slip under the limit (at worst both are refused).
    2. At the limit, forget the user's previews the backend no longer has (expired).
    3. Start the preview (the backend enforces its own limit across all users) and
       record its id on the reserved row, or give the slot back.
    """
    slots = settings.PORTAL_PREVIEW_SLOTS_PER_USER
    reservation = OpenPreview.objects.create(
        backend=backend.key,
        preview_id=f"reserved-{uuid.uuid4().hex}",
        group_name=group.name,
        user=user,
        session_key=session_key,
    )
    try:
        if OpenPreview.objects.filter(user=user).count() > slots:
            previews_forget_gone(user=user)
        if OpenPreview.objects.filter(user=user).count() > slots:
            raise PreviewRefused(
                f"You have {slots} previews open, the most one user may have at once. "
                "Close one (or wait until one expires) and start this one again."
            )
        preview = backend.preview_start(group.id, point, node)
    except BaseException:
        reservation.delete()
        raise
    reservation.preview_id = preview.id
    reservation.expires_at = preview.expires_at
    reservation.save(update_fields=["preview_id", "expires_at"])
    return preview


def previews_forget_gone(*, user) -> None:
    """Drop the user's records of previews that expired or that their backend no longer has."""
    now = timezone.now()
    for record in OpenPreview.objects.filter(user=user):
        if record.preview_id.startswith("reserved-"):
            # A start in progress holds its slot; one whose process died gives it back.
            if record.created_at < now - RESERVATION_LIFETIME:
                record.delete()
        elif not preview_alive(record, now):
            record.delete()


def preview_alive(record: OpenPreview, now: datetime) -> bool:
    if record.expires_at is not None and record.expires_at <= now:
        return False
    try:
        return (
            get_backend(record.backend).preview_status(record.preview_id).status
            != PreviewStatus.FAILED
        )
    except BackendError:
        return False


def previews_close(*, records) -> int:
    """Close the previews of ``records`` (OpenPreview rows) and forget them; a preview
    already gone is not an error. Returns how many rows were closed."""
    closed = 0
    for record in list(records):
        if record.preview_id.startswith("reserved-"):
            continue
        try:
            get_backend(record.backend).preview_close(record.preview_id)
        except BackendError:
            pass  # already gone, or the backend's time-to-live sweep will take it
        record.delete()
        closed += 1
    return closed


class PreviewDeadline(BackendError):
    """A preview query outlived the portal's deadline; the preview was closed."""


def preview_query_bounded(
    *, backend: Backend, preview_id: str, sql: str, limit: int, timeout: float
) -> PreviewRows:
    """Run one preview query, returning to the caller (a web thread) by the deadline.

    The backend call runs in a thread of its own. The backend bounds the query itself
    (``timeout``); should its answer not come ``PREVIEW_GRACE_SECONDS`` after that
    (a server that ignores cancels, a hung connection), the web thread stops waiting,
    the preview is closed from another thread (stopping its server ends the query),
    and ``PreviewDeadline`` says so.
    """
    outcome: dict = {}
    finished = threading.Event()

    def run() -> None:
        try:
            outcome["rows"] = backend.preview_query(preview_id, sql, limit=limit, timeout=timeout)
        except BaseException as error:  # handed to the waiting web thread
            outcome["error"] = error
        finally:
            finished.set()

    threading.Thread(target=run, name=f"preview-query-{preview_id}", daemon=True).start()
    if not finished.wait(timeout + PREVIEW_GRACE_SECONDS):
        threading.Thread(
            target=preview_close_quietly,
            args=(backend, preview_id),
            name=f"preview-close-{preview_id}",
            daemon=True,
        ).start()
        raise PreviewDeadline(
            f"The query did not finish within {timeout:g} s, so the preview was closed to "
            "stop it. Start a new preview; a narrower query (a WHERE clause, fewer "
            "columns) answers sooner."
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["rows"]


def preview_close_quietly(backend: Backend, preview_id: str) -> None:
    try:
        backend.preview_close(preview_id)
    except BackendError as error:
        logger.warning("closing preview %s after its deadline failed: %s", preview_id, error)
