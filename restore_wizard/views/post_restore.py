"""After a restore: the new group's tasks (what the portal checks, what a DBA marks),
and copying firewall rules or server parameters from the source."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal.backends import BackendError
from portal.models import ActivityEvent
from portal.services import activity_record

from .. import selectors
from ..services import post_restore as post_restore_services
from .guards import Refused, operator_required, servergroup_for_user, wizard_view

COPIES = {
    "firewall": ("firewall rules", "firewall rule"),
    "parameters": ("server parameters", "server parameter"),
}


@require_GET
@wizard_view
def post_restore(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    context = servergroup_for_user(request, backend, name)
    context["tasks"] = selectors.post_restore_tasks(context["backend"], context["group"])
    return render(request, "restore_wizard/post_restore.html", context)


def restored_group_for_operator(request: HttpRequest, backend: str, name: str) -> dict:
    """The group's context when this user may change it and it was restored from
    another; raises Refused (403, 400) or BackendError."""
    context = servergroup_for_user(request, backend, name)
    operator_required(request, what="copy settings", target=name)
    if not context["group"].restored_from:
        raise Refused("This server group was not restored from another.", 400)
    return context


@require_POST
@wizard_view
def copy_from_source(request: HttpRequest, backend: str, name: str, what: str) -> HttpResponse:
    """Copy firewall rules or server parameters from the source group (operators only)."""
    context = restored_group_for_operator(request, backend, name)
    if what not in COPIES:
        raise Refused("This server group was not restored from another.", 400)
    group, source_backend = context["group"], context["backend"]
    label, noun = COPIES[what]
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
        copied = selectors.count_noun(count, noun)
        messages.success(request, f"Copied {copied} from {group.restored_from}.{note}")
    destination = reverse("post_restore", args=[backend, name])
    if request.htmx:
        return HttpResponseClientRedirect(destination)
    return redirect(destination)


@require_POST
@wizard_view
def post_restore_mark(request: HttpRequest, backend: str, name: str, task: str) -> HttpResponse:
    """A DBA marks a task done (or not done again) where the portal cannot check it."""
    operator_required(request, what="mark tasks", target=name)
    context = servergroup_for_user(request, backend, name)
    tasks = selectors.post_restore_tasks(context["backend"], context["group"])
    found = next((t for t in tasks if t.key == task and t.markable), None)
    if found is None:
        raise Refused("The portal checks this task itself; it cannot be marked by hand.", 400)
    post_restore_services.post_restore_mark(
        user=request.user,
        backend=context["backend"],
        group=context["group"],
        task=task,
        title=found.title,
        done=request.POST.get("done") != "0",
    )
    return redirect(reverse("post_restore", args=[backend, name]) + f"#task-{task}")
