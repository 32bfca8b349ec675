"""Figures of a running restore in words: durations and rates."""

from datetime import timedelta

from django import template
from django.template.defaultfilters import filesizeformat

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
