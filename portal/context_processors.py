from functools import cache, cached_property

from django.conf import settings
from django.db.models import Count, Max, Q
from django.urls import reverse

from . import blade
from .backends.base import GroupStatus, PreviewStatus

CHROME_PAGES = [
    "servergroup_list",
    "activity_log",
    "notification_panel",
    "notification_badge",
    "logout",
    "portal_menu",
    "signin_lockout_list",
]


@cache
def chrome_urls() -> dict[str, str]:
    """The chrome's links, reversed once per process rather than on every page."""
    return {name: reverse(name) for name in CHROME_PAGES}


@cache
def app_nav() -> list[dict]:
    """Links other apps registered for the portal's menu (``blade.register_nav_link``)."""
    return [
        {"url": reverse(link.url_name), "label": link.label, "icon": link.icon, "nav": link.nav}
        for link in blade.NAV_LINKS
    ]


class Bell:
    """The bell's figures, read only when a template shows them: partials rendered for
    htmx (a wizard step, the name check) carry no chrome and cost no query."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def figures(self) -> dict:
        # One query: the unread count for the badge, and the newest id so that the
        # badge's poll can tell which notifications arrived after this page.
        return self.user.notifications.aggregate(
            unread_count=Count("id", filter=Q(read_at__isnull=True)), newest_id=Max("id")
        )

    @property
    def unread_count(self) -> int:
        return self.figures["unread_count"]

    @property
    def newest_id(self) -> int:
        return self.figures["newest_id"] or 0


def chrome(request):
    """What the portal chrome (top bar, bell) needs on every page."""
    context = {
        "product_name": settings.PORTAL_PRODUCT_NAME,
        "poll_seconds": settings.PORTAL_POLL_SECONDS,
        "chrome_urls": chrome_urls(),
        "app_nav": app_nav(),
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["bell"] = Bell(user)
    return context


def states(request):
    """The portal's state enums, so templates compare against them, not string literals."""
    return {"GroupStatus": GroupStatus, "PreviewStatus": PreviewStatus}
