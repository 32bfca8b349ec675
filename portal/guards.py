"""The refusals a server group's pages raise, and the one place a failure becomes a page.

A page's guard returns what the view needs or raises: ``Refused`` (this user, or this
moment, may not) or ``BackendError`` (the cloud could not answer). ``failure_page`` turns
either into the group's error page: the refusal's own status, or the error's
``http_status`` (404 for a group or backend that does not exist, 502 for any other). The
blade's pages (``blade_view``, which drills' page uses too) and the wizard's
(``restore_wizard.views.guards``) answer through it, so no page answers a known failure
with a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .backends import BackendError
from .selectors import servergroup_context

OPERATORS_ONLY = (
    'Only members of the "Restore operators" group may {what}. '
    "Ask a portal administrator to add you."
)


class Refused(Exception):
    """A request this user, or this moment, may not have: shown as a page saying why."""

    def __init__(self, message: str, status: int = 403, *, name: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.name = name  # the group the page names, when not the one in the URL


def failure_page(request: HttpRequest, name: str, failure: Refused | BackendError) -> HttpResponse:
    """The server group ``name``'s error page for a refusal or a backend failure."""
    if isinstance(failure, Refused):
        name, status = failure.name or name, failure.status
    else:
        status = failure.http_status
    return render(
        request,
        "portal/servergroup_error.html",
        {"name": name, "message": failure.message},
        status=status,
    )


def require_operator(context: dict, what: str) -> None:
    """Raise Refused unless the page's user (``context["may_restore"]``) may change things."""
    if not context["may_restore"]:
        raise Refused(OPERATORS_ONLY.format(what=what))


def blade_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Load the group for ``view(request, context)``; map known failures to pages."""

    @wraps(view)
    def wrapper(request: HttpRequest, backend: str, name: str) -> HttpResponse:
        try:
            return view(request, servergroup_context(request, backend, name))
        except (Refused, BackendError) as failure:
            return failure_page(request, name, failure)

    return wrapper
