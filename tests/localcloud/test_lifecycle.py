"""Create, read, stop, start, back up, expire, delete; the agent; stopped sources."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from localcloud import Engine, NotFound
from localcloud.agent import Agent
from localcloud.testing import create_ticks, processes_under, ticks_all, ticks_until


@pytest.fixture(scope="module")
def solo(engine):
    """A coordinator-only group the tests of this module stop, start and back up."""
    engine.create_group("solo", workers=0, tags={"team": "dba"}, setup=create_ticks)
    yield "solo"
    if "solo" in engine.catalog.read()["groups"]:
        engine.delete_group("solo")


def test_new_group_has_its_fields_and_a_backup(engine, solo):
    group = engine.get_group(solo)

    assert group.status == "Ready"
    assert [node.name for node in group.nodes] == ["coordinator"]
    assert (group.subscription, group.resource_group, group.location) == (
        "local",
        "localcloud",
        "local",
    )
    assert group.database == "citus" and group.admin_user == "citus"
    assert len(group.admin_password) >= 20
    assert group.tags == {"team": "dba"}
    assert group.created_at.tzinfo is not None
    assert group.has_backup and group.earliest_restore == group.nodes[0].backups[0].end_time
    assert solo in [g.name for g in engine.list_groups()]


def test_admin_role_logs_in_over_loopback_with_its_password(engine, solo):
    group = engine.get_group(solo)
    with psycopg.connect(
        host="127.0.0.1",
        port=group.coordinator.port,
        user=group.admin_user,
        password=group.admin_password,
        dbname=group.database,
    ) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "citus"


def test_group_of_two_workers_has_three_nodes_on_distinct_ports(engine, source):
    ports = [node.port for node in source.nodes]
    assert [node.name for node in source.nodes] == ["coordinator", "worker-1", "worker-2"]
    assert len(set(ports)) == 3


def test_stopped_group_restores_up_to_its_last_archived_commit(engine, solo):
    with engine.connect(solo) as conn:
        conn.execute("INSERT INTO ticks (node) VALUES ('before-stop')")
    stopped = engine.stop_group(solo)
    assert stopped.status == "Stopped"
    assert processes_under(engine.group_dir(solo)) == []
    earliest, latest = engine.restore_window(solo)
    assert earliest < latest < datetime.now(UTC)

    restored = engine.restore(solo, "solo-latest", latest)

    rows = ticks_all(engine, "solo-latest", "coordinator")
    assert len(rows) == 1 and restored.restore_point == latest
    engine.delete_group("solo-latest")
    assert engine.start_group(solo).status == "Ready"
    assert ticks_until(engine, solo, "coordinator", latest) == rows


def test_agent_restarts_a_node_that_died_and_takes_due_backups(engine, solo):
    pid = int((engine.group_dir(solo) / "coordinator/data/postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while engine.get_group(solo).status != "Unavailable":
        assert time.monotonic() < deadline, "the killed coordinator still counts as running"
        time.sleep(0.02)
    eager = Engine(engine.root, backup_interval=timedelta(0), base_port=engine.base_port)
    backups = len(engine.get_group(solo).nodes[0].backups)

    done = Agent(eager).run_once()

    assert any("solo: started nodes" in line for line in done)
    assert any("solo: took a scheduled backup" in line for line in done)
    assert engine.get_group(solo).status == "Ready"
    assert len(engine.get_group(solo).nodes[0].backups) == backups + 1


def test_expiry_keeps_the_newest_backup_and_drops_wal_it_does_not_need(engine, solo):
    engine.backup_group(solo)
    archive = engine.group_dir(solo) / "coordinator" / "archive"
    before = sorted(p.name for p in archive.iterdir())
    newest = engine.get_group(solo).nodes[0].backups[-1]

    dropped = Engine(engine.root, retention=timedelta(0), base_port=engine.base_port).expire(solo)

    after = sorted(p.name for p in archive.iterdir())
    assert dropped >= 1
    assert engine.get_group(solo).nodes[0].backups == (newest,)
    assert len(after) < len(before)
    assert engine.restore_window(solo)[0] == newest.end_time


def test_agent_removes_a_restore_whose_process_died(engine, source):
    engine.begin_restore("src", "orphan")
    with engine.catalog.change() as data:
        data["groups"]["orphan"]["owner"] = {"pid": 2**22 + 1, "start": "0", "host": "gone"}

    assert Agent(engine, stale_grace=timedelta(0)).run_once()
    with pytest.raises(NotFound):
        engine.get_group("orphan")


def test_delete_stops_nodes_and_removes_files(engine):
    engine.create_group("doomed", workers=1)
    engine.delete_group("doomed")

    assert not engine.group_dir("doomed").exists()
    with pytest.raises(NotFound, match="'doomed' does not exist"):
        engine.get_group("doomed")
