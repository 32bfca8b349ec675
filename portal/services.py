"""Writes shared by the portal and the wizard: notifications and the activity log."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .models import ActivityEvent, Notification

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
) -> Notification:
    return Notification.objects.create(
        user=user, title=title, body=body, level=level, link=link, link_text=link_text
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
    from axes.utils import reset

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
