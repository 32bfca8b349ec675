"""Template helpers: every time on screen is UTC, labelled, with the local time beside it."""

from datetime import datetime

from django import template
from django.utils.html import format_html

from portal.instants import utc_iso, utc_text

register = template.Library()


@register.simple_tag
def utc_time(moment: datetime | None, local: bool = True) -> str:
    """``2026-11-24 20:31:05 UTC`` (with the microseconds when the instant has them,
    through ``portal.instants``); the script writes the browser's local time beside it,
    in the same shape, unless ``local=False`` (dense lists)."""
    if moment is None:
        return "—"
    return format_html(
        '<time datetime="{}"{}>{}</time>',
        utc_iso(moment),
        " data-local-time" if local else "",
        utc_text(moment),
    )


@register.simple_tag
def icon(name: str) -> str:
    """One icon of the sprite (templates/portal/icons.html); decorative, so hidden."""
    return format_html(
        '<svg class="icon" aria-hidden="true" focusable="false"><use href="#icon-{}"></use></svg>',
        name,
    )
