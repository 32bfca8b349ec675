"""The wizard's steps (the seed's flow): step 1 picks the restore point (earliest or
custom), step 2 takes the details, and OK (a POST to the restore URL) starts one
operation. Steps are plain GETs, so the wizard works without JavaScript; with htmx the
steps swap in place.
"""

from __future__ import annotations

import uuid
from datetime import UTC

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from portal.backends import BackendError

from .. import selectors, timeline
from ..estimates import estimate_context
from ..forms import RestoreForm, read_point
from ..models import RestoreOperation
from ..services.checks import RestoreRefused, restore_target_problem
from ..services.operations import restore_operation_start
from .guards import servergroup_for_user, wizard_for_user, wizard_view
from .point import timeline_context, timeline_index_start
from .previews import previews_close

TEMPLATE = "restore_wizard/restore.html"


@require_http_methods(["GET", "POST"])
@wizard_view
def restore(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """GET: step 1, the restore point. POST: OK, which starts the restore."""
    context = wizard_for_user(request, backend, name)
    if request.method == "GET":
        # "Change" on step 2 comes back here with the choice made, to keep it selected.
        choice = request.GET.get("choice", "")
        context.update(step=1, choice=choice if choice in context["choices"] else "")
        return render(request, TEMPLATE + ("#step1" if request.htmx else ""), context)
    return restore_ok(request, context)


def restore_ok(request: HttpRequest, context: dict) -> HttpResponse:
    """OK: validate the details and start one operation, or show step 2 with the errors."""
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
        operation, created = restore_operation_start(
            user=request.user,
            backend=context["backend"],
            group=context["group"],
            choice=data["choice"],
            point=point,
            target_name=data["target_name"],
            idempotency_key=data["idempotency_key"],
        )
    except RestoreRefused as refused_error:
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


@require_GET
@wizard_view
def restore_details(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """Step 2: the new server's name, the restore point (custom), the fixed fields."""
    context = wizard_for_user(request, backend, name)
    choice = request.GET.get("choice")
    if choice not in context["choices"]:
        context["step"] = 1
        context["choice_error"] = (
            "Choose the earliest or a custom restore point."
            if tuple(context["choices"]) == ("earliest", "custom")
            else "Choose a restore point."
        )
        return render(request, TEMPLATE + ("#step1" if request.htmx else ""), context)
    form = RestoreForm(
        initial={
            "choice": choice,
            "idempotency_key": uuid.uuid4(),
            # The latest restorable point unless a point was chosen (an event's "just
            # before"): a value that can be restored to, never an example.
            "point": request.GET.get("point", "")[:64]
            or timeline.input_text(context["window"].latest.astimezone(UTC)),
        },
        backend=context["backend"],
        group=context["group"],
        window=context["window"],
        now=context["now"],
    )
    return details_response(request, context, form, choice)


def details_response(request, context, form, choice) -> HttpResponse:
    """Render step 2 (the whole page, or the step alone for htmx)."""
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
    if choice == RestoreOperation.Choice.CUSTOM:
        # The timeline is drawn in the step itself: it works without scripts.
        point = read_point({"point": form["point"].value() or ""}).moment
        if point is not None and not context["window"].contains(point):
            point = None
        if "from" not in request.GET and "to" not in request.GET:  # opened, not zoomed
            timeline_index_start(context)
        timeline_context(context, point, request.GET)
    context["preview_nodes"] = [node.name for node in group.nodes] or ["coordinator"]
    point = read_point(form.data if form.is_bound else form.initial).moment
    estimate_context(context, choice, point)
    return render(request, TEMPLATE + ("#step2" if request.htmx else ""), context)


@require_GET
def check_name(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """As-you-type availability of the new name, through the backend. Its answer is a
    line under the field, so a failure is that line, never a page."""
    try:
        context = servergroup_for_user(request, backend, name)
    except BackendError as error:
        return render(request, TEMPLATE + "#name-check", {"name_error": error.message})
    if not context["may_restore"]:
        return HttpResponse("Only restore operators may check names.", status=403)
    # One character over the cloud's limit is enough to be refused with its rule.
    target = request.GET.get("target_name", "").strip()[: context["backend"].name_max_length + 1]
    group = context["group"]
    location = group.paired_location if request.GET.get("choice") == "geo" else group.location
    problem = context["backend"].name_problem(target)
    if problem is None:
        try:
            problem = restore_target_problem(
                backend=context["backend"],
                group=group,
                target_name=target,
                location=location or group.location,
            )
        except BackendError as error:
            problem = f"The name could not be checked: {error.message}"
    return render(
        request,
        TEMPLATE + "#name-check",
        {"name_error": problem, "name_ok": None if problem else target},
    )
