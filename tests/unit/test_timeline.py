"""The restore window drawn on the server: positions, markers, zoom and the events table."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from django.template.loader import render_to_string

from portal.backends.base import RestoreWindow, Timeline, TimelineEvent
from restore_wizard import timeline

START = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
WINDOW = RestoreWindow(START, START + timedelta(days=7))
DETAILS = "/servergroups/local/shop/restore/details/"
TIMELINE = "/servergroups/local/shop/restore/timeline/"
LINKS = timeline.ZoomLinks(details_url=DETAILS, timeline_url=TIMELINE, point="")


def draw(found, window, point, view=None) -> str:
    """The chart as the page draws it (the template partial), whole window by default."""
    view = view or timeline.view_read(window)
    chart = timeline.chart(found, window, point, view, LINKS)
    return render_to_string("restore_wizard/timeline.html#chart", {"chart": chart})


def event(hours: float, kind="DROP TABLE", before_seconds=0.25, **fields) -> TimelineEvent:
    committed = START + timedelta(hours=hours)
    return TimelineEvent(
        node=fields.get("node", "coordinator"),
        kind=kind,
        commit_time=committed,
        before=committed - timedelta(seconds=before_seconds),
        database="citus",
        relations=fields.get("relations", ("public.invoices",)),
        rows=fields.get("rows", 0),
    )


def test_markers_sit_where_their_moments_are_on_the_axis():
    drop = event(84)  # half way through the window
    found = Timeline(
        backups=(("coordinator", START), ("worker-1", START + timedelta(days=1))),
        events=(drop,),
        activity=((START + timedelta(days=6), 4),),
    )

    svg = draw(found, WINDOW, START + timedelta(days=7))

    middle = (timeline.LEFT + timeline.RIGHT) / 2
    assert re.search(rf'<g class="tl-event"><title>[^<]+</title><line x1="{middle}%"', svg)
    assert "DROP TABLE public.invoices in database citus on coordinator, committed" in svg
    assert svg.count('class="tl-backup"') == 2
    assert f'<line x1="{timeline.RIGHT}%" y1="2"' in svg  # the point, at the end
    bars = re.findall(r'<rect class="tl-activity" x="([\d.]+)%"', svg)
    assert len(bars) == 1 and float(bars[0]) > middle


def test_events_table_lists_newest_first_with_the_point_just_before_each():
    old, new = event(1), event(100, kind="DELETE", rows=5000, relations=("public.orders",))

    rows, hidden = timeline.event_rows(Timeline((), (old, new), ()), WINDOW, DETAILS)

    assert hidden == 0
    assert [row.summary for row in rows] == [
        "DELETE of 5,000 rows in public.orders in database citus",
        "DROP TABLE public.invoices in database citus",
    ]
    assert rows[0].just_before == new.before
    assert rows[0].point_text == timeline.input_text(new.before)
    assert rows[0].link.startswith(DETAILS + "?choice=custom&point=2026-11-21+15%3A59%3A59.75")


def test_an_event_at_or_before_the_earliest_point_cannot_be_restored_to():
    at_earliest = event(0, before_seconds=60)
    earlier = event(-1, before_seconds=60)

    rows, _ = timeline.event_rows(Timeline((), (earlier, at_earliest), ()), WINDOW, DETAILS)

    assert [(row.just_before, row.link) for row in rows] == [(None, ""), (None, "")]


def test_an_event_just_after_the_earliest_point_restores_to_the_earliest_point():
    # Its node's last commit before it is older than the window: nothing changed on the
    # node between the earliest point and the event, so the earliest point undoes it.
    early = event(0.0001, before_seconds=60)

    (row,), _ = timeline.event_rows(Timeline((), (early,), ()), WINDOW, DETAILS)

    assert row.just_before == WINDOW.earliest
    assert row.link == DETAILS + "?choice=custom&point=2026-11-17+12%3A00%3A00"
    assert "the earliest restore point" in row.reason


def test_an_event_in_the_newest_microseconds_of_the_window_is_restorable_to_just_before():
    # Committed at 12:00:01.6, in the same second as the window's end, 12:00:01.600001.
    newest = event(1.6 / 3600, before_seconds=0.1)
    window = RestoreWindow(START, newest.commit_time + timedelta(microseconds=1))

    (row,), _ = timeline.event_rows(Timeline((), (newest,), ()), window, DETAILS)
    svg = draw(Timeline((), (newest,), ()), window, row.just_before)

    assert row.just_before == START + timedelta(seconds=1.5)
    assert row.link.endswith("point=2026-11-17+12%3A00%3A01.500000")
    assert row.reason == "the instant before this event's commit, on every node"
    assert 'class="tl-point"' in svg and svg.count('class="tl-event"') == 1


def test_no_point_marker_outside_the_window_and_text_is_escaped():
    tricky = event(10, relations=('public."<script>"',))

    svg = draw(Timeline((), (tricky,), ()), WINDOW, START - timedelta(1))

    assert 'class="tl-point"' not in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_events_a_second_apart_share_a_marker_that_zooms_in_until_they_separate():
    first = event(84)
    second = event(84 + 1 / 3600)  # one second later
    found = Timeline((), (first, second), ())

    whole = timeline.chart(found, WINDOW, None, timeline.view_read(WINDOW), LINKS)
    (cluster,) = whole.markers
    assert cluster.count == 2 and "zoom in to tell them apart" in cluster.title
    asked = parse_qs(urlsplit(cluster.link).query)
    zoomed_view = timeline.view_read(WINDOW, asked["from"][0], asked["to"][0])
    zoomed = timeline.chart(found, WINDOW, None, zoomed_view, LINKS)

    assert zoomed_view.end - zoomed_view.start < timedelta(seconds=10)
    assert [marker.count for marker in zoomed.markers] == [1, 1]
    apart = zoomed.markers[1].x - zoomed.markers[0].x
    assert apart > 10  # percent of the chart's width: plainly two markers
    assert zoomed.markers[0].point == timeline.input_text(first.before)
    assert zoomed.step == 1  # the arrow keys move the point by a second at this zoom
    assert [tick.label for tick in zoomed.ticks][:2] == ["23:59:59", "00:00:00"]


def test_a_zoom_stays_inside_the_window_and_at_least_two_seconds_wide():
    inside = timeline.view_read(WINDOW, "2026-11-18 10:00:00", "2026-11-18 10:00:00.5")
    past_the_end = timeline.view_read(WINDOW, "2026-11-24 11:59:59.5", "2026-11-30 00:00:00")
    nonsense = timeline.view_read(WINDOW, "yesterday", "2026-11-18 10:00:00")

    assert inside.end - inside.start == timeline.MIN_SPAN
    assert past_the_end.end == WINDOW.latest
    assert past_the_end.end - past_the_end.start == timeline.MIN_SPAN
    assert (nonsense.start, nonsense.end) == (WINDOW.earliest, WINDOW.latest)


def test_axis_labels_name_the_day_over_days_and_the_minute_over_an_hour():
    week = timeline.ticks(timeline.view_read(WINDOW))
    hour = timeline.ticks(timeline.view_read(WINDOW, "2026-11-18 10:00:00", "2026-11-18 11:00:00"))

    assert week[0].label == "Nov 18 00:00" and 4 <= len(week) <= 12
    assert [tick.label for tick in hour] == [
        "10:00",
        "10:10",
        "10:20",
        "10:30",
        "10:40",
        "10:50",
        "11:00",
    ]


def test_any_view_gets_four_to_twelve_ticks_on_round_moments():
    # Azure's window is seven days and a moment: the ticks stay a day apart, at
    # midnight, rather than two days apart (three or four, by the time of day).
    week_and_a_bit = timeline.View(START, START + timedelta(days=7, seconds=1, microseconds=7))
    assert [tick.label[7:] for tick in timeline.ticks(week_and_a_bit)] == ["00:00"] * 7
    spans = [timedelta(seconds=s) for s in (5, 7, 13, 45, 100, 333, 3601, 25_201, 86_401)]
    spans += [timedelta(days=d, seconds=1) for d in (2, 3, 5, 7, 10, 20, 35, 90, 200, 400)]
    for span in spans:
        for offset in (timedelta(0), timedelta(seconds=0.3), timedelta(hours=13, minutes=17)):
            view = timeline.View(START + offset, START + offset + span)
            ticks = timeline.ticks(view)
            assert 4 <= len(ticks) <= 12, (span, offset, [tick.label for tick in ticks])
            xs = [tick.x for tick in ticks]
            assert xs == sorted(set(xs)) and timeline.LEFT <= xs[0] and xs[-1] <= timeline.RIGHT


def test_zoom_links_keep_the_point_and_work_without_script():
    links = timeline.ZoomLinks(
        details_url=DETAILS, timeline_url=TIMELINE, point="2026-11-18 10:00:00"
    )
    chart = timeline.chart(
        None, WINDOW, datetime(2026, 11, 18, 10, tzinfo=UTC), timeline.view_read(WINDOW), links
    )

    (zoom_in,) = chart.zooms  # the whole window: nothing to zoom out to
    assert zoom_in.label == "Zoom in"
    assert zoom_in.link.startswith(DETAILS + "?choice=custom&point=2026-11-18+10%3A00%3A00&from=")
    assert zoom_in.partial.startswith(TIMELINE + "?")
