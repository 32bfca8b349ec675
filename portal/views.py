"""Portal pages: the server group list, a group's Overview, notifications, activity."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import LogoutView
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from . import bell, selectors, services
from .backends import BackendError, get_backends
from .guards import failure_page
from .models import ActivityEvent, Notification, OpenPreview
from .selectors import servergroup_context

LIST_COLUMNS = [
    ("name", "Name"),
    ("status", "Status"),
    ("resource_group", "Resource group"),
    ("location", "Location"),
    ("subscription", "Subscription"),
    ("nodes", "Nodes"),
]


@require_GET
def trivial(request: HttpRequest) -> HttpResponse:
    """The baseline the benchmarks compare pages with: auth and middleware, no work."""
    return HttpResponse("ok", content_type="text/plain")


@require_GET
def servergroup_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100]
    sort = request.GET.get("sort", "name")
    if sort not in selectors.SORT_KEYS:
        sort = "name"
    descending = request.GET.get("dir") == "desc"
    listing = selectors.server_groups_all(query=query, sort=sort, descending=descending)
    page = Paginator(listing.groups, settings.PORTAL_PAGE_SIZE).get_page(request.GET.get("page"))
    columns = [
        {
            "key": key,
            "label": label,
            "active": key == sort,
            "next_dir": "asc" if key == sort and descending else "desc" if key == sort else "asc",
        }
        for key, label in LIST_COLUMNS
    ]
    template = "portal/servergroup_list.html"
    if request.htmx and request.htmx.target == "servergroup-table":
        template += "#table"
    return render(
        request,
        template,
        {
            "page": page,
            "listing": listing,
            "query": query,
            "sort": sort,
            "dir": "desc" if descending else "asc",
            "columns": columns,
            "backends_configured": bool(settings.PORTAL_BACKENDS),
        },
    )


@require_POST
def servergroup_refresh(request: HttpRequest) -> HttpResponse:
    for backend in get_backends().values():
        backend.refresh()
    response = HttpResponse(status=303)
    response["Location"] = reverse("servergroup_list")
    return response


@require_GET
def servergroup_overview(request: HttpRequest, backend: str, name: str) -> HttpResponse:
    try:
        context = servergroup_context(request, backend, name)
    except BackendError as error:
        return failure_page(request, name, error)
    context["delete_blocker"] = context["backend"].delete_blocker(context["group"])
    return render(request, "portal/servergroup_overview.html", context)


@require_GET
def notification_panel(request: HttpRequest) -> HttpResponse:
    """The bell's flyout (htmx) or the Notifications page. Viewing the page reads them:
    the badge clears, and this one view still shows which were new."""
    notifications = list(request.user.notifications.all()[:20])
    if request.htmx:
        return render(
            request,
            "portal/notifications.html#panel",
            {"notifications": notifications, "bell_sections": bell.sections(request)},
        )
    services.notifications_mark_read(user=request.user)
    return render(
        request,
        "portal/notifications.html",
        {
            "notifications": notifications,
            "full_page": True,
            "nav": "notifications",
            "bell_sections": bell.sections(request),
        },
    )


@require_GET
def notification_badge(request: HttpRequest) -> HttpResponse:
    """The bell's unread count, polled; new notifications since ``after`` become toasts."""
    after = request.GET.get("after", "")
    # The bell's figures come from the chrome context processor, read by the partial.
    response = render(request, "base.html#bell-badge")
    if after.isdigit():
        fresh = list(request.user.notifications.filter(id__gt=int(after)).order_by("id")[:3])
        if fresh:
            trigger_client_event(
                response,
                "portal:toast",
                {"items": [toast_payload(n) for n in fresh]},
            )
    return response


def toast_payload(notification: Notification) -> dict:
    return {
        "title": notification.title,
        "body": notification.body,
        "level": notification.level,
        "link": notification.link,
        "link_text": notification.link_text,
        "more_link": notification.more_link,
        "more_link_text": notification.more_link_text,
    }


@require_POST
def notification_mark_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(user=request.user)
    if request.htmx:
        response = render(
            request,
            "portal/notifications.html#panel",
            {
                "notifications": request.user.notifications.all()[:20],
                "bell_sections": bell.sections(request),
            },
        )
        trigger_client_event(response, "portal:notifications-read")
        return response
    response = HttpResponse(status=303)
    response["Location"] = reverse("notification_panel")
    return response


@require_GET
def activity_log(request: HttpRequest) -> HttpResponse:
    events = ActivityEvent.objects.all()
    if not (request.user.is_superuser or request.user.is_staff):
        events = events.filter(actor=request.user)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "portal/activity_log.html", {"page": page})


@require_GET
def portal_menu(request: HttpRequest) -> HttpResponse:
    """The portal's menu as a page: what the phone's menu button opens without scripts."""
    return render(request, "portal/menu.html")


def administrator_required(request: HttpRequest) -> None:
    if not (request.user.is_superuser or request.user.is_staff):
        raise PermissionDenied("Only portal administrators may see and lift sign-in lockouts.")


@require_http_methods(["GET", "POST"])
def signin_lockout_list(request: HttpRequest) -> HttpResponse:
    """Accounts and addresses locked out after failed sign-ins; POST lifts one."""
    administrator_required(request)
    if request.method == "POST":
        kind, value = request.POST.get("kind", ""), request.POST.get("value", "")[:150]
        if kind not in {"account", "address"} or not value:
            messages.error(request, "Choose a locked account or address to unlock.")
        else:
            removed = services.signin_lockout_reset(
                actor=request.user,
                username=value if kind == "account" else "",
                address=value if kind == "address" else "",
            )
            messages.success(
                request, f"Unlocked {kind} {value} ({removed} failure records removed)."
            )
        return redirect("signin_lockout_list")
    return render(
        request,
        "portal/signin_lockouts.html",
        {
            "lockouts": selectors.signin_lockouts(),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": settings.AXES_COOLOFF_TIME.total_seconds() / 60,
            "nav": "lockouts",
        },
    )


class SignOutView(LogoutView):
    """Sign out; first close every preview this user holds (each is a running server)."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            services.previews_close(records=OpenPreview.objects.filter(user=request.user))
        return super().post(request, *args, **kwargs)
