"""Sign-in throttling glue for django-axes: whose address a sign-in comes from."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import render


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's, or, behind ``PORTAL_SIGNIN_PROXY_COUNT``
    proxies, the one the outermost trusted proxy saw. Entries further left in
    X-Forwarded-For are the client's own say and could be anything."""
    proxies = settings.PORTAL_SIGNIN_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR", "")
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    return hops[-proxies] if len(hops) >= proxies else remote


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """The page a refused sign-in gets (429): why, and for how long."""
    minutes = settings.AXES_COOLOFF_TIME.total_seconds() / 60
    return render(
        request,
        "portal/signin_locked.html",
        {"failure_limit": settings.AXES_FAILURE_LIMIT, "lockout_minutes": minutes},
        status=429,
    )
