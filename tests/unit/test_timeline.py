"""The restore window drawn on the server: positions, markers and the events table."""

import re
from datetime import UTC, datetime, timedelta

from portal.backends.base import RestoreWindow, Timeline, TimelineEvent
from restore_wizard import timeline

START = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
WINDOW = RestoreWindow(START, START + timedelta(days=7))
DETAILS = "/servergroups/local/shop/restore/details/"


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

    svg = str(timeline.render(found, WINDOW, START + timedelta(days=7), DETAILS))

    middle = (timeline.LEFT + timeline.RIGHT) / 2
    assert re.search(rf'<g class="tl-event"><title>[^<]+</title><line x1="{middle}"', svg)
    assert "DROP TABLE public.invoices in database citus on coordinator, committed" in svg
    assert svg.count('class="tl-backup"') == 2
    assert f'<line x1="{float(timeline.RIGHT)}" y1="2"' in svg  # the point, at the end
    bars = re.findall(r'<rect class="tl-activity" x="([\d.]+)"', svg)
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
    svg = str(timeline.render(Timeline((), (newest,), ()), window, row.just_before, DETAILS))

    assert row.just_before == START + timedelta(seconds=1.5)
    assert row.link.endswith("point=2026-11-17+12%3A00%3A01.500000")
    assert row.reason == "the last commit before this event"
    assert 'class="tl-point"' in svg and svg.count('class="tl-event"') == 1


def test_no_point_marker_outside_the_window_and_text_is_escaped():
    tricky = event(10, relations=('public."<script>"',))

    svg = str(timeline.render(Timeline((), (tricky,), ()), WINDOW, START - timedelta(1), DETAILS))

    assert 'class="tl-point"' not in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
