"""``servergroups events NAME [--since T] [--json]`` over a real localcloud."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management.base import CommandError

from localcloud import Engine
from localcloud.testing import processes_under, temporary_engine
from tests.integration.cli import run
from tests.local_portal import serve_engine
from tests.ports import shifted_port

BASE_PORT = shifted_port(36432)
GROUP = "cli-events"


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group(GROUP, workers=1)
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture(autouse=True)
def local_only(settings, engine):
    serve_engine(settings, engine)


def drop_a_fresh_table(engine: Engine, table: str) -> datetime:
    """Create, fill and drop ``table`` with no index pass between; its DROP's commit."""
    with engine.connect(GROUP) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
        conn.execute(f"INSERT INTO {table} SELECT g, 'n' FROM generate_series(1, 100) g")
        conn.execute(f"DROP TABLE {table}")
        return conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]


@pytest.mark.django_db
def test_events_lists_a_drop_at_once_with_its_table_and_the_point_just_before(engine):
    dropped_at = drop_a_fresh_table(engine, "gone_at_once")

    listed = json.loads(run("servergroups", "events", GROUP, "--json"))

    assert listed["group"] == GROUP
    drops = [e for e in listed["events"] if e["kind"] == "DROP TABLE"]
    assert [(e["node"], e["tables"], e["database"]) for e in drops] == [
        ("coordinator", ["public.gone_at_once"], "citus")
    ]
    drop = drops[0]
    assert datetime.fromisoformat(drop["commit_time"]) == dropped_at
    before = datetime.fromisoformat(drop["just_before"])
    assert before == dropped_at - timedelta(microseconds=1)
    earliest = datetime.fromisoformat(listed["restore_window"]["earliest"])
    latest = datetime.fromisoformat(listed["restore_window"]["latest"])
    assert earliest <= before < dropped_at <= latest
    assert datetime.fromisoformat(listed["indexed_until"]) >= dropped_at

    text = run("servergroups", "events", GROUP)
    (line,) = [row for row in text.splitlines() if "gone_at_once" in row]
    assert "DROP TABLE" in line and "coordinator" in line
    # One format for instants, UTC, with the microseconds: the commit and just before it.
    assert dropped_at.strftime("%Y-%m-%d %H:%M:%S.%f UTC") in line
    assert before.strftime("%Y-%m-%d %H:%M:%S.%f UTC") in line


@pytest.mark.django_db
def test_since_leaves_out_older_events(engine):
    drop_a_fresh_table(engine, "older_one")
    since = datetime.now(UTC)
    drop_a_fresh_table(engine, "newer_one")

    listed = json.loads(
        run("servergroups", "events", GROUP, "--json", "--since", since.isoformat())
    )

    tables = [table for event in listed["events"] for table in event["tables"]]
    assert "public.newer_one" in tables
    assert "public.older_one" not in tables


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no-such-group",), "Server group 'no-such-group' does not exist"),
        ((GROUP, "--since", "yesterday"), "--since 'yesterday' is not an ISO 8601 time"),
        ((GROUP, "--since", "2026-11-24T10:30:00"), "has no UTC offset; add Z or +00:00"),
    ],
)
def test_unknown_group_and_bad_since_are_clear_errors(engine, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("servergroups", "events", *args)
