"""One way to write an instant: pages, notifications, the Activity log and the CLI agree."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template

from localcloud import defaults
from portal.instants import local_text, utc_iso, utc_text, zone_name

POINT = datetime(2026, 11, 24, 14, 9, 33, 775238, tzinfo=UTC)
WHOLE = datetime(2026, 11, 24, 14, 9, 33, tzinfo=UTC)


def test_a_whole_second_reads_to_the_second_in_utc():
    assert utc_text(WHOLE) == "2026-11-24 14:09:33 UTC"


def test_microseconds_are_kept_never_rounded():
    assert utc_text(POINT) == "2026-11-24 14:09:33.775238 UTC"
    assert utc_text(POINT.replace(microsecond=999999)) == "2026-11-24 14:09:33.999999 UTC"


def test_any_zone_is_written_in_utc():
    berlin = POINT.astimezone(ZoneInfo("Europe/Berlin"))
    assert utc_text(berlin) == "2026-11-24 14:09:33.775238 UTC"
    assert utc_iso(berlin) == "2026-11-24T14:09:33.775238+00:00"
    assert utc_iso(WHOLE) == "2026-11-24T14:09:33+00:00"


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        utc_text(datetime(2026, 11, 24, 14, 9, 33))


def test_the_local_time_has_the_same_shape_and_one_name_for_its_zone():
    berlin = ZoneInfo("Europe/Berlin")
    assert local_text(POINT, berlin) == "2026-11-24 15:09:33.775238 Europe/Berlin (your time)"
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert local_text(summer, berlin) == "2026-07-01 14:00:00 Europe/Berlin (your time)"
    assert zone_name(berlin) == "Europe/Berlin"
    assert zone_name(UTC) == "UTC"
    assert zone_name(timezone(timedelta(hours=1))) == "UTC+01:00"


def test_the_template_tag_uses_the_formatter_and_marks_the_instant_for_local_time():
    html = Template("{% load portal_tags %}{% utc_time moment %}").render(
        Context({"moment": POINT})
    )
    assert html == (
        '<time datetime="2026-11-24T14:09:33.775238+00:00" data-local-time>'
        "2026-11-24 14:09:33.775238 UTC</time>"
    )
    dense = Template("{% load portal_tags %}{% utc_time moment local=False %}").render(
        Context({"moment": WHOLE})
    )
    assert "data-local-time" not in dense and "2026-11-24 14:09:33 UTC" in dense


def test_localcloud_placement_has_one_source(settings, tmp_path, monkeypatch):
    from portal.backends.local import LocalBackend
    from portal.settings import backend_registry

    for variable in ("LOCALCLOUD_SUBSCRIPTION", "LOCALCLOUD_RESOURCE_GROUP", "LOCALCLOUD_LOCATION"):
        monkeypatch.delenv(variable, raising=False)
    options = dict(backend_registry()["local"]["OPTIONS"], root=tmp_path)
    engine = LocalBackend(**options).engine
    assert (engine.subscription, engine.resource_group, engine.location) == (
        defaults.SUBSCRIPTION,
        defaults.RESOURCE_GROUP,
        defaults.LOCATION,
    )
    assert (defaults.RESOURCE_GROUP, defaults.LOCATION) == ("localcloud", "local")


def test_a_utc_zone_is_told_apart_so_no_second_time_repeats_the_first():
    from portal.instants import is_utc

    assert is_utc(ZoneInfo("UTC")) and is_utc(ZoneInfo("Etc/UTC")) and is_utc(UTC)
    assert not is_utc(ZoneInfo("Europe/Berlin"))
