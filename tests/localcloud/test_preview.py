"""Previews: a read-only copy of one node recovered to T, on real PostgreSQL.

Each test makes its own small group (a coordinator and one worker) whose table
``items`` belongs to the group's admin role, as if the DBA had created it, since
preview queries run as that role.
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import LocalCloudError, NotFound, NotReady, OutsideWindow, archive
from localcloud.agent import Agent
from localcloud.demo import _setup as demo_setup
from localcloud.model import Preview
from localcloud.node import pid_alive
from localcloud.preview import ONE_QUERY, preview_node, previews_dir
from localcloud.testing import processes_under


def items(node: str, conn) -> None:
    conn.execute("SET ROLE citus")
    conn.execute("CREATE TABLE items (id int PRIMARY KEY, node text NOT NULL, note text)")
    conn.execute("INSERT INTO items SELECT g, %s, 'original' FROM generate_series(1, 3) g", (node,))
    conn.execute("CREATE SEQUENCE item_numbers")
    conn.execute("RESET ROLE")


@pytest.fixture
def group(engine, request):
    name = "pv-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:30].strip("-")
    engine.create_group(name, workers=1, setup=items)
    yield name
    engine.delete_group(name)


def wait_ready(engine, preview_id: str, timeout: float = 120.0) -> Preview:
    """Poll until the preview is no longer Starting (a recovery: slow on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while (preview := engine.preview_status(preview_id)).status == "Starting":
        assert time.monotonic() < deadline, f"preview {preview_id} not ready in {timeout} s"
        time.sleep(0.02)
    return preview


def assert_no_trace(engine, preview_id: str, port: int) -> None:
    assert preview_id not in engine.catalog.read().get("previews", {})
    assert preview_id not in [p.id for p in engine.list_previews()]
    directory = previews_dir(engine) / preview_id
    assert not directory.exists()
    assert processes_under(directory) == []
    assert not (engine.socket_dir / f".s.PGSQL.{port}").exists()
    with pytest.raises(NotFound):
        engine.preview_status(preview_id)


def port_of(engine, preview_id: str) -> int:
    return engine.catalog.read()["previews"][preview_id]["port"]


def rows(engine, preview_id: str, sql: str, **options) -> list[tuple]:
    return list(engine.preview_query(preview_id, sql, **options).rows)


def delete_after_a_point(engine, name: str, node: str) -> datetime:
    """Add rows 4 and 5, then delete every row: T, the moment to preview, is the
    commit of the insert (a preview at T includes it; the delete commits after it)."""
    with engine.connect(name, node) as conn:
        conn.execute("INSERT INTO items VALUES (4, %s, 'late'), (5, %s, 'late')", (node, node))
        point = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
        conn.execute("DELETE FROM items")
    return point


# What a preview shows ------------------------------------------------------------------


def test_preview_before_a_delete_shows_the_deleted_rows_on_coordinator_and_worker(engine, group):
    point_c = delete_after_a_point(engine, group, "coordinator")
    point_w = delete_after_a_point(engine, group, "worker-1")

    coordinator = engine.preview_start(group, point_c)
    worker = engine.preview_start(group, point_w, node="worker-1", ttl=timedelta(minutes=5))

    assert coordinator.status == worker.status == "Starting"
    assert (coordinator.node, worker.node) == ("coordinator", "worker-1")
    assert coordinator.point == point_c and worker.point == point_w
    assert worker.expires_at - worker.created_at == timedelta(minutes=5)
    assert wait_ready(engine, coordinator.id).status == "Ready"
    assert wait_ready(engine, worker.id).status == "Ready"
    for preview, node in ((coordinator, "coordinator"), (worker, "worker-1")):
        tables = engine.preview_tables(preview.id)
        assert [(t.schema, t.name, t.rows, t.exact) for t in tables] == [
            ("public", "items", 5, True)
        ]
        result = engine.preview_query(preview.id, "SELECT id, node, note FROM items ORDER BY id")
        assert result.columns == ("id", "node", "note")
        assert result.rows == tuple(
            (str(i), node, "original" if i <= 3 else "late") for i in range(1, 6)
        )
        assert not result.truncated and result.elapsed_ms >= 0
    assert {p.id for p in engine.list_previews()} >= {coordinator.id, worker.id}
    # The source itself still has the delete.
    with engine.connect(group, "worker-1") as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 0

    for preview in (coordinator, worker):
        port = port_of(engine, preview.id)
        assert engine.preview_close(preview.id) is True
        assert_no_trace(engine, preview.id, port)
    assert engine.preview_close(coordinator.id) is False


def test_values_are_text_and_null_and_long_values_are_cut(engine, group):
    preview = engine.preview_start(group, datetime.now(UTC))
    wait_ready(engine, preview.id)

    result = engine.preview_query(
        preview.id,
        "-- a comment first\nSELECT 1 AS one, NULL::int AS nothing, true AS yes,"
        " repeat('x', 2000) AS long, '2024-01-02 03:04:05+00'::timestamptz AS at;",
    )

    assert result.columns == ("one", "nothing", "yes", "long", "at")
    one, nothing, yes, long, at = result.rows[0]
    assert (one, nothing, yes, at) == ("1", None, "t", "2024-01-02 03:04:05+00")
    assert long.startswith("xxx") and 500 <= len(long) <= 501
    engine.preview_close(preview.id)


# Bounds -----------------------------------------------------------------------------------


def test_queries_are_bounded_and_writes_are_refused(engine, group):
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE secret AS SELECT 'hidden' AS word")
    preview = engine.preview_start(group, datetime.now(UTC))
    wait_ready(engine, preview.id)
    series = "SELECT g FROM generate_series(1, 1000) g"

    limited = engine.preview_query(preview.id, series, limit=10)
    assert len(limited.rows) == 10 and limited.truncated
    exact = engine.preview_query(preview.id, "SELECT g FROM generate_series(1, 10) g", limit=10)
    assert len(exact.rows) == 10 and not exact.truncated

    # PostgreSQL's own statement timeout cancelled it (no wall clock to measure here).
    with pytest.raises(LocalCloudError, match=r"cancelled after 1 s \(statement timeout\)"):
        engine.preview_query(preview.id, "SELECT pg_sleep(10)", timeout=1)

    refused = [
        "DELETE FROM items",
        "UPDATE items SET note = 'changed'",
        "INSERT INTO items VALUES (9, 'x', 'y')",
        "CREATE TABLE other (id int)",
        "DROP TABLE items",
        "SELECT 1; DELETE FROM items",
        "WITH gone AS (DELETE FROM items RETURNING *) SELECT * FROM gone",
        "COPY items TO STDOUT",
        "SET ROLE postgres",
    ]
    for sql in refused:
        with pytest.raises(LocalCloudError) as failure:
            engine.preview_query(preview.id, sql)
        assert str(failure.value) == ONE_QUERY, sql
    with pytest.raises(LocalCloudError, match="^A preview is read-only: cannot execute nextval"):
        engine.preview_query(preview.id, "SELECT nextval('item_numbers')")
    with pytest.raises(LocalCloudError, match="admin role may not do this: permission denied"):
        engine.preview_query(preview.id, "SELECT pg_wal_replay_resume()")
    with pytest.raises(LocalCloudError, match="permission denied for table secret"):
        engine.preview_query(preview.id, "SELECT * FROM secret")  # the superuser's own
    with pytest.raises(LocalCloudError, match=r'^Syntax error: .*"FROMM" \(at character 10\)'):
        engine.preview_query(preview.id, "SELECT * FROMM items")
    with pytest.raises(LocalCloudError, match='relation "nope" does not exist'):
        engine.preview_query(preview.id, "SELECT * FROM nope")
    for empty in ("", "  ", ";", "-- nothing"):
        with pytest.raises(LocalCloudError, match="The query is empty"):
            engine.preview_query(preview.id, empty)
    with pytest.raises(LocalCloudError, match="longer than 10,000 characters"):
        engine.preview_query(preview.id, "SELECT 1 -- " + "x" * 10_000)
    with pytest.raises(LocalCloudError, match="row limit"):
        engine.preview_query(preview.id, series, limit=0)

    # Nothing changed, in the preview or in the source.
    assert rows(engine, preview.id, "SELECT count(*), min(note) FROM items") == [("3", "original")]
    with engine.connect(group) as conn:
        assert conn.execute("SELECT count(*), min(note) FROM items").fetchone() == (3, "original")
    engine.preview_close(preview.id)


def test_count_falls_back_to_the_estimate_when_it_runs_out_of_time(engine, group, monkeypatch):
    from localcloud.preview import tables as module

    with engine.connect(group) as conn:
        conn.execute("INSERT INTO items SELECT g, 'bulk', NULL FROM generate_series(10, 20009) g")
        conn.execute("ANALYZE items")
    preview = engine.preview_start(group, datetime.now(UTC))
    wait_ready(engine, preview.id)
    monkeypatch.setattr(module, "COUNT_BUDGET", 0.0)

    [table] = engine.preview_tables(preview.id)

    assert (table.name, table.exact) == ("items", False)
    assert 15_000 < table.rows < 25_000
    engine.preview_close(preview.id)


# The source is never written --------------------------------------------------------------


def snapshot(path) -> dict[str, tuple[int, int, int]]:
    return {
        str(file.relative_to(path)): (
            file.stat().st_size,
            file.stat().st_mtime_ns,
            file.stat().st_ino,
        )
        for file in path.rglob("*")
        if file.is_file()
    }


def test_the_source_archive_and_backups_are_untouched(engine, group):
    point = delete_after_a_point(engine, group, "coordinator")
    record = engine.catalog.read()["groups"][group]["nodes"][0]
    source = engine.node(group, record)
    archive.seal(source)  # nothing pending: what follows is the preview's doing or not
    archive_before = snapshot(source.archive)
    backups_before = snapshot(source.backups)

    preview = engine.preview_start(group, point)
    wait_ready(engine, preview.id)
    stored = engine.catalog.read()["previews"][preview.id]
    with preview_node(engine, stored).connect() as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('archive_mode', 'listen_addresses', 'default_transaction_read_only',"
                " 'restore_command')"
            ).fetchall()
        )
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    assert settings["archive_mode"] == "off" and settings["listen_addresses"] == ""
    assert settings["default_transaction_read_only"] == "on"
    assert str(source.archive) in settings["restore_command"]
    # Promoted at T, as a restore is (a copy paused at T would keep T's open locks).
    assert in_recovery is False
    assert rows(engine, preview.id, "SELECT count(*) FROM items") == [("5",)]
    engine.preview_close(preview.id)

    with source.connect() as conn:
        current = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
    archive_after = snapshot(source.archive)
    for name, facts in archive_before.items():
        assert archive_after.get(name) == facts, name
    segment = re.compile(rf"^{current[:8]}[0-9A-F]{{16}}\.{record['compression']}(\.sha256)?$")
    for name in set(archive_after) - set(archive_before):
        # Only the source's own seal (at the preview's start) may add a segment (and the
        # checksum beside it).
        assert segment.match(name) and name[:24] <= current, name
    assert snapshot(source.backups) == backups_before


