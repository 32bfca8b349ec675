"""The restore window laid out on the server: backups, activity and WAL events.

Pure presentation over ``portal.backends.base.Timeline``: positions are computed here
and the template ``restore_wizard/timeline.html`` draws them, so the page needs no
script to show the chart. The chart shows a ``View`` of the window (the whole window, or
a range zoomed into, down to seconds); events closer than a marker's width at that zoom
are one marker that zooms in on them, so events stay distinct at the zoom that
separates them. The events table beside it says the same in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from portal.backends.base import RestoreWindow, Timeline, TimelineEvent
from portal.instants import clock_text, utc_text

# Positions are percentages of the chart's width, so the SVG needs no viewBox: it fills
# the page's width while its text keeps its own size (readable axis labels).
LEFT, RIGHT = 1.5, 98.5  # the view's ends on the axis
MARKER_GAP = 1.0  # events closer than this (percent of the width) share one marker
MIN_SPAN = timedelta(seconds=2)  # the deepest zoom
BUCKETS = 240  # activity bars across the view, at most
DAY = 86400
# Round steps, no two neighbours more than 2.5 apart: the nearest to any span's seventh
# puts 4 to 12 ticks across it.
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
         DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 28 * DAY)  # fmt: skip
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
        return "the instant before this event's commit, on every node"


def describe(event: TimelineEvent) -> str:
    where = ", ".join(event.relations) or "an unnamed relation"
    if event.database:
        where = f"{where} in database {event.database}"
    if event.kind in ("DELETE", "UPDATE"):
        return f"{event.kind} of {event.rows:,} rows in {where}"
    return f"{event.kind} {where}"


def just_before(event: TimelineEvent, window: RestoreWindow) -> datetime | None:
    """The restore point that undoes ``event``, inside ``window``, or None.

    The instant before the event's commit (``event.before``), when the window holds it:
    every node's earlier commits are restored and the event is not. An index written
    before this rule may hold the node's previous commit instead: when that is older
    than the earliest point but the event is newer, the earliest point itself.
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


@dataclass(frozen=True)
class View:
    """The part of the restore window the chart shows, both ends inclusive, UTC."""

    start: datetime
    end: datetime

    @property
    def span(self) -> float:
        return max((self.end - self.start).total_seconds(), 1e-6)

    def x(self, moment: datetime) -> float:
        """Where ``moment`` sits on the axis, in percent of the chart's width."""
        share = (moment - self.start).total_seconds() / self.span
        return round(LEFT + min(max(share, 0.0), 1.0) * (RIGHT - LEFT), 3)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


