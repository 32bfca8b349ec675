"""Previews: the data at T, read-only, before OK. A preview belongs to the browser
session that started it; OK, a new preview, or signing out closes it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from portal import services as portal_services
from portal.backends import BackendError
from portal.backends.base import PreviewStatus
from portal.instants import utc_text
from portal.models import ActivityEvent, OpenPreview
from portal.services import activity_record

from ..forms import read_point
from ..services.checks import restore_point_problem
from .guards import wizard_for_user, wizard_view
from .preview_compare import preview_contents

PREVIEW_TEMPLATE = "restore_wizard/preview.html"


class PreviewGone(Exception):
    """The preview asked for is not this session's (closed, expired, or another's)."""

    def __init__(self, context: dict):
        super().__init__("preview gone")
        self.context = context


def my_previews(request: HttpRequest):
    """The previews this user started in this browser session."""
    return OpenPreview.objects.filter(
        user=request.user, session_key=request.session.session_key or ""
    )


def previews_close(request: HttpRequest, backend, group_name: str) -> None:
    """Tear down this session's previews of ``group_name`` (a new one, OK, or leaving)."""
    portal_services.previews_close(
        records=my_previews(request).filter(backend=backend.key, group_name=group_name)
    )


def preview_response(request, context: dict, status: int = 200) -> HttpResponse:
    context.update(
        row_limit=settings.PORTAL_PREVIEW_ROW_LIMIT,
        query_timeout=settings.PORTAL_PREVIEW_TIMEOUT_SECONDS,
    )
    return render(request, PREVIEW_TEMPLATE + "#panel", context, status=status)


def preview_for_session(request: HttpRequest, backend: str, name: str, preview_id: str) -> dict:
    """The wizard's context when this session started ``preview_id`` on this group;
    raises PreviewGone otherwise (and what ``wizard_for_user`` raises)."""
    context = wizard_for_user(request, backend, name)
    owned = my_previews(request).filter(backend=backend, group_name=name, preview_id=preview_id)
    if not owned.exists():
        context["preview_error"] = (
            "This preview is closed, has expired, or was started in another browser session. "
            "Start a new one."
        )
        raise PreviewGone(context)
    return context


def preview_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A preview that is gone answers the panel saying so (the panel is a partial)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PreviewGone as gone:
            return preview_response(request, gone.context)

    return wizard_view(wrapper)


@require_POST
@wizard_view
def preview_start(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """Preview data at this point: a read-only copy of one node recovered to T."""
    context = wizard_for_user(request, backend, name)
    source = context["backend"]
    if not source.can_preview:
        context["preview_error"] = f"The {source.label} backend cannot preview data at a point."
        return preview_response(request, context)
    reading = read_point(request.POST)
    problem = reading.error
    if reading.moment is not None:
        problem = restore_point_problem(
            point=reading.moment, window=context["window"], now=context["now"]
        )
    node = request.POST.get("preview_node", "coordinator")
    if node not in [n.name for n in context["group"].nodes]:
        problem = problem or f"The server group {name} has no node '{node[:40]}'."
    if problem:
        context["preview_error"] = problem
        return preview_response(request, context)
    previews_close(request, source, name)
    if request.session.session_key is None:
        request.session.save()
    try:
        preview = portal_services.preview_open(
            user=request.user,
            session_key=request.session.session_key,
            backend=source,
            group=context["group"],
            point=reading.moment,
            node=node,
        )
    except portal_services.PreviewRefused as refused:
        context["preview_error"] = refused.message
        return preview_response(request, context)
    except BackendError as error:
        context["preview_error"] = f"The preview could not start: {error.message}"
        return preview_response(request, context)
    activity_record(
        actor=request.user,
        action="preview",
        result=ActivityEvent.Result.SUCCEEDED,
        backend=source.key,
        target=name,
        detail={"point": utc_text(reading.moment), "node": node, "preview": preview.id},
    )
    context["preview"] = preview
    return preview_response(request, context)


@require_GET
@preview_view
def preview_panel(request: HttpRequest, backend: str, name: str, preview_id: str) -> HttpResponse:
    """The preview's state, polled while it starts; its tables once it is ready."""
    context = preview_for_session(request, backend, name, preview_id)
    source = context["backend"]
    try:
        preview = source.preview_status(preview_id)
        if preview.status == PreviewStatus.READY:
            context.update(preview_contents(source, preview_id))
    except BackendError as error:
        my_previews(request).filter(backend=backend, preview_id=preview_id).delete()
        context["preview_error"] = error.message
        return preview_response(request, context)
    context["preview"] = preview
    return preview_response(request, context)


@require_POST
@preview_view
def preview_query(request: HttpRequest, backend: str, name: str, preview_id: str) -> HttpResponse:
    """One bounded read-only query on the preview; the answer comes by the deadline
    whatever the backend does."""
    context = preview_for_session(request, backend, name, preview_id)
    sql = request.POST.get("sql", "")
    context["sql"] = sql
    try:
        context["result"] = portal_services.preview_query_bounded(
            backend=context["backend"],
            preview_id=preview_id,
            sql=sql,
            limit=settings.PORTAL_PREVIEW_ROW_LIMIT,
            timeout=settings.PORTAL_PREVIEW_TIMEOUT_SECONDS,
        )
    except portal_services.PreviewDeadline as error:
        my_previews(request).filter(backend=backend, preview_id=preview_id).delete()
        context["query_error"] = error.message
    except BackendError as error:
        context["query_error"] = error.message
    return render(request, PREVIEW_TEMPLATE + "#results", context)


@require_POST
@preview_view
def preview_close(request: HttpRequest, backend: str, name: str, preview_id: str) -> HttpResponse:
    """Close the preview (the Close button, or the page being left: a beacon)."""
    context = preview_for_session(request, backend, name, preview_id)
    portal_services.previews_close(
        records=my_previews(request).filter(backend=backend, preview_id=preview_id)
    )
    if not request.htmx:
        return HttpResponse(status=204)
    context["preview_closed"] = True
    return preview_response(request, context)