# Teardown ---------------------------------------------------------------------------------


def test_time_to_live_ends_a_preview_in_the_sweep(engine, group):
    preview = engine.preview_start(group, datetime.now(UTC), ttl=timedelta(minutes=1))
    wait_ready(engine, preview.id)
    port = port_of(engine, preview.id)

    assert engine.sweep_previews(now=preview.expires_at - timedelta(seconds=1)) == []
    assert engine.preview_status(preview.id).status == "Ready"
    assert engine.sweep_previews(now=preview.expires_at + timedelta(seconds=1)) == [preview.id]

    assert_no_trace(engine, preview.id, port)


def test_the_agent_removes_an_expired_preview(engine, group):
    preview = engine.preview_start(group, datetime.now(UTC), ttl=timedelta(seconds=1))
    port = port_of(engine, preview.id)
    while datetime.now(UTC) <= preview.expires_at:
        time.sleep(0.05)

    done = Agent(engine).run_once()

    assert f"preview {preview.id}: removed at the end of its time-to-live" in done
    assert_no_trace(engine, preview.id, port)


def test_deleting_the_group_closes_its_previews(engine):
    engine.create_group("pv-deleted", workers=0, setup=items)
    preview = engine.preview_start("pv-deleted", datetime.now(UTC))
    port = port_of(engine, preview.id)

    engine.delete_group("pv-deleted")

    assert_no_trace(engine, preview.id, port)


