from functools import cache

from django.conf import settings
from django.db.models import Count, Max, Q
from django.urls import reverse

CHROME_PAGES = [
    "servergroup_list",
    "operation_list",
    "activity_log",
    "notification_panel",
    "notification_badge",
    "logout",
]


@cache
def chrome_urls() -> dict[str, str]:
    """The chrome's links, reversed once per process rather than on every page."""
    return {name: reverse(name) for name in CHROME_PAGES}


def chrome(request):
    """What the portal chrome (top bar, bell) needs on every page."""
    context = {
        "product_name": settings.PORTAL_PRODUCT_NAME,
        "poll_seconds": settings.PORTAL_POLL_SECONDS,
        "chrome_urls": chrome_urls(),
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # One query: the unread count for the badge, and the newest id so that the
        # badge's poll can tell which notifications arrived after this page.
        bell = user.notifications.aggregate(
            unread_count=Count("id", filter=Q(read_at__isnull=True)), newest_id=Max("id")
        )
        context["unread_count"] = bell["unread_count"]
        context["newest_id"] = bell["newest_id"] or 0
    return context
