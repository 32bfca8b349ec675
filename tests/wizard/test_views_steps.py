"""restore_wizard.views.steps: step 2 (details) starts with a point that can be
restored to, draws the timeline itself, and offers a calendar beside each field."""

import re

from restore_wizard.timeline import input_text

from .conftest import DAY_URL


def field(html: str, name: str) -> str:
    return re.search(rf'<input type="text" id="id_{name}"[^>]*>', html)[0]


def test_the_point_starts_at_the_latest_restorable_point(operator_client, day_window):
    html = operator_client.get(DAY_URL + "details/", {"choice": "custom"}).text

    assert f'value="{input_text(day_window.latest)}"' in field(html, "point")
    assert "placeholder" not in field(html, "point")
    assert "placeholder" not in field(html, "point_local")


def test_an_events_just_before_is_the_point_when_chosen(operator_client, day_window):
    chosen = "2026-11-24 10:00:00.250000"

    html = operator_client.get(DAY_URL + "details/", {"choice": "custom", "point": chosen}).text

    assert f'value="{chosen}"' in field(html, "point")


def test_each_point_field_has_a_calendar_to_the_second(operator_client, day_window):
    html = operator_client.get(DAY_URL + "details/", {"choice": "custom"}).text

    pickers = re.findall(r'<input type="datetime-local" step="1"[^>]*>', html)
    assert len(pickers) == 2
    assert 'data-point-picker="id_point"' in pickers[0]
    assert 'data-point-picker="id_point_local"' in pickers[1]
    # The script that drives them is a static file under the page's CSP, no inline code.
    assert re.search(r'<script src="/static/portal/timeline\.js" nonce="[^"]+" defer>', html)
    assert "onclick" not in html and "style=" not in html


def test_the_timeline_is_in_the_step_itself_without_script(operator_client, day_window):
    html = operator_client.get(DAY_URL + "details/", {"choice": "custom"}).text

    assert '<svg class="timeline"' in html and "DROP TABLE public.orders" in html
    assert 'hx-trigger="load"' not in html
    assert 'id="timeline-chart" tabindex="0"' in html
