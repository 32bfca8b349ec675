"""The restore wizard (the seed's flow), operation pages and post-restore tasks.

Step 1 picks the restore point (earliest or custom), step 2 takes the details, and
OK (a POST to the restore URL) starts one operation. Steps are plain GETs, so the
wizard works without JavaScript; with htmx the steps swap in place.
"""

from __future__ import annotations

import uuid
from datetime import UTC

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from portal import services as portal_services
from portal.backends import BackendError, NotFound, get_backend
from portal.instants import is_utc, local_text, utc_text
from portal.models import ActivityEvent, OpenPreview
from portal.services import activity_record
from portal.services import may_restore as services_may_restore
from portal.views import servergroup_context

from . import selectors, services, timeline
from .forms import PointReading, RestoreForm, read_point
from .models import RestoreOperation

TEMPLATE = "restore_wizard/restore.html"


def problem_page(request: HttpRequest, name: str, message: str, status: int) -> HttpResponse:
    return render(
        request, "portal/servergroup_error.html", {"name": name, "message": message}, status=status
    )


def open_wizard(request: HttpRequest, backend_key: str, name: str):
    """(context, None) when this user may restore this group now, else (None, a response);
    the context carries the restore window, read now."""
    context, refused = guard_wizard(request, backend_key, name)
    if refused:
        return None, refused
    return read_window(request, context)


def guard_wizard(request: HttpRequest, backend_key: str, name: str):
    """(context, None) when this user may restore this group, else (None, a response).
    No window yet: a view that changes what the window covers reads it afterwards."""
    try:
        context = servergroup_context(request, backend_key, name)
    except BackendError as error:
        status = 404 if isinstance(error, NotFound) else 502
        return None, problem_page(request, name, error.message, status)
    refused = refuse(request, context)
    if refused:
        return None, refused
    return context, None


def read_window(request: HttpRequest, context: dict):
    """Add the backend's restore window, exact to the microsecond, and the time now.

    The wizard uses the window as the backend gives it, never rounded: the events the
    timeline lists, the points it offers and the points the form accepts share these
    bounds, so an event in the newest second is listed and restorable to just before.
    "Now" is read first: a running group's latest point is the backend's own now, which
    is then not before it.
    """
    context["now"] = timezone.now()
    try:
        context["window"] = context["backend"].restore_window(context["group"].id)
    except BackendError as error:
        return None, problem_page(request, context["group"].name, error.message, 502)
    context["choices"] = context["backend"].restore_choices(context["group"])
    return context, None


def refuse(request: HttpRequest, context: dict) -> HttpResponse | None:
    """The guard every wizard view opens with: why this user may not restore this group."""
    group = context["group"]
    if not context["may_restore"]:
        if request.method == "POST":
            activity_record(
                actor=request.user,
                action="restore",
                result=ActivityEvent.Result.REFUSED,
                backend=group.backend,
                target=group.name,
                message="Not a member of the Restore operators group.",
            )
        return problem_page(
            request,
            group.name,
            'Only members of the "Restore operators" group may restore server groups. '
            "Ask a portal administrator to add you.",
            403,
        )
    if context["restore_blocker"]:
        return problem_page(
            request, group.name, f"Restore is not available: {context['restore_blocker']}", 409
        )
    return None


