"""Restore operations: the list, one operation's page (polled while it runs), the bell's
running restores, the source's "initiated" banner, and Cancel."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from portal.backends import BackendError, get_backend
from portal.services import may_restore

from .. import selectors
from ..models import RestoreOperation
from ..services.checks import RestoreRefused
from ..services.operations import restore_operation_cancel
from .guards import operator_required, wizard_view


def operation_for_user(pk: int) -> RestoreOperation:
    """The operation (every signed-in user may watch any); 404 when there is none."""
    return get_object_or_404(RestoreOperation.objects.select_related("created_by"), pk=pk)


@require_GET
def operation_list(request: HttpRequest) -> HttpResponse:
    # A drill's restore links to its drill.
    operations = RestoreOperation.objects.select_related("created_by").prefetch_related("drills")
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
        # The page still shows a restore whose backend is no longer configured.
        cloud = None
    return {
        "operation": operation,
        "phases": selectors.operation_phases(operation),
        "nav": "operations",
        "cloud_label": cloud.label if cloud else operation.backend,
        "may_cancel": bool(
            cloud and cloud.can_cancel and operation.is_active and may_restore(request.user)
        ),
    }


@require_GET
def operation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    operation = operation_for_user(pk)
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
@wizard_view
def operation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation. POST: stop the restore (Restore operators only)."""
    operation = operation_for_user(pk)
    operator_required(
        request,
        what="cancel restores",
        action="cancel restore",
        backend=operation.backend,
        target=operation.target_name,
    )
    if request.method == "GET":
        return render(
            request, "restore_wizard/operation_cancel.html", operation_context(request, operation)
        )
    try:
        restore_operation_cancel(operation_id=operation.pk, user=request.user)
    except RestoreRefused as error:
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
