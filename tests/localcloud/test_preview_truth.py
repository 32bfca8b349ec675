"""A preview shows what a restore to the same point gives, on real PostgreSQL.

The case DBAs meet: a preview just before a ``DROP TABLE``. The DROP takes its lock (and
logs it) when it runs, and commits later, in a transaction that also did other work,
while the other nodes commit in between. A preview at an instant between the two must
hold every row of the table, readable at once: no lock of a transaction still open at
that instant may be left behind.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from localcloud import LocalCloudError, NotReady
from tests.localcloud.test_preview import wait_ready

ROWS = 2_000


def invoices(node: str, conn) -> None:
    conn.execute("SET ROLE citus")
    conn.execute("CREATE TABLE items (id int PRIMARY KEY, node text NOT NULL, note text)")
    conn.execute("INSERT INTO items SELECT g, %s, 'original' FROM generate_series(1, 3) g", (node,))
    conn.execute("CREATE TABLE invoices (id int PRIMARY KEY, amount numeric NOT NULL, memo text)")
    conn.execute(
        "INSERT INTO invoices SELECT g, g * 1.5, repeat('x', 300) FROM generate_series(1, %s) g",
        (ROWS,),
    )
    conn.execute("RESET ROLE")


@pytest.fixture
def group(engine, request):
    name = "pt-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:30].strip("-")
    engine.create_group(name, workers=1, setup=invoices)
    yield name
    engine.delete_group(name)


def drop_in_a_busy_transaction(engine, name: str) -> tuple:
    """On worker-1: one transaction inserts an item, drops ``invoices`` and commits a
    moment later, while the coordinator commits twice in between. Returns (the instant
    just before the DROP's commit, the DROP's commit time)."""
    with engine.connect(name, "worker-1") as worker, engine.connect(name) as coordinator:
        worker.execute("BEGIN")
        worker.execute("INSERT INTO items VALUES (100, 'worker-1', 'in the drop')")
        worker.execute("DROP TABLE invoices")
        for number in (201, 202):
            coordinator.execute(
                "INSERT INTO items VALUES (%s, 'coordinator', 'between')", (number,)
            )
            time.sleep(0.05)
        worker.execute("COMMIT")
        dropped = worker.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
    return dropped - timedelta(milliseconds=1), dropped


def test_a_preview_just_before_a_drop_counts_and_reads_every_row(engine, group):
    point, _ = drop_in_a_busy_transaction(engine, group)

    preview = engine.preview_start(group, point, node="worker-1")
    assert wait_ready(engine, preview.id).status == "Ready"
    try:
        counted = {table.name: table for table in engine.preview_tables(preview.id)}
        assert counted["invoices"].rows == ROWS
        assert counted["invoices"].exact
        # The DROP's transaction had not committed at T: its insert is not there either.
        assert counted["items"].rows == 3
        assert counted["items"].exact

        result = engine.preview_query(
            preview.id, "SELECT count(*), sum(amount) FROM invoices", timeout=5.0
        )
        assert result.rows == ((str(ROWS), str(sum(g * 1.5 for g in range(1, ROWS + 1)))),)
        notes = engine.preview_query(preview.id, "SELECT note FROM items ORDER BY id").rows
        assert notes == (("original",),) * 3
    finally:
        engine.preview_close(preview.id)


def test_compare_with_now_shows_the_dropped_table_with_its_rows_at_the_point(engine, group):
    with engine.connect(group, "worker-1") as conn:
        conn.execute("CREATE TABLE later (id int)")
    point, _ = drop_in_a_busy_transaction(engine, group)
    with engine.connect(group, "worker-1") as conn:
        conn.execute("CREATE TABLE newer (id int)")
        conn.execute("INSERT INTO newer VALUES (1), (2)")
        conn.execute("DELETE FROM items WHERE id = 1")

    preview = engine.preview_start(group, point, node="worker-1")
    assert wait_ready(engine, preview.id).status == "Ready"
    try:
        compared = {row.name: row for row in engine.preview_compare(preview.id)}
    finally:
        engine.preview_close(preview.id)

    assert set(compared) == {"items", "invoices", "later", "newer"}
    dropped = compared["invoices"]
    assert (dropped.at_point.rows, dropped.at_point.exact, dropped.now) == (ROWS, True, None)
    created = compared["newer"]
    assert (created.at_point, created.now.rows) == (None, 2)
    # items: 3 at T; now 3, plus the DROP's transaction's insert, minus one deleted.
    assert (compared["items"].at_point.rows, compared["items"].now.rows) == (3, 3)
    assert (compared["later"].at_point.rows, compared["later"].now.rows) == (0, 0)


def test_compare_with_now_says_why_when_the_source_is_stopped(engine, group):
    point, _ = drop_in_a_busy_transaction(engine, group)
    engine.stop_group(group)
    preview = engine.preview_start(group, point, node="worker-1")
    assert wait_ready(engine, preview.id).status == "Ready"
    try:
        with pytest.raises(NotReady, match="worker-1 is not running"):
            engine.preview_compare(preview.id)
        # The preview itself still counts every row at T.
        counted = {table.name: table.rows for table in engine.preview_tables(preview.id)}
        assert counted["invoices"] == ROWS
    finally:
        engine.preview_close(preview.id)


def test_nothing_a_query_does_in_the_promoted_copy_stays(engine, group):
    """Promoted, the copy is no standby any more: the query path alone keeps it as it
    was at T. Statements that write are refused; what a function may still do inside the
    query's read-only transaction (PostgreSQL 15 lets ``lo_create`` run there) is rolled
    back with it."""
    point, _ = drop_in_a_busy_transaction(engine, group)
    preview = engine.preview_start(group, point, node="worker-1")
    assert wait_ready(engine, preview.id).status == "Ready"
    try:
        refused = [
            "SELECT set_config('transaction_read_only', 'off', false)",
            "WITH gone AS (DELETE FROM invoices RETURNING 1) SELECT count(*) FROM gone",
            "SELECT 1; DELETE FROM invoices",
        ]
        for sql in refused:
            with pytest.raises(LocalCloudError):
                engine.preview_query(preview.id, sql)
        engine.preview_query(preview.id, "SELECT lo_create(0)")
        left = engine.preview_query(preview.id, "SELECT count(*) FROM pg_largeobject_metadata")
        assert left.rows == (("0",),)
        counted = {table.name: table.rows for table in engine.preview_tables(preview.id)}
        assert counted["invoices"] == ROWS
    finally:
        engine.preview_close(preview.id)
