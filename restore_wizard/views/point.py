"""The custom restore point: the point as typed (UTC and your time) and the timeline of
the window's WAL events, both partials of step 2."""

from __future__ import annotations

from datetime import UTC

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from portal.backends import BackendError
from portal.instants import is_utc, local_text

from .. import timeline
from ..forms import PointReading, read_point
from ..services.checks import restore_point_problem
from .guards import restorable_for_user, window_read, wizard_for_user, wizard_view

TEMPLATE = "restore_wizard/restore.html"


@require_GET
@wizard_view
def restore_point(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """As you type a custom point: what it is in UTC and in your time, whether it can be
    restored to, the other field filled in, and the point marked on the timeline."""
    context = wizard_for_user(request, backend, name)
    reading = read_point(request.GET)
    problem = ""
    if reading.moment is not None:
        problem = (
            restore_point_problem(
                point=reading.moment, window=context["window"], now=context["now"]
            )
            or ""
        )
    context.update(point_context(reading, request.GET.get("point_source") or "utc"))
    context["point_problem"] = problem
    timeline_context(context, reading.moment if not problem else None, request.GET)
    response = render(request, TEMPLATE + "#point-conversion", context)
    if reading.moment is not None and not problem:
        response["HX-Trigger-After-Settle"] = "restore-point-changed"  # step 2's estimate
    return response


@require_http_methods(["GET", "POST"])
@wizard_view
def restore_timeline(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """The restore window with its WAL events.

    GET shows what is indexed; with ``indexing`` (the token of the background pass that
    opening step 2 started, see ``timeline_index_start``) it answers no content until
    that pass ends, then the section with what it found: the section polls for it
    ("Indexing the latest WAL…"). POST indexes first and answers after ("Index the
    latest WAL now")."""
    context = restorable_for_user(request, backend, name)
    problem = ""
    source, group_id = context["backend"], context["group"].id
    try:
        if request.method == "POST":
            source.refresh_timeline(group_id)
        elif "indexing" in request.GET:
            finished, failure = source.timeline_refresh_state(group_id, request.GET["indexing"])
            if not finished:
                return HttpResponse(status=204)  # htmx keeps polling, swaps nothing
            problem = f"The WAL could not be indexed: {failure}" if failure else ""
    except BackendError as error:
        problem = f"The WAL could not be indexed: {error.message}"
    # Read after the index pass: the window then reaches past every event it found.
    window_read(context)
    data = request.POST if request.method == "POST" else request.GET
    point = read_point(data).moment
    if point is not None and restore_point_problem(
        point=point, window=context["window"], now=context["now"]
    ):
        point = None
    timeline_context(context, point, data)
    context["timeline_error"] = problem or context["timeline_error"]
    return render(request, TEMPLATE + "#timeline-section", context)


def timeline_index_start(context: dict) -> None:
    """Seal and index the newest WAL in the background as the custom step opens, so
    that its events show without a click; the section polls for the pass's end."""
    backend = context["backend"]
    if not backend.has_timeline:
        return
    try:
        context["indexing"] = backend.timeline_refresh_start(context["group"].id)
    except BackendError as error:
        context["indexing_error"] = f"The WAL could not be indexed: {error.message}"


def timeline_context(context: dict, point, data) -> dict:
    """The restore window drawn with the backend's WAL events (when it has them), at the
    zoom ``data`` asks for (``from``, ``to``; the whole window by default)."""
    backend, group, window = context["backend"], context["group"], context["window"]
    found = None
    context["timeline_error"] = ""
    if backend.has_timeline:
        try:
            found = backend.restore_timeline(group.id, window)
        except BackendError as error:
            context["timeline_error"] = error.message
    rows, hidden = ([], 0)
    if found is not None:
        rows, hidden = timeline.event_rows(found, window, context["urls"]["restore_details"])
    view = timeline.view_read(window, data.get("from", ""), data.get("to", ""))
    links = timeline.ZoomLinks(
        details_url=context["urls"]["restore_details"],
        timeline_url=context["urls"]["restore_timeline"],
        point=timeline.input_text(point.astimezone(UTC)) if point is not None else "",
    )
    if context.get("indexing_error"):
        context["timeline_error"] = context["indexing_error"]
    context.update(
        timeline=found,
        chart=timeline.chart(found, window, point, view, links),
        event_rows=rows,
        events_hidden=hidden,
    )
    return context


def point_context(reading: PointReading, source: str) -> dict:
    """The point in both forms, and which inputs the answer rewrites (never the one the
    DBA is typing in)."""
    moment, zone = reading.moment, reading.zone
    local = moment.astimezone(zone) if moment is not None and zone is not None else None
    return {
        "reading": reading,
        "point_utc_text": timeline.input_text(moment.astimezone(UTC)) if moment else "",
        "point_local_text": timeline.input_text(local) if local is not None else "",
        "point_local": local,
        "zone_name": zone.key if zone is not None else "",
        "point_local_label": (
            local_text(moment, zone) if local is not None and not is_utc(zone) else ""
        ),
        "rewrite_utc": moment is not None and source in ("local", "event"),
        "rewrite_local": local is not None and source in ("utc", "event"),
        "point_source": "local" if source == "local" else "utc",
    }
