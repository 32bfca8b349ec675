"""The WAL event index on real PostgreSQL: what the restore wizard's timeline shows."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import Engine, archive
from localcloud.agent import Agent
from localcloud.errors import LocalCloudError
from localcloud.model import EventIndex, WalEvent
from localcloud.testing import temporary_engine
from localcloud.walindex import store, waldump

GROUP = "events-main"


def seal(engine: Engine, name: str) -> None:
    """Archive every commit so far on every running node (the archiver alone waits for
    archive_timeout, 60 s)."""
    for node in engine.nodes(engine.catalog.read()["groups"][name]):
        if node.is_running():
            archive.seal(node)


def index(engine: Engine, name: str) -> int:
    seal(engine, name)
    return engine.index_events(name)


def found(engine: Engine, name: str, since: datetime, kind: str | None = None) -> list[WalEvent]:
    return [e for e in engine.events(name, since).events if kind is None or e.kind == kind]


def last_commit(conn) -> datetime:
    return conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]


@pytest.fixture(scope="module")
def group(engine: Engine):
    engine.create_group(GROUP, workers=1)
    engine.index_events(GROUP)
    yield GROUP
    engine.delete_group(GROUP)


@pytest.fixture
def since() -> datetime:
    return datetime.now(UTC)


def test_drop_table_is_listed_at_its_commit_and_restoring_just_before_keeps_it(
    engine: Engine, group: str, since: datetime
):
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE doomed (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO doomed SELECT g, 'row ' || g FROM generate_series(1, 500) g")
        conn.execute("CREATE TABLE kept_here (id int)")
    with engine.connect(group, "worker-1") as conn:
        conn.execute("CREATE TABLE kept_elsewhere (id int)")
    index(engine, group)  # the agent's pass: the map now knows doomed's name

    with engine.connect(group, "worker-1") as conn:
        conn.execute("INSERT INTO kept_elsewhere SELECT generate_series(1, 50)")
    with engine.connect(group) as conn:
        conn.execute("INSERT INTO kept_here SELECT generate_series(1, 20)")
        previous = last_commit(conn)
    # Other nodes commit after the coordinator's last commit and before the DROP: a
    # restore just before the DROP keeps these too.
    with engine.connect(group, "worker-1") as conn:
        conn.execute("INSERT INTO kept_elsewhere SELECT generate_series(51, 60)")
        worker_commit = last_commit(conn)
    while datetime.now(UTC) <= worker_commit:
        time.sleep(0.001)
    with engine.connect(group) as conn:
        conn.execute("DROP TABLE doomed")
        dropped_at = last_commit(conn)
    index(engine, group)

    drops = found(engine, group, since, "DROP TABLE")
    assert len(drops) == 1
    drop = drops[0]
    assert drop.commit_time == dropped_at
    assert drop.node == "coordinator"
    assert drop.database == "citus"
    assert drop.relations == ("public.doomed",)
    # The instant before the DROP's commit, for every node of the group.
    assert drop.before == dropped_at - timedelta(microseconds=1)
    assert previous < worker_commit < drop.before

    engine.restore(group, "events-before-drop", drop.before)
    try:
        with engine.connect("events-before-drop") as conn:
            assert conn.execute("SELECT count(*) FROM doomed").fetchone()[0] == 500
            assert conn.execute("SELECT count(*) FROM kept_here").fetchone()[0] == 20
        with engine.connect("events-before-drop", "worker-1") as conn:
            assert conn.execute("SELECT count(*) FROM kept_elsewhere").fetchone()[0] == 60
        # The restored group's archive holds its ancestor's WAL too; its own index shows
        # nothing of the drop it never had.
        engine.index_events("events-before-drop")
        restored = engine.events("events-before-drop")
        assert not [e for e in restored.events if "public.doomed" in e.relations]
        assert restored.indexed_until["coordinator"] is not None
    finally:
        engine.delete_group("events-before-drop")


def test_a_table_made_and_dropped_between_two_passes_is_named_once(
    engine: Engine, group: str, since: datetime
):
    """Made, filled and dropped in well under a second with no pass between, as between
    two of the agent's: their names come from the WAL's catalog changes.
    One in a new schema after a checkpoint (its pg_class row logged in a page image),
    one created, truncated and renamed (pg_class updates) before its drop."""
    with engine.connect(group) as conn:
        conn.execute("CHECKPOINT")
        conn.execute("CREATE SCHEMA fleeting")
        conn.execute("CREATE TABLE fleeting.invoices (id int PRIMARY KEY, note text)")
        conn.execute("CREATE INDEX ON fleeting.invoices (note)")
        conn.execute(
            "INSERT INTO fleeting.invoices"
            " SELECT g, repeat('x', 3000) FROM generate_series(1, 50) g"
        )
        conn.execute("CREATE TABLE brief (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO brief SELECT generate_series(1, 10), 'b'")
        conn.execute("TRUNCATE brief")
        conn.execute("ALTER TABLE brief RENAME TO briefer")
        conn.execute("INSERT INTO briefer SELECT generate_series(1, 10), 'c'")
        conn.execute("DROP TABLE fleeting.invoices")
        conn.execute("DROP TABLE briefer")
    index(engine, group)

    drops = found(engine, group, since, "DROP TABLE")
    assert [(e.relations, e.database) for e in drops] == [
        (("fleeting.invoices",), "citus"),
        (("public.briefer",), "citus"),
    ]
    truncates = found(engine, group, since, "TRUNCATE")
    assert [e.relations for e in truncates] == [("public.brief",)]


def test_a_name_logged_in_a_compressed_page_image_is_read(
    engine: Engine, group: str, since: datetime
):
    """With wal_compression = pglz, the first change of a pg_class page after a
    checkpoint is logged as a compressed page image: the name is read from it too."""
    with engine.connect(group, "worker-1") as conn:
        conn.execute("ALTER SYSTEM SET wal_compression = 'pglz'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        with engine.connect(group, "worker-1") as conn:
            assert conn.execute("SHOW wal_compression").fetchone()[0] == "pglz"
            conn.execute("CHECKPOINT")
            conn.execute("CREATE TABLE squeezed (id int PRIMARY KEY, body text)")
            conn.execute("INSERT INTO squeezed SELECT generate_series(1, 10), 's'")
            conn.execute("DROP TABLE squeezed")
    finally:
        with engine.connect(group, "worker-1") as conn:
            conn.execute("ALTER SYSTEM RESET wal_compression")
            conn.execute("SELECT pg_reload_conf()")
    index(engine, group)

    drops = found(engine, group, since, "DROP TABLE")
    assert [(e.node, e.relations) for e in drops] == [("worker-1", ("public.squeezed",))]


def test_truncate_is_a_truncate_not_a_drop(engine: Engine, group: str, since: datetime):
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE emptied (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO emptied SELECT g, repeat('x', g) FROM generate_series(1, 300) g")
    index(engine, group)
    with engine.connect(group) as conn:
        conn.execute("TRUNCATE emptied")
        truncated_at = last_commit(conn)
    index(engine, group)

    assert found(engine, group, since, "DROP TABLE") == []
    truncates = found(engine, group, since, "TRUNCATE")
    assert [(e.commit_time, e.relations, e.database) for e in truncates] == [
        (truncated_at, ("public.emptied",), "citus")
    ]


def test_large_delete_is_an_event_with_its_rows_and_a_small_one_is_not(
    engine: Engine, group: str, since: datetime
):
    threshold = engine.large_change_rows
    with engine.connect(group, "worker-1") as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        conn.execute("INSERT INTO orders SELECT generate_series(1, %s)", (4 * threshold,))
    index(engine, group)
    with engine.connect(group, "worker-1") as conn:
        conn.execute("DELETE FROM orders WHERE id < %s", (threshold,))  # threshold - 1 rows
        conn.execute(  # two transactions of 600: neither is large
            "DELETE FROM orders WHERE id BETWEEN %s AND %s", (threshold, threshold + 599)
        )
        conn.execute(
            "DELETE FROM orders WHERE id BETWEEN %s AND %s", (threshold + 600, threshold + 1199)
        )
        conn.execute("DELETE FROM orders WHERE id >= %s", (threshold + 1200,))
        deleted_at = last_commit(conn)
    index(engine, group)

    deletes = found(engine, group, since, "DELETE")
    assert [(e.node, e.rows, e.relations, e.commit_time) for e in deletes] == [
        ("worker-1", 4 * threshold - threshold - 1199, ("public.orders",), deleted_at)
    ]


def test_large_update_counts_released_subtransactions_and_ignores_rolled_back_ones(
    engine: Engine, group: str, since: datetime
):
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE prices (id int PRIMARY KEY, amount int)")
        conn.execute("INSERT INTO prices SELECT g, g FROM generate_series(1, 2000) g")
    index(engine, group)
    with engine.connect(group) as conn:
        with conn.transaction():
            conn.execute("UPDATE prices SET amount = amount + 1 WHERE id <= 600")
            with conn.transaction():  # a savepoint, released
                conn.execute("UPDATE prices SET amount = amount + 1 WHERE id > 1400")
            with contextlib.suppress(ZeroDivisionError), conn.transaction():
                conn.execute("DELETE FROM prices")  # rolled back to its savepoint
                raise ZeroDivisionError
        updated_at = last_commit(conn)
        assert conn.execute("SELECT count(*) FROM prices").fetchone()[0] == 2000
    index(engine, group)

    assert found(engine, group, since, "DELETE") == []
    updates = found(engine, group, since, "UPDATE")
    assert [(e.rows, e.relations, e.commit_time) for e in updates] == [
        (1200, ("public.prices",), updated_at)
    ]


def test_a_transaction_open_across_two_passes_is_counted_once(
    engine: Engine, group: str, since: datetime
):
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE sessions (id int PRIMARY KEY)")
        conn.execute("INSERT INTO sessions SELECT generate_series(1, 1500)")
    index(engine, group)
    with engine.connect(group) as slow:
        slow.execute("BEGIN")
        slow.execute("DELETE FROM sessions WHERE id <= 700")
        index(engine, group)  # its first half is archived and read, not committed yet
        assert found(engine, group, since, "DELETE") == []
        slow.execute("DELETE FROM sessions WHERE id > 700")
        slow.execute("COMMIT")
        committed_at = last_commit(slow)
    index(engine, group)
    index(engine, group)

    deletes = found(engine, group, since, "DELETE")
    assert [(e.rows, e.commit_time, e.relations) for e in deletes] == [
        (1500, committed_at, ("public.sessions",))
    ]


def test_passes_are_incremental_events_and_activity_are_not_counted_twice(
    engine: Engine, group: str
):
    with engine.connect(group, "worker-1") as conn:
        conn.execute("CREATE TABLE clicks (id int)")
    index(engine, group)
    start = datetime.now(UTC) - timedelta(minutes=5)

    def totals() -> tuple[int, int, int]:
        view = engine.events(group, start)
        mine = [a for a in view.activity if a.node == "worker-1"]
        return len(view.events), sum(a.commits for a in mine), sum(a.rows for a in mine)

    before = totals()
    with engine.connect(group, "worker-1") as conn:
        for value in range(37):
            conn.execute("INSERT INTO clicks VALUES (%s)", (value,))
        conn.execute("INSERT INTO clicks SELECT generate_series(1, 63)")
        inserted_at = last_commit(conn)
    index(engine, group)  # seal() adds one commit on each node
    after = totals()
    assert after[0] == before[0]
    assert after[2] == before[2] + 100
    # 38 commits and the seal's. Autovacuum commits an ANALYZE now and then, at times
    # of its own: allow a few of those, far fewer than the 38 a second count would add.
    assert before[1] + 39 <= after[1] < before[1] + 39 + 38
    # A pass starts where the last one stopped: only the seal's few records are new.
    assert 0 < index(engine, group) < 50
    engine.index_events(group)
    assert totals()[0] == after[0]
    assert totals()[2] == after[2]
    until = engine.events(group).indexed_until
    assert set(until) == {"coordinator", "worker-1"}
    assert until["worker-1"] > inserted_at  # the seal's commit, after the inserts


def test_rewrites_are_not_reported(engine: Engine, group: str, since: datetime):
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE compacted (id int PRIMARY KEY, body text)")
        conn.execute(
            "INSERT INTO compacted SELECT g, repeat('y', 50) FROM generate_series(1, 2000) g"
        )
        conn.execute("CREATE TABLE empty_one (id int)")
        conn.execute("CREATE TABLE witness (id int)")
    index(engine, group)
    with engine.connect(group) as conn:
        conn.execute("DELETE FROM compacted WHERE id % 4 = 0")  # 500 rows: not large
        conn.execute("VACUUM FULL compacted")
        conn.execute("VACUUM FULL empty_one")
        conn.execute("CLUSTER compacted USING compacted_pkey")
        conn.execute("ALTER TABLE compacted ALTER COLUMN id TYPE bigint")
        conn.execute("REINDEX TABLE compacted")
        conn.execute("DROP TABLE witness")  # proves the pass read past the rewrites
        dropped_at = last_commit(conn)
        assert conn.execute("SELECT count(*) FROM compacted").fetchone()[0] == 1500
    index(engine, group)

    listed = found(engine, group, since)
    assert [(e.kind, e.relations, e.commit_time) for e in listed] == [
        ("DROP TABLE", ("public.witness",), dropped_at)
    ]


def test_a_stopped_group_is_indexed_to_its_last_commit_and_old_events_are_pruned(
    engine: Engine, since: datetime
):
    name = "events-stopped"
    engine.create_group(name, workers=0)
    try:
        with engine.connect(name) as conn:
            conn.execute("CREATE TABLE staging (id int)")
            conn.execute("INSERT INTO staging SELECT generate_series(1, 10)")
        engine.index_events(name)  # no seal: only the name is learnt
        with engine.connect(name) as conn:
            conn.execute("TRUNCATE staging")
            truncated_at = last_commit(conn)
        engine.stop_group(name)  # seals: the archive holds every commit
        engine.index_events(name)
        view = engine.events(name)
        assert [(e.kind, e.relations, e.commit_time) for e in view.events] == [
            ("TRUNCATE", ("public.staging",), truncated_at)
        ]
        last = engine.catalog.read()["groups"][name]["nodes"][0]["last_commit"]
        assert view.indexed_until["coordinator"] == datetime.fromisoformat(last)

        # Once the earliest restore point passes the event, a pass forgets it.
        engine.start_group(name)
        engine.backup_group(name)
        Engine(engine.root, retention=timedelta(0), base_port=engine.base_port).expire(name)
        assert engine.restore_window(name)[0] > truncated_at
        engine.index_events(name)
        assert engine.events(name).events == ()
    finally:
        engine.delete_group(name)


def test_a_damaged_segment_is_named_and_does_not_stop_the_agent(engine: Engine):
    name = "events-damaged"
    engine.create_group(name, workers=0)
    try:
        record = engine.catalog.read()["groups"][name]["nodes"][0]
        node = engine.nodes(engine.catalog.read()["groups"][name])[0]
        engine.index_events(name)
        with engine.connect(name) as conn:
            conn.execute("CREATE TABLE filler AS SELECT generate_series(1, 5000) AS id")
        seal(engine, name)
        with engine.connect(name) as conn:
            # Where the DROP's WAL begins: the next pass must read every byte from here.
            lsn = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
            start = archive.parse_lsn(lsn)
            conn.execute("DROP TABLE filler")
        seal(engine, name)
        # Damage the WAL from there (flip it, keep the file compressed): the damage is
        # read wherever the segment boundaries fell.
        ext = record["compression"]
        victim = node.archive / f"{archive.wal_file_name(1, start)}.{ext}"
        raw = node.dir / "victim"  # where the PostgreSQL user may write
        node.pg.run("test", "zstd", "-dq", "-f", "-o", str(raw), str(victim))
        data = bytearray(raw.read_bytes())
        offset = start % archive.SEGMENT_SIZE
        end = min(offset + 4096, len(data))
        data[offset:end] = b"\xa5" * (end - offset)
        raw.write_bytes(bytes(data))
        node.pg.run("test", "zstd", "-q", "-f", "-o", str(victim), str(raw))
        raw.unlink()

        with pytest.raises(LocalCloudError) as caught:
            engine.index_events(name)
        message = str(caught.value)
        assert f"{name}/coordinator" in message
        assert victim.name in message

        done = Agent(engine).run_once()
        assert any(line.startswith(f"{name}: ") and victim.name in line for line in done)
    finally:
        engine.delete_group(name)


@pytest.mark.parametrize(
    ("error", "segment"),
    [
        # Damage right after a WAL switch: the bad record opens the next segment.
        (
            "error in WAL record at 0/C650E8: record with incorrect prev-link "
            "A5A5A5A5/A5A5A5A5 at 0/D00028",
            "00000001000000000000000D",
        ),
        (
            "error in WAL record at 0/C650E8: invalid record length at 0/C65120: wanted 24, got 0",
            "00000001000000000000000C",
        ),
        (
            "error in WAL record at 0/C650E8: invalid magic number A5A5 in log segment "
            "00000001000000000000000E, offset 0",
            "00000001000000000000000E",
        ),
        ("could not open file", "00000001000000000000000B"),  # where the pass began
    ],
)
def test_a_damaged_segment_is_the_one_holding_the_bad_record(error, segment):
    stream = waldump.Stream("coordinator", 1, resume_lsn=0xB00000)

    assert waldump.bad_segment(f"pg_waldump: error: {error}\n", stream) == segment


def test_without_pg_waldump_the_error_says_what_to_install(engine: Engine, group: str, tmp_path):
    blind = Engine(engine.root, base_port=engine.base_port, pg_bin=tmp_path)
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE unseen (id int)")
    seal(engine, group)
    with pytest.raises(LocalCloudError, match="pg_waldump") as caught:
        blind.index_events(group)
    assert f"{group}/coordinator" in str(caught.value)
    engine.index_events(group)  # the real engine carries on where it was


def wait_for_pass(engine: Engine, group: str, token: str) -> tuple[bool, str]:
    deadline = time.monotonic() + 120
    while not (state := engine.index_pass_state(group, token))[0]:
        assert time.monotonic() < deadline, "the background pass did not finish"
        time.sleep(0.05)
    return state


def test_a_background_pass_seals_indexes_and_answers_the_page_that_asked(
    engine: Engine, group: str, since: datetime
):
    with engine.connect(group, "worker-1") as conn:
        conn.execute("CREATE TABLE soon_gone (id int)")
        conn.execute("DROP TABLE soon_gone")

    token = engine.index_events_soon(group)  # returns at once: no seal, no pass yet

    assert wait_for_pass(engine, group, token) == (True, "")
    drops = found(engine, group, since, "DROP TABLE")
    assert [(e.node, e.relations) for e in drops] == [("worker-1", ("public.soon_gone",))]


def test_a_failed_background_pass_says_why(engine: Engine, group: str, tmp_path):
    blind = Engine(engine.root, base_port=engine.base_port, pg_bin=tmp_path)
    with engine.connect(group) as conn:
        conn.execute("CREATE TABLE unseen_again (id int)")

    finished, why = wait_for_pass(blind, group, blind.index_events_soon(group))

    assert finished and "pg_waldump" in why and f"{group}/coordinator" in why
    engine.index_events(group)  # the real engine carries on where it was


def test_reading_an_unindexed_or_forgotten_group_is_empty_and_writes_nothing():
    with temporary_engine() as fresh:
        assert fresh.events("never-indexed") == EventIndex((), (), {})
        assert not store.index_path(fresh.root).exists()


def test_forgetting_a_group_removes_its_rows(engine: Engine):
    name = "events-forgotten"
    engine.create_group(name, workers=0)
    engine.index_events(name)
    assert engine.events(name).indexed_until["coordinator"] is not None
    engine.delete_group(name)
    with sqlite3.connect(store.index_path(engine.root)) as conn:
        for table in ("streams", "pending", "events", "activity", "relations", "databases"):
            count = conn.execute(f"SELECT count(*) FROM {table} WHERE grp = ?", (name,))
            assert count.fetchone()[0] == 0, table
    assert engine.events(name).indexed_until == {}


def test_a_week_of_activity_reads_whole_and_in_buckets(engine: Engine):
    """7 days of minutes on 3 nodes, as the wizard's step asks for them."""
    name = "events-week"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = waldump.to_micros(now - timedelta(days=7)) // 60_000_000
    minutes = range(first, first + 7 * 24 * 60)
    nodes = ("coordinator", "worker-1", "worker-2")
    with contextlib.closing(store.connect(engine.root)) as conn, store.transaction(conn):
        conn.executemany(
            "INSERT INTO activity VALUES (?, ?, ?, ?, ?)",
            [(name, minute, node, 4, 4) for minute in minutes for node in nodes],
        )
        conn.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    name,
                    minute * 60_000_000,
                    "worker-1",
                    1,
                    minute,
                    "DELETE",
                    None,
                    "citus",
                    '["public.t"]',
                    5000,
                    minute,
                )
                for minute in minutes[::97]
            ],
        )
    try:
        view = engine.events(name, now - timedelta(days=7), now)
        assert len(view.activity) == len(minutes) * 3
        assert len(view.events) == len(minutes[::97])
        assert [a.minute for a in view.activity[:3]] == [now - timedelta(days=7)] * 3
        # Summed over nodes in buckets, as the wizard's timeline asks for them.
        hours = engine.events(name, now - timedelta(days=7), now, timedelta(hours=1)).activity
        assert len(hours) == 7 * 24
        assert {(a.node, a.commits, a.rows) for a in hours} == {("", 4 * 60 * 3, 4 * 60 * 3)}
        assert hours[1].minute - hours[0].minute == timedelta(hours=1)
    finally:
        store.forget(engine.root, name)
