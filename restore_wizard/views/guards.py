"""Guards every wizard view opens with, and the one place failures become pages.

A guard returns what the view needs or raises: ``Refused`` (this user, or this moment,
may not) or ``BackendError`` (the cloud could not answer). ``wizard_view`` maps both to
the server group's error page through ``portal.guards.failure_page``, the portal's one
mapping (the refusal's own status, 404 for a group or backend that does not exist, 502
for any other backend failure). Views never build that page themselves, so a new view
cannot answer a known failure with a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from portal.backends import BackendError
from portal.guards import OPERATORS_ONLY, Refused, failure_page
from portal.models import ActivityEvent
from portal.selectors import servergroup_context
from portal.services import activity_record, may_restore


def wizard_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run ``view``; a Refused or a BackendError it raises becomes the error page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (Refused, BackendError) as failure:
            return failure_page(request, kwargs.get("name", ""), failure)

    return wrapper


def servergroup_for_user(request: HttpRequest, backend: str, name: str) -> dict:
    """The group's page context (backend, group, urls, menu, may_restore); raises
    BackendError (NotFound for a group or backend that does not exist)."""
    return servergroup_context(request, backend, name)


def operator_required(
    request: HttpRequest, *, what: str, target: str, action: str = "", backend: str = ""
) -> None:
    """Raise Refused (403) unless this user is a Restore operator. With ``action``, a
    refused POST is recorded in the activity log under that action."""
    if may_restore(request.user):
        return
    if action and request.method == "POST":
        activity_record(
            actor=request.user,
            action=action,
            result=ActivityEvent.Result.REFUSED,
            backend=backend,
            target=target,
            message="Not a member of the Restore operators group.",
        )
    raise Refused(OPERATORS_ONLY.format(what=what), name=target)


def restorable_for_user(request: HttpRequest, backend: str, name: str) -> dict:
    """The group's context when this user may restore it now; raises Refused (403 for
    a viewer, 409 when the group cannot be restored now) or BackendError. No window yet:
    a view that changes what the window covers reads it afterwards."""
    context = servergroup_for_user(request, backend, name)
    group = context["group"]
    operator_required(
        request,
        what="restore server groups",
        action="restore",
        backend=group.backend,
        target=group.name,
    )
    if context["restore_blocker"]:
        raise Refused(f"Restore is not available: {context['restore_blocker']}", 409)
    return context


def window_read(context: dict) -> dict:
    """Add the backend's restore window, exact to the microsecond, and the time now.

    The wizard uses the window as the backend gives it, never rounded: the events the
    timeline lists, the points it offers and the points the form accepts share these
    bounds, so an event in the newest second is listed and restorable to just before.
    "Now" is read first: a running group's latest point is the backend's own now, which
    is then not before it.
    """
    context["now"] = timezone.now()
    context["window"] = context["backend"].restore_window(context["group"].id)
    context["choices"] = context["backend"].restore_choices(context["group"])
    return context


def wizard_for_user(request: HttpRequest, backend: str, name: str) -> dict:
    """``restorable_for_user`` with the restore window read now."""
    return window_read(restorable_for_user(request, backend, name))
