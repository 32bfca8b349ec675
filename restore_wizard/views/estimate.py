"""Step 2's estimate of the restore, alone: htmx asks for it again when the custom
point changes (the point's answer triggers ``restore-point-changed``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..estimates import estimate_context
from ..forms import read_point
from .guards import wizard_for_user, wizard_view

TEMPLATE = "restore_wizard/restore_estimate.html"


@require_GET
@wizard_view
def restore_estimate(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    context = wizard_for_user(request, backend, name)
    choice = request.GET.get("choice", "")
    if choice not in context["choices"]:
        choice = context["choices"][0]
    point = read_point(request.GET).moment
    return render(request, TEMPLATE, estimate_context(context, choice, point))