def parse_moment(text: str) -> datetime | None:
    """A zoom bound as the links write it (``input_text`` in UTC, or ISO 8601)."""
    try:
        moment = datetime.fromisoformat(text.strip().removesuffix("UTC").strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def view_read(window: RestoreWindow, start_text: str = "", end_text: str = "") -> View:
    """The view asked for (``?from=&to=``), kept inside the window and at least
    MIN_SPAN wide; the whole window when nothing sensible is asked."""
    start, end = parse_moment(start_text or ""), parse_moment(end_text or "")
    if start is None or end is None or end <= start:
        return View(window.earliest, window.latest)
    start, end = max(start, window.earliest), min(end, window.latest)
    if end - start < MIN_SPAN:
        middle = start + (end - start) / 2
        start, end = middle - MIN_SPAN / 2, middle + MIN_SPAN / 2
        shift = max(window.earliest - start, timedelta(0)) - max(end - window.latest, timedelta(0))
        start, end = max(start + shift, window.earliest), min(end + shift, window.latest)
    if end <= start:
        return View(window.earliest, window.latest)
    return View(start, end)


def nice_step(seconds: float) -> int:
    """The round step (1 s, 2 s, 5 s, ... 12 h, 1 day, 2 days, 3 days, a week, two,
    four, then whole multiples of four weeks) nearest to ``seconds``, by ratio: the
    smallest one of at least ``seconds`` could be 2.5 times as long, so that a window of
    seven days and a second had ticks two days apart, three or four of them."""
    if seconds >= STEPS[-1]:
        return STEPS[-1] * round(seconds / STEPS[-1])
    wanted = max(seconds, STEPS[0])
    return min(STEPS, key=lambda step: max(step / wanted, wanted / step))


def step_words(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


@dataclass(frozen=True)
class Tick:
    x: float
    anchor: str
    label: str


def ticks(view: View) -> list[Tick]:
    """Axis ticks on round moments (about seven across), labelled as precisely as the
    zoom needs: the date once the view spans days, seconds once it spans minutes."""
    step = nice_step(view.span / 7)
    first = datetime.fromtimestamp(-(-view.start.timestamp() // step) * step, UTC)
    if view.span > 2 * 86400:
        shape = "%b %d %H:%M"
    elif step % 60 == 0:
        shape = "%H:%M"
    else:
        shape = "%H:%M:%S"
    found = []
    moment = first
    while moment <= view.end:
        x = view.x(moment)
        anchor = "start" if x < 6 else "end" if x > 94 else "middle"
        found.append(Tick(x, anchor, moment.strftime(shape)))
        moment += timedelta(seconds=step)
    return found


BAR_TOP, BAR_BOTTOM = 22, 88  # pixels: the bars stand on the axis


@dataclass(frozen=True)
class Bar:
    x: float  # percent
    width: float  # percent
    height: float  # pixels

    @property
    def y(self) -> float:
        return BAR_BOTTOM - self.height


def activity_bars(timeline: Timeline, view: View) -> list[Bar]:
    """Commits over time as bars scaled to the busiest: one per minute of activity, or
    at most BUCKETS across a view too long for that."""
    width = max(view.span / BUCKETS, 60.0)
    counts: dict[int, int] = {}
    for minute, commits in timeline.activity:
        if minute + timedelta(seconds=60) <= view.start or minute > view.end:
            continue
        index = int((minute - view.start).total_seconds() // width)
        counts[index] = counts.get(index, 0) + commits
    busiest = max(counts.values(), default=0) or 1
    bars = []
    for index, count in sorted(counts.items()):
        start = view.start + timedelta(seconds=index * width)
        left, right = view.x(start), view.x(start + timedelta(seconds=width))
        if right > left:
            height = round(max(count / busiest, 0.02) * (BAR_BOTTOM - BAR_TOP), 1)
            bars.append(Bar(left, round(right - left, 3), height))
    return bars


@dataclass(frozen=True)
class Marker:
    """One event on the axis, or several that are too close to tell apart at this zoom."""

    x: float
    events: tuple[TimelineEvent, ...]
    title: str
    point: str  # the event's "just before" (one event), for the point field
    link: str  # one event: step 2 at its "just before"; several: the zoom onto them

    @property
    def count(self) -> int:
        return len(self.events)


def markers(
    timeline: Timeline, window: RestoreWindow, view: View, links: ZoomLinks
) -> list[Marker]:
    groups: list[list[tuple[float, TimelineEvent]]] = []
    for event in timeline.events:
        if not view.contains(event.commit_time):
            continue
        x = view.x(event.commit_time)
        if groups and x - groups[-1][-1][0] < MARKER_GAP:
            groups[-1].append((x, event))
        else:
            groups.append([(x, event)])
    found = []
    for group in groups:
        events = tuple(event for _, event in group)
        x = round(sum(x for x, _ in group) / len(group), 3)
        if len(events) == 1:
            event = events[0]
            point = just_before(event, window)
            title = f"{describe(event)} on {event.node}, committed {utc_text(event.commit_time)}"
            point_text = input_text(point.astimezone(UTC)) if point else ""
            link = links.details(links.kept(view, window), point_text) if point else ""
            found.append(Marker(x, events, title, point_text, link))
            continue
        first, last = events[0].commit_time, events[-1].commit_time
        pad = max((last - first) / 2, MIN_SPAN / 2)
        zoom = view_read(window, input_text(first - pad), input_text(last + pad))
        title = (
            f"{len(events)} events from {utc_text(first)} to {utc_text(last)}: zoom in to "
            "tell them apart"
        )
        link = links.zoom(zoom) if zoom != view else ""
        found.append(Marker(x, events, title, "", link))
    return found


@dataclass(frozen=True)
class ZoomLinks:
    """Links that keep the wizard's state: step 2 (works without script) and the
    timeline alone (htmx)."""

    details_url: str
    timeline_url: str
    point: str  # the point as the page has it

    def query(self, view: View | None = None, point: str | None = None) -> str:
        fields = {"choice": "custom", "point": self.point if point is None else point}
        if view is not None:
            fields.update({"from": input_text(view.start), "to": input_text(view.end)})
        return urlencode({key: value for key, value in fields.items() if value})

    @staticmethod
    def kept(view: View, window: RestoreWindow) -> View | None:
        """The view to keep in a link: None for the whole window, which then follows a
        running group's latest point."""
        return None if (view.start, view.end) == (window.earliest, window.latest) else view

    def details(self, view: View | None = None, point: str | None = None) -> str:
        return f"{self.details_url}?{self.query(view, point)}#timeline-section"

    def zoom(self, view: View) -> str:
        return self.details(view)

    def timeline(self, view: View) -> str:
        return f"{self.timeline_url}?{self.query(view)}"


@dataclass(frozen=True)
class Zoom:
    label: str
    link: str
    partial: str


@dataclass(frozen=True)
class Chart:
    """Everything the template draws, and what the script needs to map a click or a
    key to a moment."""

    window: RestoreWindow
    view: View
    ticks: list[Tick]
    bars: list[Bar]
    backups: list[tuple[float, str]]
    markers: list[Marker]
    point: datetime | None
    point_x: float | None
    step: int
    zooms: list[Zoom] = field(default_factory=list)

    @property
    def zoomed(self) -> bool:
        return (self.view.start, self.view.end) != (self.window.earliest, self.window.latest)

    @property
    def step_text(self) -> str:
        return step_words(self.step)

    @property
    def point_anchor(self) -> str:
        return "start" if (self.point_x or 0) < 50 else "end"

    @staticmethod
    def micros(moment: datetime) -> int:
        return round(moment.timestamp() * 1_000_000)

    @property
    def view_start_us(self) -> int:
        return self.micros(self.view.start)

    @property
    def view_end_us(self) -> int:
        return self.micros(self.view.end)

    @property
    def earliest_us(self) -> int:
        return self.micros(self.window.earliest)

    @property
    def latest_us(self) -> int:
        return self.micros(self.window.latest)


def zooms(window: RestoreWindow, view: View, point: datetime | None, links: ZoomLinks):
    """Zoom in (to a quarter of the view, around the point when it is in view), zoom
    out (four times wider), and the whole window."""
    middle = (
        point
        if point is not None and view.contains(point)
        else view.start + (view.end - view.start) / 2
    )
    span = view.end - view.start
    found = []
    inner = view_read(window, input_text(middle - span / 8), input_text(middle + span / 8))
    if inner != view:
        found.append(Zoom("Zoom in", links.zoom(inner), links.timeline(inner)))
    outer = view_read(window, input_text(middle - span * 2), input_text(middle + span * 2))
    if outer != view:
        found.append(Zoom("Zoom out", links.zoom(outer), links.timeline(outer)))
        whole = View(window.earliest, window.latest)
        found.append(Zoom("Whole window", links.details(), links.timeline(whole)))
    return found


def chart(
    timeline: Timeline | None,
    window: RestoreWindow,
    point: datetime | None,
    view: View,
    links: ZoomLinks,
) -> Chart:
    """The chart of ``view``; ``point`` is the chosen restore point, if any."""
    bars, backups, found = [], [], []
    if timeline is not None:
        bars = activity_bars(timeline, view)
        backups = [
            (view.x(end), f"Backup of {node} ({utc_text(end)})")
            for node, end in timeline.backups
            if view.contains(end)
        ]
        found = markers(timeline, window, view, links)
    shown = point if point is not None and view.contains(point) else None
    return Chart(
        window=window,
        view=view,
        ticks=ticks(view),
        bars=bars,
        backups=backups,
        markers=found,
        point=shown,
        point_x=view.x(shown) if shown is not None else None,
        step=nice_step(view.span / 100),
        zooms=zooms(window, view, point, links),
    )
