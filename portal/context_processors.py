from django.conf import settings


def chrome(request):
    """What the portal chrome (top bar, bell) needs on every page."""
    context = {
        "product_name": settings.PORTAL_PRODUCT_NAME,
        "poll_seconds": settings.PORTAL_POLL_SECONDS,
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["unread_count"] = user.notifications.filter(read_at__isnull=True).count()
    return context
