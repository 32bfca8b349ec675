"""Restores the engine must refuse before doing any work: nothing may be created."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import InvalidName, NameTaken, NotFound, OutsideWindow


@pytest.fixture
def nothing_created(engine, unchanged_source):
    groups = set(engine.catalog.read()["groups"])
    dirs = set((engine.root / "groups").iterdir())
    yield
    assert set(engine.catalog.read()["groups"]) == groups
    assert set((engine.root / "groups").iterdir()) == dirs


def test_point_before_earliest_is_refused(engine, nothing_created):
    earliest, _ = engine.restore_window("src")
    with pytest.raises(OutsideWindow, match="before the earliest restore point of 'src'"):
        engine.restore("src", "too-early", earliest - timedelta(microseconds=1))


def test_point_in_the_future_is_refused(engine, nothing_created):
    with pytest.raises(OutsideWindow, match="is in the future"):
        engine.restore("src", "too-late", datetime.now(UTC) + timedelta(minutes=5))


def test_point_without_offset_is_refused_not_read_as_local_time(engine, nothing_created):
    with pytest.raises(OutsideWindow, match="has no UTC offset"):
        engine.restore("src", "naive", datetime.now() - timedelta(seconds=5))  # noqa: DTZ005


def test_taken_name_is_refused(engine, nothing_created):
    with pytest.raises(NameTaken, match="'src' already exists"):
        engine.restore("src", "src")


@pytest.mark.parametrize(
    "name", ["", "ab", "a" * 41, "-abc", "abc-", "Abc", "ab_c", "ab c", "abç", "../x"]
)
def test_invalid_name_is_refused(engine, nothing_created, name):
    with pytest.raises(InvalidName):
        engine.restore("src", name)


def test_longest_and_shortest_valid_names_pass_the_name_check(engine):
    assert engine.name_available("a" * 40) is None
    assert engine.name_available("a-1") is None


def test_missing_source_is_refused(engine, nothing_created):
    with pytest.raises(NotFound, match="'no-such-group' does not exist"):
        engine.restore("no-such-group", "from-nothing")


def test_two_concurrent_requests_for_one_name_exactly_one_wins(engine, unchanged_source):
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def request() -> None:
        barrier.wait()
        try:
            outcomes.append(engine.begin_restore("src", "contested"))
        except NameTaken as error:
            outcomes.append(error)

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(not isinstance(outcome, NameTaken) for outcome in outcomes) == 1
    assert engine.get_group("contested").status == "Restoring"
    assert engine.abandon_restore("contested")
    assert "contested" not in engine.catalog.read()["groups"]