def test_sweep_removes_what_a_dead_start_left(engine, group):
    preview = engine.preview_start(group, datetime.now(UTC))
    wait_ready(engine, preview.id)
    port = port_of(engine, preview.id)
    with engine.catalog.change() as data:
        # What a process killed while unpacking leaves: a record "creating", its
        # owner gone, and files (here even a running server).
        stored = data["previews"][preview.id]
        stored["phase"] = "creating"
        stored["owner"] = {"pid": 2**22 + 1, "start": "0", "host": "gone"}
    stray = previews_dir(engine) / "0123456789ab"
    stray.mkdir()

    removed = engine.sweep_previews()

    assert removed == [preview.id]
    assert_no_trace(engine, preview.id, port)
    assert not stray.exists()


def test_a_killed_preview_server_is_reported_failed_and_cleaned(engine, group):
    preview = engine.preview_start(group, datetime.now(UTC))
    wait_ready(engine, preview.id)
    stored = engine.catalog.read()["previews"][preview.id]
    server = preview_node(engine, stored)
    pid = server.postmaster_pid()
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid):  # SIGKILL takes a moment to land
        time.sleep(0.01)

    failed = engine.preview_status(preview.id)

    assert failed.status == "Failed"
    assert "stopped" in failed.message and "killed" in failed.message
    assert not server.dir.exists() and processes_under(server.dir) == []
    assert [p.status for p in engine.list_previews() if p.id == preview.id] == ["Failed"]
    with pytest.raises(NotReady, match="The preview failed"):
        engine.preview_tables(preview.id)
    with pytest.raises(NotReady, match="The preview failed"):
        engine.preview_query(preview.id, "SELECT 1")
    assert engine.preview_close(preview.id) is True
    assert_no_trace(engine, preview.id, stored["port"])


