"""The pages of one server group's blade besides its Overview: Activity log, Nodes,
Networking, Server parameters, Connection strings, the phone menu, and Delete.

Every view opens through ``guards.blade_view``: it loads the group (a BackendError becomes
the error page) and maps ``Refused`` (who may not, or what may not happen now) to a page
that says why. Only "Restore operators" (``services.may_restore``) change anything;
viewers see everything but the admin password.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from . import blade, services
from .backends import BackendError
from .backends.base import FirewallRule
from .guards import Refused, blade_view, require_operator
from .models import ActivityEvent

Result = ActivityEvent.Result


def record(request: HttpRequest, context: dict, action: str, result: Result, **fields) -> None:
    group = context["group"]
    services.activity_record(
        actor=request.user,
        action=action,
        result=result,
        backend=group.backend,
        target=group.name,
        **fields,
    )


def back_to(context: dict, url_name: str) -> HttpResponse:
    return redirect(context["urls"][url_name])


def attempt(read: Callable, errors: list[str]):
    """``read()``, or None with its message added to ``errors``."""
    try:
        return read()
    except BackendError as error:
        errors.append(error.message)
        return None


# Activity log ---------------------------------------------------------------------------


@require_GET
@blade_view
def activity(request: HttpRequest, context: dict) -> HttpResponse:
    """This group's events: those that targeted it and the restores taken from it."""
    group = context["group"]
    events = ActivityEvent.objects.filter(backend=group.backend).filter(
        Q(target=group.name) | Q(detail__source=group.name)
    )
    if not (request.user.is_superuser or request.user.is_staff):
        events = events.filter(actor=request.user)
    context["page"] = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "portal/blade/activity.html", context)


# Nodes ----------------------------------------------------------------------------------


@require_GET
@blade_view
def nodes(request: HttpRequest, context: dict) -> HttpResponse:
    return render(request, "portal/blade/nodes.html", context)


# Networking -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@blade_view
def networking(request: HttpRequest, context: dict) -> HttpResponse:
    """Firewall rules. POST ``action``: save (add, or replace by name), delete, copy."""
    backend, group = context["backend"], context["group"]
    form = {"name": "", "start_ip": "", "end_ip": ""}
    form_error = ""
    if request.method == "POST":
        require_operator(context, "change firewall rules")
        action = request.POST.get("action", "")
        if action == "delete":
            return networking_delete(request, context)
        if action == "copy":
            return networking_copy(request, context)
        form = {key: request.POST.get(key, "").strip() for key in form}
        rule = FirewallRule(form["name"], form["start_ip"], form["end_ip"])
        try:
            backend.set_firewall_rule(group.id, rule)
        except BackendError as error:
            form_error = error.message
            record(request, context, "set firewall rule", Result.FAILED, message=error.message)
        else:
            record(
                request,
                context,
                "set firewall rule",
                Result.SUCCEEDED,
                detail={"rule": rule.name, "range": f"{rule.start_ip} - {rule.end_ip}"},
            )
            messages.success(
                request, f"Saved firewall rule '{rule.name}': {rule.start_ip} – {rule.end_ip}."
            )
            return back_to(context, "servergroup_networking")
    errors: list[str] = []
    rules = attempt(lambda: backend.firewall_rules(group.id), errors)
    editing = request.GET.get("edit", "")
    if request.method == "GET" and editing and rules:
        for rule in rules:
            if rule.name == editing:
                form = {"name": rule.name, "start_ip": rule.start_ip, "end_ip": rule.end_ip}
    context.update(
        rules=rules,
        errors=errors,
        form=form,
        form_error=form_error,
        editing=editing and form["name"] == editing,
        may_edit=context["may_restore"] and backend.can_edit_settings,
    )
    return render(
        request, "portal/blade/networking.html", context, status=400 if form_error else 200
    )


def networking_delete(request: HttpRequest, context: dict) -> HttpResponse:
    backend, group = context["backend"], context["group"]
    rule = request.POST.get("name", "")
    try:
        backend.delete_firewall_rule(group.id, rule)
    except BackendError as error:
        record(request, context, "delete firewall rule", Result.FAILED, message=error.message)
        messages.error(request, f"Firewall rule '{rule}' was not deleted: {error.message}")
    else:
        record(request, context, "delete firewall rule", Result.SUCCEEDED, detail={"rule": rule})
        messages.success(request, f"Deleted firewall rule '{rule}'.")
    return back_to(context, "servergroup_networking")


def networking_copy(request: HttpRequest, context: dict) -> HttpResponse:
    """Copy from source on a restored group: the source's rules replace this group's."""
    backend, group = context["backend"], context["group"]
    if not group.restored_from:
        raise Refused(f"{group.name} was not restored from another server group.", 400)
    try:
        source = backend.find_server_group(group.restored_from)
        count = backend.copy_firewall_rules(source.id, group.id).firewall_rules
    except BackendError as error:
        record(request, context, "copy firewall rules", Result.FAILED, message=error.message)
        messages.error(
            request, f"Copying firewall rules from {group.restored_from} failed: {error.message}"
        )
    else:
        record(
            request,
            context,
            "copy firewall rules",
            Result.SUCCEEDED,
            detail={"source": group.restored_from, "copied": count},
        )
        noun = "rule" if count == 1 else "rules"
        messages.success(request, f"Copied {count} firewall {noun} from {group.restored_from}.")
    return back_to(context, "servergroup_networking")


