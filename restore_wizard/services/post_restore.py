"""A DBA's marks on the post-restore tasks the portal cannot check itself."""

from __future__ import annotations

from django.db import transaction

from portal.backends.base import Backend, ServerGroup
from portal.models import ActivityEvent
from portal.services import activity_record

from ..models import PostRestoreMark


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