def test_a_node_that_is_down_fails_when_its_archive_ends_before_the_point(engine, group):
    record = engine.catalog.read()["groups"][group]["nodes"][1]
    engine.node(group, record).stop()  # down, not sealed: the group is still meant to run
    preview = engine.preview_start(group, datetime.now(UTC), node="worker-1")

    failed = wait_ready(engine, preview.id)

    assert failed.status == "Failed"
    assert f"The archived WAL of {group}/worker-1 ends before" in failed.message
    assert not (previews_dir(engine) / preview.id).exists()
    engine.preview_close(preview.id)


# Stopped groups and refusals --------------------------------------------------------------


def test_a_stopped_group_previews_at_its_latest_point_and_before(engine, group):
    point = delete_after_a_point(engine, group, "coordinator")
    with engine.connect(group) as conn:
        conn.execute("INSERT INTO items VALUES (6, 'coordinator', 'last')")
    engine.stop_group(group)
    latest = engine.restore_window(group)[1]

    at_latest = engine.preview_start(group, latest)
    before = engine.preview_start(group, point)

    assert wait_ready(engine, at_latest.id).status == "Ready"
    assert rows(engine, at_latest.id, "SELECT id, note FROM items") == [("6", "last")]
    assert wait_ready(engine, before.id).status == "Ready"
    assert rows(engine, before.id, "SELECT count(*) FROM items") == [("5",)]
    for preview in (at_latest, before):
        port = port_of(engine, preview.id)
        engine.preview_close(preview.id)
        assert_no_trace(engine, preview.id, port)


def test_a_bad_point_or_name_creates_nothing(engine, group):
    before = (
        engine.catalog.read().get("previews", {}),
        sorted(previews_dir(engine).iterdir()) if previews_dir(engine).exists() else [],
    )
    earliest = engine.restore_window(group)[0]
    now = datetime.now(UTC)

    with pytest.raises(OutsideWindow, match="in the future"):
        engine.preview_start(group, now + timedelta(hours=1))
    with pytest.raises(OutsideWindow, match="before the earliest restore point"):
        engine.preview_start(group, earliest - timedelta(seconds=1))
    with pytest.raises(OutsideWindow, match="no UTC offset"):
        engine.preview_start(group, now.replace(tzinfo=None))
    with pytest.raises(NotFound, match="has no node 'worker-9'"):
        engine.preview_start(group, now, node="worker-9")
    with pytest.raises(NotFound, match="'pv-nowhere' does not exist"):
        engine.preview_start("pv-nowhere", now)
    with pytest.raises(LocalCloudError, match="positive time-to-live"):
        engine.preview_start(group, now, ttl=timedelta(seconds=-1))
    with pytest.raises(NotFound):
        engine.preview_status("../../etc")
    assert engine.preview_close("../../etc") is False

    after = (
        engine.catalog.read().get("previews", {}),
        sorted(previews_dir(engine).iterdir()) if previews_dir(engine).exists() else [],
    )
    assert after == before


def test_previews_at_once_are_capped(engine, group, monkeypatch):
    from localcloud import Busy
    from localcloud.preview import lifecycle as module

    monkeypatch.setattr(module, "MAX_PREVIEWS", 1)
    first = engine.preview_start(group, datetime.now(UTC))
    with pytest.raises(Busy, match="1 previews are open"):
        engine.preview_start(group, datetime.now(UTC))
    assert [p.id for p in engine.list_previews()] == [first.id]
    engine.preview_close(first.id)
    second = engine.preview_start(group, datetime.now(UTC))
    engine.preview_close(second.id)


# How long until Ready ---------------------------------------------------------------------


def test_demo_group_coordinator_preview_start_to_ready(engine):
    """Prints start -> Ready times (run with -s); asserts what the preview shows only."""
    engine.create_group("pv-demo", workers=2, setup=demo_setup(2))
    try:
        with engine.connect("pv-demo") as conn:
            conn.execute("INSERT INTO page_views (company_id, url) VALUES (1, '/home')")
        timings = []
        for _ in range(5):
            started = time.monotonic()
            preview = engine.preview_start("pv-demo", datetime.now(UTC))
            returned = time.monotonic() - started
            assert wait_ready(engine, preview.id).status == "Ready"
            timings.append((returned, time.monotonic() - started))
            counts = {t.name: t.rows for t in engine.preview_tables(preview.id)}
            assert counts == {"companies": 6, "page_views": 1}
            engine.preview_close(preview.id)
        print(
            "\ndemo coordinator preview: start() returned / Ready after (s): "
            + ", ".join(f"{r:.2f}/{t:.2f}" for r, t in timings)
        )
    finally:
        engine.delete_group("pv-demo")