# Server parameters ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@blade_view
def parameters(request: HttpRequest, context: dict) -> HttpResponse:
    """What differs from the defaults; operators set one parameter at a time."""
    backend, group = context["backend"], context["group"]
    form = {"name": request.GET.get("edit", ""), "value": ""}
    form_error = ""
    if request.method == "POST":
        require_operator(context, "change server parameters")
        form = {key: request.POST.get(key, "").strip() for key in form}
        try:
            restart = backend.set_parameter(group.id, form["name"], form["value"])
        except BackendError as error:
            form_error = error.message
            record(request, context, "set server parameter", Result.FAILED, message=error.message)
        else:
            record(
                request,
                context,
                "set server parameter",
                Result.SUCCEEDED,
                detail={"parameter": form["name"], "value": form["value"]},
            )
            note = " Restart the server group for it to take effect." if restart else ""
            messages.success(request, f"Set {form['name']} to '{form['value']}'.{note}")
            return back_to(context, "servergroup_parameters")
    errors: list[str] = []
    catalog = None
    if backend.can_edit_settings:
        catalog = attempt(lambda: backend.parameter_catalog(group.id), errors)
        changed = [p for p in catalog or [] if p.value != p.default]
    else:
        changed = attempt(lambda: backend.parameters(group.id), errors) or []
        changed = [p for p in changed if p.value != p.default]
    if request.method == "GET" and catalog:
        for parameter in catalog:
            if parameter.name == form["name"]:
                form["value"] = parameter.value
    context.update(
        catalog=catalog,
        changed=changed,
        errors=errors,
        form=form,
        form_error=form_error,
        may_edit=context["may_restore"] and catalog is not None,
    )
    return render(
        request, "portal/blade/parameters.html", context, status=400 if form_error else 200
    )


# Connection strings ---------------------------------------------------------------------

PASSWORD_PLACEHOLDER = "{your_password}"


def connection_strings(info, password: str | None) -> list[tuple[str, str]]:
    """psql, the libpq URI and JDBC, with ``password`` in them only when given."""
    keywords = (
        f"host={info.host} port={info.port} dbname={info.database} user={info.user}"
        + (f" password={password}" if password is not None else "")
        + f" sslmode={info.sslmode}"
    )
    user = quote(info.user, safe="")
    uri_secret = quote(password, safe="") if password is not None else PASSWORD_PLACEHOLDER
    return [
        ("psql", f'psql "{keywords}"'),
        (
            "libpq URI",
            f"postgresql://{user}:{uri_secret}@{info.host}:{info.port}/"
            f"{quote(info.database, safe='')}?sslmode={info.sslmode}",
        ),
        (
            "JDBC",
            f"jdbc:postgresql://{info.host}:{info.port}/{quote(info.database, safe='')}"
            f"?user={user}&password={uri_secret}&sslmode={info.sslmode}",
        ),
    ]


@require_http_methods(["GET", "POST"])
@blade_view
def connection(request: HttpRequest, context: dict) -> HttpResponse:
    """GET: the strings with a placeholder. POST (operators): the same with the password,
    rendered once and never cached; the reveal is written to the activity log."""
    backend, group = context["backend"], context["group"]
    password = None
    password_error = ""
    if request.method == "POST":
        require_operator(context, "see the admin password")
        try:
            password = backend.admin_password(group.id)
        except BackendError as error:
            password_error = error.message
        else:
            record(request, context, "show password", Result.SUCCEEDED)
    info = backend.connection_info(group.id)
    context.update(
        info=info,
        strings=connection_strings(info, password),
        revealed=password,
        password_error=password_error,
    )
    response = render(request, "portal/blade/connection.html", context)
    if password is not None:
        response["Cache-Control"] = "no-store"
    return response


# The phone's menu page ------------------------------------------------------------------


@require_GET
@blade_view
def menu(request: HttpRequest, context: dict) -> HttpResponse:
    """The portal menu and this group's menu as a page: the menu button without scripts."""
    return render(request, "portal/blade/menu.html", context)


# Delete ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@blade_view
def delete(request: HttpRequest, context: dict) -> HttpResponse:
    """Delete the group once its name is typed (as Azure asks); operators only, and
    never while a restore runs into or from it."""
    backend, group = context["backend"], context["group"]
    require_operator(context, "delete server groups")
    reason = backend.delete_blocker(group) or blade.delete_refusal(group.backend, group.name)
    context.update(delete_refusal=reason, typed="", typed_error="")
    if request.method == "GET":
        return render(request, "portal/blade/delete.html", context)
    typed = request.POST.get("confirm_name", "").strip()
    context["typed"] = typed
    if reason:
        record(request, context, "delete", "refused", message=reason)
        return render(request, "portal/blade/delete.html", context, status=409)
    if typed != group.name:
        context["typed_error"] = (
            f"The name typed does not match. Type {group.name} exactly to delete it."
        )
        return render(request, "portal/blade/delete.html", context, status=400)
    try:
        backend.delete_server_group(group.id)
    except BackendError as error:
        record(request, context, "delete", Result.FAILED, message=error.message)
        context["delete_refusal"] = error.message
        return render(request, "portal/blade/delete.html", context, status=409)
    record(request, context, "delete", Result.SUCCEEDED)
    services.notification_create(
        user=request.user,
        title=f"Deleted {group.name}",
        body=f"The server group {group.name} and its backups were deleted.",
        level="success",
    )
    messages.success(request, f"Deleted server group {group.name}.")
    return redirect(reverse("servergroup_list"))
