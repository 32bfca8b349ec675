"""The restore window drawn on the server: an SVG of backups, activity and WAL events.

Pure presentation over ``portal.backends.base.Timeline``: positions are computed here,
so the page needs no script to show it, and the events table beside it says the same
in words for screen readers and keyboards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from portal.backends.base import RestoreWindow, Timeline, TimelineEvent
from portal.instants import clock_text, utc_text

WIDTH = 960
LEFT, RIGHT = 16, 944  # the window's ends on the axis
AXIS_Y = 84
BAR_TOP, BAR_BOTTOM = 14, 80
BUCKETS = 240
TICKS = 6
TABLE_LIMIT = 100  # events listed in the table (the SVG marks them all)


def input_text(moment: datetime) -> str:
    """How a moment is written into a point field, in its own zone (the label names it)."""
    return clock_text(moment)


@dataclass(frozen=True)
class EventRow:
    """One event as the table lists it."""

    event: TimelineEvent
    just_before: datetime | None  # None: before the window, cannot be restored to
    link: str  # step 2 with the point set just before the event (works without script)
    summary: str

    @property
    def point_text(self) -> str:
        return input_text(self.just_before.astimezone(UTC)) if self.just_before else ""

    @property
    def reason(self) -> str:
        """Why the point is "just before" the event, for the link's title."""
        if self.just_before is not None and self.just_before != self.event.before:
            return "the earliest restore point; this node committed nothing more before this event"
        return "the last commit before this event"


def describe(event: TimelineEvent) -> str:
    where = ", ".join(event.relations) or "an unnamed relation"
    if event.database:
        where = f"{where} in database {event.database}"
    if event.kind in ("DELETE", "UPDATE"):
        return f"{event.kind} of {event.rows:,} rows in {where}"
    return f"{event.kind} {where}"


def just_before(event: TimelineEvent, window: RestoreWindow) -> datetime | None:
    """The restore point that undoes ``event``, inside ``window``, or None.

    The last commit on the event's node before it, when the window holds it. When that
    commit is older than the earliest point but the event is newer, the earliest point
    itself: the node committed nothing between the two, so its data there is the same.
    """
    before = event.before
    if before is None:
        return None
    if window.contains(before):
        return before
    if before < window.earliest < event.commit_time <= window.latest:
        return window.earliest
    return None


def event_rows(
    timeline: Timeline, window: RestoreWindow, details_url: str
) -> tuple[list[EventRow], int]:
    """The newest events first, at most TABLE_LIMIT; and how many were left out."""
    rows = []
    events = list(reversed(timeline.events))
    for event in events[:TABLE_LIMIT]:
        point = just_before(event, window)
        link = ""
        if point is not None:
            query = urlencode({"choice": "custom", "point": input_text(point.astimezone(UTC))})
            link = f"{details_url}?{query}"
        rows.append(EventRow(event, point, link, describe(event)))
    return rows, max(0, len(events) - TABLE_LIMIT)


class Scale:
    def __init__(self, window: RestoreWindow):
        self.start = window.earliest
        self.span = max((window.latest - window.earliest).total_seconds(), 1.0)

    def x(self, moment: datetime) -> float:
        share = (moment - self.start).total_seconds() / self.span
        return round(LEFT + min(max(share, 0.0), 1.0) * (RIGHT - LEFT), 1)


def activity_bars(timeline: Timeline, scale: Scale) -> SafeString:
    """Commits per bucket of the window, as bars scaled to the busiest bucket."""
    counts = [0] * BUCKETS
    span = scale.span
    start = scale.start
    for minute, commits in timeline.activity:
        index = int((minute - start).total_seconds() / span * BUCKETS)
        if 0 <= index < BUCKETS:
            counts[index] += commits
        elif index == BUCKETS:
            counts[-1] += commits
    busiest = max(counts) or 1
    step = (RIGHT - LEFT) / BUCKETS
    height = BAR_BOTTOM - BAR_TOP
    parts = []
    for index, count in enumerate(counts):
        if not count:
            continue
        bar = max(1.0, round(count / busiest * height, 1))
        parts.append(
            f'<rect class="tl-activity" x="{LEFT + index * step:.1f}" '
            f'y="{BAR_BOTTOM - bar:.1f}" width="{max(step - 0.5, 0.5):.1f}" height="{bar}"/>'
        )
    return mark_safe("".join(parts))  # numbers only


