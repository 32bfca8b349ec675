"""The Drills pages: one per group on its blade (schedule, run now, evidence) and one
for the fleet; exports for auditors. Only "Restore operators" start or schedule drills."""

from __future__ import annotations

import json
from datetime import time

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.guards import Refused, blade_view, require_operator
from portal.services import may_restore

from . import selectors, services
from .models import Drill, DrillPlan

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@require_http_methods(["GET", "POST"])
@blade_view
def group(request: HttpRequest, context: dict) -> HttpResponse:
    """GET: the group's plan and drills. POST ``action``: ``schedule`` or ``run``."""
    backend, server_group = context["backend"], context["group"]
    plan = services.plan_for(backend.key, server_group.name)
    plan_error = ""
    if request.method == "POST":
        require_operator(context, "start or schedule restore drills")
        if request.POST.get("action") == "run":
            return run_now(request, context)
        try:
            plan_save(request, context)
        except Refused as refused:
            plan_error = refused.message
        else:
            messages.success(request, f"Saved the drill schedule of {server_group.name}.")
            return redirect(context["urls"]["drill_group"])
    drills = selectors.group_drills(backend.key, server_group.name)
    context.update(
        plan=plan,
        plan_error=plan_error,
        drills=drills,
        chart=selectors.rto_chart(drills),
        running=any(drill.is_active for drill in drills),
        days=list(enumerate(DAYS)),
        points=Drill.Point.choices,
        frequencies=DrillPlan.Frequency.choices,
        blocker=services.drill_blocker(backend, server_group),
        is_cloud=backend.restores_cost_money,
    )
    template = "drills/group.html"
    if request.htmx:
        template += "#drill-list"
    return render(request, template, context, status=400 if plan_error else 200)


def plan_save(request: HttpRequest, context: dict) -> None:
    backend, server_group = context["backend"], context["group"]
    frequency = request.POST.get("frequency", "off")
    if frequency not in DrillPlan.Frequency.values:
        raise Refused("Choose a schedule: no schedule, daily or weekly.", 400)
    text = request.POST.get("time_utc", "").strip()
    at = None
    if frequency != "off" or text:
        try:
            at = time.fromisoformat(text)
        except ValueError:
            raise Refused(
                f"'{text}' is not a time of day; write it as HH:MM in UTC, e.g. 02:30.", 400
            ) from None
    try:
        weekday = int(request.POST.get("weekday", "0"))
    except ValueError:
        weekday = -1
    if not 0 <= weekday <= 6:
        raise Refused("Choose a day of the week for a weekly drill.", 400)
    point = request.POST.get("point_choice", Drill.Point.LATEST)
    if point not in Drill.Point.values:
        raise Refused("Choose the point: latest, random or earliest.", 400)
    services.plan_save(
        backend_key=backend.key,
        group_name=server_group.name,
        frequency=frequency,
        time_utc=at.replace(second=0, microsecond=0) if at else None,
        weekday=weekday,
        point_choice=point,
        assertions=request.POST.get("assertions", "")[:10_000],
        cloud_cost_accepted=request.POST.get("cloud_cost_accepted") == "on",
        user=request.user,
    )


def run_now(request: HttpRequest, context: dict) -> HttpResponse:
    backend, server_group = context["backend"], context["group"]
    try:
        drill = services.drill_start(
            backend_key=backend.key,
            group_name=server_group.name,
            point_choice=request.POST.get("point_choice", Drill.Point.LATEST),
            trigger=Drill.Trigger.USER,
            user=request.user,
        )
    except services.DrillRefused as refused:
        messages.error(request, f"The drill was not started: {refused.message}")
    else:
        messages.success(
            request,
            f"Drill {drill.pk} of {server_group.name} is queued; it restores into "
            f"{drill.scratch_name} and removes it when done.",
        )
    return redirect(context["urls"]["drill_group"])


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A drill's evidence; while it runs, its restore's progress and Cancel."""
    drill = get_object_or_404(Drill.objects.select_related("operation"), pk=pk)
    template = "drills/detail.html"
    if request.htmx:
        template += "#evidence"
    context = {
        "drill": drill,
        "operation": drill.operation,
        "poll": drill.is_active,
        "may_cancel": drill.is_active and may_restore(request.user),
        "nav": "drills",
    }
    return render(request, template, context)


@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    drill = get_object_or_404(Drill, pk=pk)
    if not may_restore(request.user):
        return HttpResponseForbidden(
            'Only members of the "Restore operators" group may cancel restore drills.'
        )
    try:
        said = services.drill_cancel(drill_id=drill.pk, user=request.user)
    except services.DrillRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, said)
    return redirect("drill_detail", drill.pk)


@require_GET
def fleet(request: HttpRequest) -> HttpResponse:
    rows, errors = selectors.fleet()
    failures = Drill.objects.filter(status=Drill.Status.FAILED)[:20]
    recent = list(Drill.objects.all()[: selectors.CHART_DRILLS])
    return render(
        request,
        "drills/fleet.html",
        {
            "rows": rows,
            "errors": errors,
            "failures": failures,
            "chart": selectors.rto_chart(recent),
            "grace_hours": settings.PORTAL_DRILL_OVERDUE_GRACE_HOURS,
            "overdue_days": settings.PORTAL_DRILL_OVERDUE_DAYS,
            "nav": "drills",
        },
    )


@require_GET
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    """Every drill (or one group's, with ``?backend=&group=``) as CSV or JSON."""
    drills = Drill.objects.all().order_by("created_at", "pk")
    if request.GET.get("group"):
        drills = drills.filter(
            backend=request.GET.get("backend", "local"), group_name=request.GET["group"]
        )
    stem = f"drills-{request.GET.get('group') or 'all'}"
    if fmt == "csv":
        response = HttpResponse(selectors.export_csv(drills), content_type="text/csv")
    else:
        body = json.dumps([selectors.drill_record(drill) for drill in drills], indent=2)
        response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return response
