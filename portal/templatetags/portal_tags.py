"""Template helpers: every time on screen is UTC, labelled, with the local time beside it."""

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def utc_time(moment: datetime | None, seconds: bool = True, local: bool = True) -> str:
    """``2026-11-24 20:31:05 UTC``; the script adds the browser's local time beside it."""
    if moment is None:
        return "—"
    moment = moment.astimezone(UTC)
    shown = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    if not local:
        return format_html('<time datetime="{}">{} UTC</time>', moment.isoformat(), shown)
    return format_html(
        '<time datetime="{}" data-local-time>{} UTC</time>', moment.isoformat(), shown
    )


@register.simple_tag
def icon(name: str) -> str:
    """One icon of the sprite (templates/portal/icons.html); decorative, so hidden."""
    return format_html(
        '<svg class="icon" aria-hidden="true" focusable="false"><use href="#icon-{}"></use></svg>',
        name,
    )
