"""Figures of a running restore in words (durations, rates) and instants as the
wizard writes them."""

from datetime import UTC, datetime, timedelta

from django import template
from django.template.defaultfilters import filesizeformat

from portal import instants
from restore_wizard import timeline

register = template.Library()


@register.filter
def duration(value: float | timedelta | None) -> str:
    """``4 s``, ``2 min 05 s``, ``1 h 03 min``; an em dash when unknown."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def rate(value: float | None) -> str:
    """Bytes per second in the units of the byte figures beside it (``28.5 MB/s``);
    an em dash before one is measured."""
    if not value:
        return "—"
    return f"{filesizeformat(value)}/s"


@register.filter
def utc_text(moment: datetime | None) -> str:
    """``2026-11-24 14:09:33.775238 UTC``, as text (in an SVG title, an attribute)."""
    return instants.utc_text(moment)


@register.filter
def input_text(moment: datetime | None) -> str:
    """A moment as a point field takes it, in UTC (the field's label says UTC)."""
    return timeline.input_text(moment.astimezone(UTC)) if moment is not None else ""
