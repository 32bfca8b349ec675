"""A custom restore point typed in UTC or in the browser's own time zone, with the
conversion shown before OK, and the restore window drawn on the server."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict

from restore_wizard.forms import read_point
from restore_wizard.models import RestoreOperation

from .conftest import DETAILS_URL, RESTORE_URL, details_form, restore_puts

pytestmark = pytest.mark.django_db
POINT_URL = RESTORE_URL + "point/"
TIMELINE_URL = RESTORE_URL + "timeline/"
BERLIN = "Europe/Berlin"


def reading(**data):
    query = QueryDict(mutable=True)
    query.update(data)
    return read_point(query)


def test_utc_is_read_as_utc_to_the_microsecond():
    point = reading(point="2026-11-20 10:15:30.250001", time_zone=BERLIN)

    assert point.moment == datetime(2026, 11, 20, 10, 15, 30, 250001, tzinfo=UTC)
    assert point.typed_in == "utc" and point.error == ""


def test_local_time_is_converted_with_the_browsers_zone():
    winter = reading(point_local="2026-11-20 11:15:30", time_zone=BERLIN, point_source="local")
    summer = reading(point_local="2026-07-01 11:15:30", time_zone=BERLIN, point_source="local")

    assert winter.moment == datetime(2026, 11, 20, 10, 15, 30, tzinfo=UTC)
    assert summer.moment == datetime(2026, 7, 1, 9, 15, 30, tzinfo=UTC)


def test_local_times_the_clock_skipped_or_repeated_are_refused_with_the_reason():
    skipped = reading(point_local="2026-03-29 02:30:00", time_zone=BERLIN, point_source="local")
    twice = reading(point_local="2026-10-25 02:30:00", time_zone=BERLIN, point_source="local")

    assert skipped.moment is None and "did not exist in Europe/Berlin" in skipped.error
    assert twice.moment is None and "happened twice in Europe/Berlin" in twice.error
    assert "type the restore point in UTC" in twice.error


@pytest.mark.parametrize("zone", ["", "Mars/Olympus", "../../etc/passwd", "x" * 80])
def test_local_time_without_a_known_zone_asks_for_utc(zone):
    point = reading(point_local="2026-11-20 11:15:30", time_zone=zone, point_source="local")

    assert point.moment is None
    assert "type the restore point in UTC" in point.error


def test_step_two_draws_the_window_and_says_why_no_events_on_azure(operator_client, azure):
    html = operator_client.get(DETAILS_URL, {"choice": "custom"}).content.decode()
    # Drawn in the step's own GET: no script needed, and nothing says one is.
    assert 'hx-trigger="load"' not in html and "need scripts" not in html
    for page in (html, operator_client.get(TIMELINE_URL).content.decode()):
        svg = re.search(r"<svg class=\"timeline\".*?</svg>", page, re.S)[0]
        assert "Restore window of the server group" in svg
        assert 4 <= svg.count('class="tl-tick"') <= 12
        assert "does not expose its WAL" in page
    # Azure has no preview: no button that could only fail.
    step = operator_client.get(DETAILS_URL, {"choice": "custom"}).content.decode()
    assert "Preview data at this point" not in step


def test_typing_a_local_time_shows_utc_and_fills_the_utc_field(operator_client, azure, source):
    local = (source.earliest_restore + timedelta(hours=30)).astimezone(ZoneInfo(BERLIN))
    typed = local.strftime("%Y-%m-%d %H:%M:%S")

    html = operator_client.get(
        POINT_URL, {"point_local": typed, "time_zone": BERLIN, "point_source": "local"}
    ).content.decode()

    expected = local.astimezone(UTC).replace(microsecond=0)
    utc_text = expected.strftime("%Y-%m-%d %H:%M:%S")
    assert f"Restores to <strong>{utc_text} UTC</strong>" in html
    assert f"{typed} {BERLIN} (your time)" in html
    assert local.tzname() not in html  # one name for the zone: never CET beside Europe/Berlin
    # The UTC field follows (out of band); the field being typed in is left alone.
    utc_input = re.search(r'<input type="text" id="id_point"[^>]*>', html)[0]
    assert f'value="{utc_text}"' in utc_input and 'hx-swap-oob="true"' in utc_input
    assert 'id="id_point_local"' not in html
    marker = re.search(r'<g class="tl-point"><title>Restore point: ([^<]+)</title>', html)
    assert marker[1] == f"{utc_text} UTC"


def test_typing_utc_fills_the_local_field(operator_client, azure, source):
    point = (source.earliest_restore + timedelta(hours=30)).replace(microsecond=0)

    html = operator_client.get(
        POINT_URL,
        {"point": point.strftime("%Y-%m-%d %H:%M:%S"), "time_zone": "Asia/Kolkata"},
    ).content.decode()

    local = point.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S")
    local_input = re.search(r'<input type="text" id="id_point_local"[^>]*>', html)[0]
    assert f'value="{local}"' in local_input
    assert f"{local} Asia/Kolkata (your time)" in html


def test_a_point_outside_the_window_is_explained_before_ok(operator_client, azure, source):
    too_early = source.earliest_restore - timedelta(days=1)

    html = operator_client.get(
        POINT_URL, {"point": too_early.strftime("%Y-%m-%d %H:%M:%S")}
    ).content.decode()

    assert "is before the earliest restore point" in html
    assert 'class="tl-point"' not in html  # nothing marked outside the window


def test_ok_with_a_local_time_restores_to_its_utc_point(
    operator_client, azure, source, django_capture_on_commit_callbacks
):
    point = (source.earliest_restore + timedelta(hours=30)).replace(microsecond=0)
    form = details_form(operator_client, "custom")
    form.update(
        point="",
        point_local=point.astimezone(ZoneInfo(BERLIN)).strftime("%Y-%m-%d %H:%M:%S"),
        time_zone=BERLIN,
        point_source="local",
        target_name="orders-local",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(RESTORE_URL, form)

    assert response.status_code == 302, response.content.decode()
    assert RestoreOperation.objects.get().requested_point == point
    (put,) = restore_puts(azure)
    assert put.json["properties"]["pointInTimeUTC"] == point.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_ok_with_a_skipped_local_time_creates_nothing(operator_client, azure):
    form = details_form(operator_client, "custom")
    form.update(
        point_local="2026-03-29 02:30:00",
        time_zone=BERLIN,
        point_source="local",
        target_name="orders-gap",
    )

    response = operator_client.post(RESTORE_URL, form)

    assert response.status_code == 200
    assert "did not exist in Europe/Berlin" in response.content.decode()
    assert not RestoreOperation.objects.exists() and not restore_puts(azure)


def test_point_check_is_for_operators_only(viewer_client, azure):
    assert viewer_client.get(POINT_URL, {"point": "2026-11-20 10:00:00"}).status_code == 403
