"""restore_wizard.views.point: the timeline and the point as typed, zoomed by
``?from=&to=`` and usable without script (links and a form)."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from restore_wizard.timeline import input_text

from .conftest import DAY_URL


def markers(html: str) -> list[str]:
    return re.findall(r'<g class="tl-event[^"]*">', html)


def test_the_whole_day_shows_two_close_drops_as_one_marker_linking_to_their_zoom(
    operator_client, day_window
):
    html = operator_client.get(DAY_URL + "details/", {"choice": "custom"}).text

    assert markers(html) == ['<g class="tl-event tl-cluster">']
    link = re.search(r'<a class="tl-marker" href="([^"]+)"[^>]*data-zoom', html)[1]
    asked = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    zoomed = operator_client.get(DAY_URL + "details/", asked).text

    assert markers(zoomed) == ['<g class="tl-event">', '<g class="tl-event">']
    assert "Showing" in zoomed and "Whole window" in zoomed


def test_the_timeline_alone_zooms_and_keeps_the_point_typed(operator_client, day_window):
    drop = day_window.first_drop
    point = drop - timedelta(milliseconds=200)
    html = operator_client.get(
        DAY_URL + "timeline/",
        {
            "from": input_text(drop - timedelta(seconds=2)),
            "to": input_text(drop + timedelta(seconds=3)),
            "point": input_text(point),
        },
    ).text

    assert len(markers(html)) == 2
    assert html.count('class="tl-point"') == 1
    # The zoom links keep the point, and each works as a plain link too.
    zoom_out = re.search(r'<a class="button button-small" href="([^"]+)" hx-get="([^"]+)"', html)
    assert "point=" in zoom_out[1] and "from=" in zoom_out[1] and "from=" in zoom_out[2]
    # The arrow keys' step at five seconds wide: one second.
    assert 'data-step="1"' in html and "by 1 second," in html


def test_a_point_typed_while_zoomed_redraws_the_chart_at_that_zoom(operator_client, day_window):
    drop = day_window.first_drop
    html = operator_client.get(
        DAY_URL + "point/",
        {
            "point": input_text(drop),
            "from": input_text(drop - timedelta(seconds=2)),
            "to": input_text(drop + timedelta(seconds=3)),
        },
    ).text

    chart = re.search(r'<div id="timeline-svg" hx-swap-oob="true">.*?</svg>', html, re.S)[0]
    assert len(markers(chart)) == 2
    assert 'class="tl-point"' in chart


def test_without_script_a_range_can_be_asked_for_with_a_plain_form(operator_client, day_window):
    html = operator_client.get(DAY_URL + "details/", {"choice": "custom"}).text

    form = re.search(r'<form id="timeline-range-form" method="get" action="([^"]+)">', html)
    assert form[1] == DAY_URL + "details/"
    assert 'name="from" form="timeline-range-form"' in html
    assert 'name="to" form="timeline-range-form"' in html
    # The range form sits outside OK's form, so the zoom never posts the restore.
    assert html.index('id="timeline-range-form"') > html.index("</form>")
