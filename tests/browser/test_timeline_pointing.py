"""The timeline you can point at, in a real Chromium: a click sets the restore point, a
drag zooms into a range, two events one second apart share a marker over a day and
stand apart once zoomed, and the arrow keys move the point by the zoom's step."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def day_window(settings):
    settings.PORTAL_BACKENDS = {
        "local": {"BACKEND": "tests.fakes.doubles.TimelineBackend", "OPTIONS": {"count": 1}}
    }
    from portal.backends import get_backend

    return get_backend("local")


def point_value(page) -> datetime:
    return datetime.fromisoformat(page.get_by_label("Restore point (UTC)").input_value()).replace(
        tzinfo=UTC
    )


def visible_box(locator):
    """Where ``locator`` is drawn, once it is (an htmx swap may be replacing it)."""
    locator.wait_for(state="visible")
    return locator.bounding_box()


def chart_box(page):
    return visible_box(page.locator("#timeline-chart svg.timeline"))


def test_click_sets_the_point_and_zooming_separates_events_a_second_apart(
    page, live_server, sign_in, operator, day_window, screenshot
):
    sign_in(operator)
    page.goto(f"{live_server.url}/servergroups/local/ledger-0000/restore/details/?choice=custom")
    # The pass the step starts in the background ends (a poll redraws the section).
    expect(page.get_by_text("Indexing the latest WAL…")).to_have_count(0)
    markers = page.locator("svg.timeline .tl-event")
    # Over a whole day the two drops, one second apart, are one marker saying so.
    expect(markers).to_have_count(1)
    expect(page.locator("svg.timeline .tl-cluster")).to_have_count(1)
    # The point starts at the latest restorable point: a value, not an example.
    assert point_value(page) == day_window.latest
    screenshot("30-timeline-whole-day")

    # A click on the chart sets the point to the moment under the pointer.
    box = chart_box(page)
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + 60)
    expect(page.locator("#point-conversion")).to_contain_text("Restores to", timeout=15_000)
    share = (box["width"] * 0.25 / box["width"] * 100 - 1.5) / 97
    expected = day_window.earliest + (day_window.latest - day_window.earliest) * share
    one_pixel = (day_window.latest - day_window.earliest) / box["width"]
    assert abs(point_value(page) - expected) <= 2 * one_pixel
    clicked = point_value(page).strftime("%Y-%m-%d %H:%M:%S")
    # The answer redraws the chart with the point marked where the click was.
    expect(page.locator("svg.timeline .tl-point title")).to_have_text(
        f"Restore point: {clicked} UTC", timeout=15_000
    )

    # A drag across the marker zooms into that range (the drops still share a marker).
    cluster = visible_box(page.locator("svg.timeline .tl-cluster circle"))
    middle = cluster["x"] + cluster["width"] / 2
    page.mouse.move(middle - 40, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(middle, box["y"] + 60, steps=4)
    page.mouse.move(middle + 40, box["y"] + 60, steps=4)
    page.mouse.up()
    expect(page.locator("#timeline-view")).to_contain_text("Showing", timeout=15_000)
    expect(page.locator("#timeline-view")).not_to_contain_text("whole restore window")
    # The marker that holds both zooms in until they stand apart.
    page.locator("svg.timeline a.tl-marker").first.click()
    expect(markers).to_have_count(2, timeout=15_000)
    expect(page.locator("svg.timeline .tl-cluster")).to_have_count(0)
    first, second = (visible_box(markers.nth(i).locator("circle")) for i in range(2))
    assert second["x"] - first["x"] > 40  # pixels: two markers anyone can tell apart
    screenshot("31-timeline-zoomed-to-seconds")

    # Each marker sets the point just before its event.
    markers.nth(1).click()
    drop = day_window.first_drop + timedelta(seconds=1)
    expect(page.get_by_label("Restore point (UTC)")).to_have_value(
        (drop - timedelta(milliseconds=200)).strftime("%Y-%m-%d %H:%M:%S.%f")
    )
    # The keyboard: the chart takes focus; at this zoom an arrow is one second.
    page.locator("#timeline-chart").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_label("Restore point (UTC)")).to_have_value(
        (drop - timedelta(milliseconds=200)).replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
    )
    expect(page.locator("#point-conversion")).to_contain_text("Restores to")
    expect(page.locator("#timeline-chart")).to_be_focused()
