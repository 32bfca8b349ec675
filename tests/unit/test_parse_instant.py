"""The one reading of an instant typed on the command line (restore, servergroups events
and preview share it): ISO 8601 with an offset, never a guess at local time."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from portal.instants import parse_instant


def test_an_instant_with_z_or_an_offset_is_read_exactly():
    assert parse_instant("2026-11-24T10:30:00Z", label="x") == datetime(
        2026, 11, 24, 10, 30, tzinfo=UTC
    )
    moment = parse_instant("2026-11-24T11:30:00.250000+01:00", label="x")
    assert moment == datetime(2026, 11, 24, 10, 30, 0, 250000, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(hours=1)
    assert moment.tzinfo == timezone(timedelta(hours=1))


def test_a_time_without_an_offset_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match=r"^--since '2026-11-24T10:30:00' has no UTC offset"):
        parse_instant("2026-11-24T10:30:00", label="--since")


def test_text_that_is_not_a_time_is_refused_with_an_example():
    with pytest.raises(ValueError) as refused:
        parse_instant("yesterday", label="The restore point")
    assert str(refused.value) == (
        "The restore point 'yesterday' is not an ISO 8601 time; write e.g. 2026-11-24T10:30:00Z."
    )