def tick_label(moment: datetime, span: float) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%b %d %H:%M" if span > 3 * 3600 else "%H:%M:%S")


def render(
    timeline: Timeline | None,
    window: RestoreWindow,
    point: datetime | None,
    details_url: str,
) -> SafeString:
    """The SVG for the window; ``point`` is the chosen restore point, if any."""
    scale = Scale(window)
    ticks = []
    for index in range(TICKS + 1):
        moment = window.earliest + timedelta(seconds=scale.span * index / TICKS)
        anchor = "start" if index == 0 else "end" if index == TICKS else "middle"
        ticks.append((scale.x(moment), anchor, tick_label(moment, scale.span)))
    tick_svg = format_html_join(
        "",
        '<line class="tl-tick" x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>'
        '<text class="tl-label" x="{0}" y="{3}" text-anchor="{4}">{5}</text>',
        ((x, AXIS_Y, AXIS_Y + 5, AXIS_Y + 18, anchor, label) for x, anchor, label in ticks),
    )
    backups = []
    events = []
    bars = mark_safe("")
    if timeline is not None:
        bars = activity_bars(timeline, scale)
        backups = [
            (scale.x(end), f"Backup of {node} ({utc_text(end)})")
            for node, end in timeline.backups
            if window.contains(end)
        ]
        events = []
        for event in timeline.events:
            x = scale.x(event.commit_time)
            title = f"{describe(event)} on {event.node}, committed {utc_text(event.commit_time)}"
            events.append((x, BAR_TOP - 6, AXIS_Y, title))
    backup_svg = format_html_join(
        "",
        '<path class="tl-backup" d="M{0} {1} L{2} {3} L{4} {3} Z"><title>{5}</title></path>',
        ((x, AXIS_Y, x - 5, AXIS_Y + 7, x + 5, title) for x, title in backups),
    )
    event_svg = format_html_join(
        "",
        '<g class="tl-event"><title>{3}</title><line x1="{0}" y1="{1}" x2="{0}" y2="{2}"/>'
        '<circle cx="{0}" cy="{1}" r="4"/></g>',
        events,
    )
    point_svg = ""
    if point is not None and window.contains(point):
        x = scale.x(point)
        anchor = "start" if x < WIDTH / 2 else "end"
        shift = 4 if anchor == "start" else -4
        point_svg = format_html(
            '<g class="tl-point"><title>Restore point: {}</title>'
            '<line x1="{}" y1="2" x2="{}" y2="{}"/>'
            '<text class="tl-point-label" x="{}" y="10" text-anchor="{}">Restore point</text></g>',
            utc_text(point),
            x,
            x,
            AXIS_Y + 4,
            x + shift,
            anchor,
        )
    return format_html(
        '<svg class="timeline" viewBox="0 0 {} 110" role="img" aria-labelledby="tl-title tl-desc" '
        'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        '<title id="tl-title">Restore window of the server group</title>'
        '<desc id="tl-desc">From {} to {}; the table below lists the events in words.</desc>'
        '<line class="tl-axis" x1="{}" y1="{}" x2="{}" y2="{}"/>{}{}{}{}{}</svg>',
        WIDTH,
        utc_text(window.earliest),
        utc_text(window.latest),
        LEFT,
        AXIS_Y,
        RIGHT,
        AXIS_Y,
        bars,
        tick_svg,
        backup_svg,
        event_svg,
        point_svg,
    )