@require_http_methods(["GET", "POST"])
def restore(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """GET: step 1, the restore point. POST: OK, which starts the restore."""
    context, refused = open_wizard(request, backend, name)
    if refused:
        return refused
    if request.method == "GET":
        # "Change" on step 2 comes back here with the choice made, to keep it selected.
        choice = request.GET.get("choice", "")
        context.update(step=1, choice=choice if choice in context["choices"] else "")
        template = TEMPLATE + ("#step1" if request.htmx else "")
        return render(request, template, context)

    # A double click or a resubmitted form answers with the operation it already started,
    # before validation: by now the name is taken by that very operation.
    existing = selectors.operation_for_key(
        key=request.POST.get("idempotency_key", ""), user=request.user
    )
    if existing is not None:
        return operation_started(request, existing, created=False)
    form = RestoreForm(
        request.POST,
        backend=context["backend"],
        group=context["group"],
        window=context["window"],
        now=context["now"],
    )
    if not form.is_valid():
        choice = form.data.get("choice")
        if choice not in context["choices"]:
            choice = context["choices"][0]
        return details_response(request, context, form, choice)
    data = form.cleaned_data
    point = data["backup"] if data["choice"] == RestoreOperation.Choice.FAST else data["point"]
    try:
        operation, created = services.restore_operation_start(
            user=request.user,
            backend=context["backend"],
            group=context["group"],
            choice=data["choice"],
            point=point,
            target_name=data["target_name"],
            idempotency_key=data["idempotency_key"],
        )
    except services.RestoreRefused as refused_error:
        form.add_error(refused_error.field, refused_error.message)
        return details_response(request, context, form, data["choice"])
    previews_close(request, context["backend"], context["group"].name)
    return operation_started(request, operation, created=created)


def operation_started(request: HttpRequest, operation: RestoreOperation, *, created: bool):
    """Close the wizard: a new restore goes back to its source's Overview with the
    initiated banner; a repeated OK goes to the restore it already started."""
    follow = reverse("operation_detail", args=[operation.pk])
    if created:
        messages.success(
            request,
            format_html(
                'The restore operation has been initiated: {} to {}. <a href="{}">Follow the '
                'restore</a><span hidden hx-get="{}" hx-trigger="every {}s" '
                'hx-target="closest .banner" hx-swap="outerHTML"></span>',
                operation.source_name,
                operation.target_name,
                follow,
                reverse("operation_banner", args=[operation.pk]),
                settings.PORTAL_POLL_SECONDS,
            ),
        )
        destination = reverse(
            "servergroup_overview", args=[operation.backend, operation.source_name]
        )
    else:
        messages.info(
            request,
            f"This restore was already initiated (operation #{operation.pk}); "
            "nothing new was started.",
        )
        destination = follow
    if request.htmx:
        return HttpResponseClientRedirect(destination)
    return redirect(destination)


def details_response(request, context, form, choice) -> HttpResponse:
    context.update(step=2, form=form, choice=choice)
    group = context["group"]
    context["target_location"] = (
        group.paired_location if choice == RestoreOperation.Choice.GEO else group.location
    )
    if choice == RestoreOperation.Choice.FAST:
        try:
            context["backups"] = context["backend"].restore_backups(group.id)
        except BackendError as error:
            context["backups_error"] = f"The backups could not be read: {error.message}"
    # The timeline is its own request (htmx, on load): the step shows at once.
    context["preview_nodes"] = [node.name for node in context["group"].nodes] or ["coordinator"]
    template = TEMPLATE + ("#step2" if request.htmx else "")
    return render(request, template, context)


def timeline_context(context: dict, point) -> dict:
    """The restore window drawn with the backend's WAL events (when it has them)."""
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
    context.update(
        timeline=found,
        timeline_svg=timeline.render(found, window, point, context["urls"]["restore_details"]),
        event_rows=rows,
        events_hidden=hidden,
    )
    return context


@require_GET
def restore_point(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """As you type a custom point: what it is in UTC and in your time, whether it can be
    restored to, the other field filled in, and the point marked on the timeline."""
    context, refused = open_wizard(request, backend, name)
    if refused:
        return refused
    reading = read_point(request.GET)
    problem = ""
    if reading.moment is not None:
        problem = (
            services.restore_point_problem(reading.moment, context["window"], context["now"]) or ""
        )
    context.update(point_context(reading, request.GET.get("point_source") or "utc"))
    context["point_problem"] = problem
    timeline_context(context, reading.moment if not problem else None)
    return render(request, TEMPLATE + "#point-conversion", context)


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


@require_http_methods(["GET", "POST"])
def restore_timeline(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """The restore window with its WAL events (GET); POST indexes the WAL archived since
    the agent's last pass first ("Index the latest WAL now")."""
    context, refused = guard_wizard(request, backend, name)
    if refused:
        return refused
    problem = ""
    if request.method == "POST":
        try:
            context["backend"].refresh_timeline(context["group"].id)
        except BackendError as error:
            problem = f"The WAL could not be indexed: {error.message}"
    # Read after the index pass: the window then reaches past every event it found.
    context, refused = read_window(request, context)
    if refused:
        return refused
    data = request.POST if request.method == "POST" else request.GET
    point = read_point(data).moment
    if point is not None and services.restore_point_problem(
        point, context["window"], context["now"]
    ):
        point = None
    timeline_context(context, point)
    context["timeline_error"] = problem or context["timeline_error"]
    return render(request, TEMPLATE + "#timeline-section", context)


@require_GET
def restore_details(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """Step 2: the new server's name, the restore point (custom), the fixed fields."""
    context, refused = open_wizard(request, backend, name)
    if refused:
        return refused
    choice = request.GET.get("choice")
    if choice not in context["choices"]:
        context["step"] = 1
        context["choice_error"] = (
            "Choose the earliest or a custom restore point."
            if tuple(context["choices"]) == ("earliest", "custom")
            else "Choose a restore point."
        )
        return render(request, TEMPLATE + ("#step1" if request.htmx else ""), context)
    group = context["group"]
    form = RestoreForm(
        initial={
            "choice": choice,
            "idempotency_key": uuid.uuid4(),
            "point": request.GET.get("point", "")[:64],
        },
        backend=context["backend"],
        group=group,
        window=context["window"],
        now=context["now"],
    )
    return details_response(request, context, form, choice)


@require_GET
def check_name(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """As-you-type availability of the new name, through the backend."""
    try:
        context = servergroup_context(request, backend, name)
    except BackendError as error:
        return render(request, TEMPLATE + "#name-check", {"name_error": error.message})
    if not context["may_restore"]:
        return HttpResponse("Only restore operators may check names.", status=403)
    target = request.GET.get("target_name", "").strip()[:100]
    group = context["group"]
    location = group.paired_location if request.GET.get("choice") == "geo" else group.location
    problem = context["backend"].name_problem(target)
    if problem is None:
        try:
            problem = services.restore_target_problem(
                context["backend"], group, target, location=location or group.location
            )
        except BackendError as error:
            problem = f"The name could not be checked: {error.message}"
    return render(
        request,
        TEMPLATE + "#name-check",
        {"name_error": problem, "name_ok": None if problem else target},
    )


@require_GET
def operation_list(request: HttpRequest) -> HttpResponse:
    operations = RestoreOperation.objects.select_related("created_by")
    page = Paginator(operations, 25).get_page(request.GET.get("page"))
    return render(
        request, "restore_wizard/operation_list.html", {"page": page, "nav": "operations"}
    )


def operation_context(request: HttpRequest, operation: RestoreOperation) -> dict:
    """What the operation page and its live partial show, and whether this user may
    cancel it (an operator, on a cloud that can stop a restore)."""
    try:
        cloud = get_backend(operation.backend)
    except BackendError:
        cloud = None
    return {
        "operation": operation,
        "phases": selectors.operation_phases(operation),
        "nav": "operations",
        "cloud_label": cloud.label if cloud else operation.backend,
        "may_cancel": bool(
            cloud
            and cloud.can_cancel
            and operation.is_active
            and services_may_restore(request.user)
        ),
    }


@require_GET
def operation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    operation = get_object_or_404(RestoreOperation.objects.select_related("created_by"), pk=pk)
    context = operation_context(request, operation)
    if request.htmx:
        response = render(request, "restore_wizard/operation_detail.html#status", context)
        if not operation.is_active:
            # 286 tells htmx to stop polling; the final state is in this response.
            response.status_code = HttpResponseStopPolling.status_code
        return response
    return render(request, "restore_wizard/operation_detail.html", context)


def bell_restores(request: HttpRequest) -> str:
    """The bell's section of running restores (registered with ``portal.bell``)."""
    if not request.user.is_authenticated:
        return ""
    operations = selectors.running_restores_for(request.user)
    if not operations:
        return ""
    return render_to_string(
        "restore_wizard/bell_restores.html", {"operations": operations}, request=request
    )


@require_GET
def operations_running(request: HttpRequest) -> HttpResponse:
    """The bell's running restores, polled while the panel is open (286 when none)."""
    operations = selectors.running_restores_for(request.user)
    response = render(request, "restore_wizard/bell_restores.html", {"operations": operations})
    if not operations:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_http_methods(["GET", "POST"])
def operation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation. POST: stop the restore (Restore operators only)."""
    operation = get_object_or_404(RestoreOperation.objects.select_related("created_by"), pk=pk)
    context = operation_context(request, operation)
    if not services_may_restore(request.user):
        if request.method == "POST":
            activity_record(
                actor=request.user,
                action="cancel restore",
                result=ActivityEvent.Result.REFUSED,
                backend=operation.backend,
                target=operation.target_name,
                message="Not a member of the Restore operators group.",
            )
        return problem_page(
            request,
            operation.target_name,
            'Only members of the "Restore operators" group may cancel restores.',
            403,
        )
    if request.method == "GET":
        return render(request, "restore_wizard/operation_cancel.html", context)
    try:
        services.restore_operation_cancel(operation_id=operation.pk, user=request.user)
    except services.RestoreRefused as error:
        messages.error(request, error.message)
    return redirect("operation_detail", pk=operation.pk)


@require_GET
def operation_banner(request: HttpRequest, pk: int) -> HttpResponse:
    """The source's "initiated" banner, polled: nothing to swap while the restore runs
    (204), its outcome once it has finished (286 stops the polling)."""
    operation = get_object_or_404(RestoreOperation, pk=pk)
    if operation.is_active:
        return HttpResponse(status=204)
    response = render(
        request, "restore_wizard/operation_detail.html#outcome-banner", {"operation": operation}
    )
    response.status_code = HttpResponseStopPolling.status_code
    return response


@require_GET
def post_restore(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    try:
        context = servergroup_context(request, backend, name)
        context["tasks"] = selectors.post_restore_tasks(context["backend"], context["group"])
    except BackendError as error:
        return problem_page(
            request, name, error.message, 404 if isinstance(error, NotFound) else 502
        )
    return render(request, "restore_wizard/post_restore.html", context)


@require_GET
def backup_and_restore(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """The restore window, base backups per node, and the restores from and into the
    group; while one runs, htmx polls the restores table (286 stops it)."""
    try:
        context = servergroup_context(request, backend, name)
    except BackendError as error:
        return problem_page(
            request, name, error.message, 404 if isinstance(error, NotFound) else 502
        )
    group, cloud = context["group"], context["backend"]
    restores = list(selectors.restores_of_group(group.backend, group.name)[:50])
    context.update(restores=restores, running=any(op.is_active for op in restores))
    if request.htmx and request.htmx.target == "restores":
        response = render(request, "restore_wizard/backup_and_restore.html#restores", context)
        if not context["running"]:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    context.update(window=None, window_error="", backups=[], backups_error="")
    if not cloud.can_restore:
        context["window_error"] = f"The {cloud.label} backend cannot restore server groups."
    elif group.has_backup:
        try:
            context["window"] = cloud.restore_window(group.id)  # exact, as the wizard's
        except BackendError as error:
            context["window_error"] = error.message
    else:
        context["window_error"] = "The server group has no completed backup yet."
    if cloud.can_restore and "fast" in cloud.restore_choices(group):
        # A cloud that restores from full backups lists those (flexible server), not
        # per-node base backups.
        context["full_backups"] = True
        try:
            context["backups"] = cloud.restore_backups(group.id)
        except BackendError as error:
            context["backups_error"] = error.message
        return render(request, "restore_wizard/backup_and_restore.html", context)
    try:
        context["backups"] = cloud.backups(group.id)
    except BackendError as error:
        context["backups_error"] = error.message
    return render(request, "restore_wizard/backup_and_restore.html", context)


@require_POST
def copy_from_source(request: HttpRequest, backend: str, name: str, what: str) -> HttpResponse:
    """Copy firewall rules or server parameters from the source group (operators only)."""
    try:
        context = servergroup_context(request, backend, name)
    except BackendError as error:
        return problem_page(
            request, name, error.message, 404 if isinstance(error, NotFound) else 502
        )
    group, source_backend = context["group"], context["backend"]
    if not context["may_restore"]:
        return problem_page(
            request, name, 'Only members of the "Restore operators" group may copy settings.', 403
        )
    if not group.restored_from or what not in {"firewall", "parameters"}:
        return problem_page(request, name, "This server group was not restored from another.", 400)
    label = "firewall rules" if what == "firewall" else "server parameters"
    try:
        source = source_backend.find_server_group(group.restored_from)
        copy = (
            source_backend.copy_firewall_rules
            if what == "firewall"
            else source_backend.copy_parameters
        )
        result = copy(source.id, group.id)
    except BackendError as error:
        activity_record(
            actor=request.user,
            action=f"copy {label}",
            result=ActivityEvent.Result.FAILED,
            backend=backend,
            target=name,
            message=error.message,
        )
        messages.error(
            request, f"Copying {label} from {group.restored_from} failed: {error.message}"
        )
    else:
        count = result.firewall_rules if what == "firewall" else result.parameters
        copied = selectors.count_noun(
            count, "firewall rule" if what == "firewall" else "server parameter"
        )
        note = (
            " Some need a restart of the server group to take effect."
            if result.needs_restart
            else ""
        )
        activity_record(
            actor=request.user,
            action=f"copy {label}",
            result=ActivityEvent.Result.SUCCEEDED,
            backend=backend,
            target=name,
            detail={"source": group.restored_from, "copied": count},
        )
        messages.success(request, f"Copied {copied} from {group.restored_from}.{note}")
    destination = reverse("post_restore", args=[backend, name])
    if request.htmx:
        return HttpResponseClientRedirect(destination)
    return redirect(destination)


@require_POST
def post_restore_mark(request: HttpRequest, backend: str, name: str, task: str) -> HttpResponse:
    """A DBA marks a task done (or not done again) where the portal cannot check it."""
    if not services_may_restore(request.user):
        return problem_page(
            request, name, 'Only members of the "Restore operators" group may mark tasks.', 403
        )
    try:
        context = servergroup_context(request, backend, name)
        tasks = selectors.post_restore_tasks(context["backend"], context["group"])
    except BackendError as error:
        return problem_page(
            request, name, error.message, 404 if isinstance(error, NotFound) else 502
        )
    found = next((t for t in tasks if t.key == task and t.markable), None)
    if found is None:
        return problem_page(
            request,
            name,
            "The portal checks this task itself; it cannot be marked by hand.",
            400,
        )
    services.post_restore_mark(
        user=request.user,
        backend=context["backend"],
        group=context["group"],
        task=task,
        title=found.title,
        done=request.POST.get("done") != "0",
    )
    return redirect(reverse("post_restore", args=[backend, name]) + f"#task-{task}")


# Previews: the data at T, read-only, before OK ------------------------------------------

PREVIEW_TEMPLATE = "restore_wizard/preview.html"


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


@require_POST
def preview_start(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """Preview data at this point: a read-only copy of one node paused at T."""
    context, refused = open_wizard(request, backend, name)
    if refused:
        return refused
    source = context["backend"]
    if not source.can_preview:
        context["preview_error"] = f"The {source.label} backend cannot preview data at a point."
        return preview_response(request, context)
    reading = read_point(request.POST)
    problem = reading.error
    if reading.moment is not None:
        problem = services.restore_point_problem(reading.moment, context["window"], context["now"])
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


def owned_preview(request: HttpRequest, backend: str, name: str, preview_id: str):
    """(context, None) when this session started ``preview_id`` on this group."""
    context, refused = open_wizard(request, backend, name)
    if refused:
        return None, refused
    if (
        not my_previews(request)
        .filter(backend=backend, group_name=name, preview_id=preview_id)
        .exists()
    ):
        context["preview_error"] = (
            "This preview is closed, has expired, or was started in another browser session. "
            "Start a new one."
        )
        return None, preview_response(request, context)
    return context, None


@require_GET
def preview_panel(request: HttpRequest, backend: str, name: str, preview_id: str) -> HttpResponse:
    """The preview's state, polled while it starts; its tables once it is ready."""
    context, answered = owned_preview(request, backend, name, preview_id)
    if answered:
        return answered
    source = context["backend"]
    try:
        preview = source.preview_status(preview_id)
        if preview.status == "Ready":
            context["tables"] = source.preview_tables(preview_id)
    except BackendError as error:
        my_previews(request).filter(backend=backend, preview_id=preview_id).delete()
        context["preview_error"] = error.message
        return preview_response(request, context)
    context["preview"] = preview
    return preview_response(request, context)


@require_POST
def preview_query(request: HttpRequest, backend: str, name: str, preview_id: str) -> HttpResponse:
    """One bounded read-only query on the preview; the answer comes by the deadline
    whatever the backend does."""
    context, answered = owned_preview(request, backend, name, preview_id)
    if answered:
        return answered
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
def preview_close(request: HttpRequest, backend: str, name: str, preview_id: str) -> HttpResponse:
    """Close the preview (the Close button, or the page being left: a beacon)."""
    context, answered = owned_preview(request, backend, name, preview_id)
    if answered:
        return answered
    portal_services.previews_close(
        records=my_previews(request).filter(backend=backend, preview_id=preview_id)
    )
    if not request.htmx:
        return HttpResponse(status=204)
    context["preview_closed"] = True
    return preview_response(request, context)
