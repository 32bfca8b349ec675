"""A group's "Backup and restore" page: the restore window, the backups, and the
restores from and into the group."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseStopPolling

from portal.backends import BackendError

from .. import selectors
from .guards import servergroup_for_user, wizard_view


@require_GET
@wizard_view
def backup_and_restore(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    """The restore window, base backups per node, and the restores from and into the
    group; while one runs, htmx polls the restores table (286 stops it)."""
    context = servergroup_for_user(request, backend, name)
    group = context["group"]
    restores = list(selectors.restores_of_group(group.backend, group.name)[:50])
    context.update(restores=restores, running=any(op.is_active for op in restores))
    if request.htmx and request.htmx.target == "restores":
        response = render(request, "restore_wizard/backup_and_restore.html#restores", context)
        if not context["running"]:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    context.update(window=None, window_error="", backups=[], backups_error="")
    window_section(context)
    backups_section(context)
    return render(request, "restore_wizard/backup_and_restore.html", context)


def window_section(context: dict) -> None:
    """The restore window, or why there is none; a failure is a line on the page."""
    group, cloud = context["group"], context["backend"]
    if not cloud.can_restore:
        context["window_error"] = f"The {cloud.label} backend cannot restore server groups."
    elif group.has_backup:
        try:
            context["window"] = cloud.restore_window(group.id)  # exact, as the wizard's
        except BackendError as error:
            context["window_error"] = error.message
    else:
        context["window_error"] = "The server group has no completed backup yet."


def backups_section(context: dict) -> None:
    """A cloud that restores from full backups lists those (flexible server), others
    their per-node base backups; a failure is a line on the page."""
    group, cloud = context["group"], context["backend"]
    context["full_backups"] = cloud.can_restore and "fast" in cloud.restore_choices(group)
    try:
        if context["full_backups"]:
            context["backups"] = cloud.restore_backups(group.id)
        else:
            context["backups"] = cloud.backups(group.id)
    except BackendError as error:
        context["backups_error"] = error.message
