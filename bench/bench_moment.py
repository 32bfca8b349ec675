"""Finding the right moment: how fast a preview of the demo group is ready, and how fast
the restore window with 7 days of indexed WAL activity is drawn.

The preview is compared with a restore of the same group to the same point (what a DBA
does without a preview); the timeline's server time with the trivial view, interleaved.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.django_env import portal_test_env, signed_in_client
from bench.timing import measure_against

BASE_PORT = 29432
RUNS = 5


def wait_ready(engine, preview_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while (preview := engine.preview_status(preview_id)).status != "Ready":
        if preview.status == "Failed" or time.monotonic() > deadline:
            raise RuntimeError(f"preview {preview_id}: {preview.status} {preview.message}")
        time.sleep(0.02)


def preview_ready(rec, engine) -> None:
    from localcloud.demo import write_once

    previews, restores = [], []
    for run in range(RUNS):
        write_once(engine)  # a commit to stop at, as the demo's writer makes
        point = datetime.now(UTC)
        write_once(engine)
        begin = time.monotonic()
        preview = engine.preview_start("citus-demo", point)
        wait_ready(engine, preview.id)
        previews.append(time.monotonic() - begin)
        tables = engine.preview_tables(preview.id)
        assert any(table.name == "page_views" for table in tables), tables
        engine.preview_close(preview.id)
        if run < 3:
            begin = time.monotonic()
            engine.restore("citus-demo", f"moment-copy-{run}", point)
            restores.append(time.monotonic() - begin)
            engine.delete_group(f"moment-copy-{run}")
    ready = statistics.median(previews)
    rec.figure(
        f"preview of the demo group's coordinator, start to Ready, median of {RUNS} "
        f"(max {max(previews):.2f} s)",
        ready,
        "s",
        baseline=statistics.median(restores),
        baseline_label="restore of the whole group to the same point, median of 3",
        target="<= 3 s",
        met=ready <= 3,
    )


def drop_on_worker(engine, run: int, rows: int) -> datetime:
    """On worker-1 of the demo group: a table of ``rows`` rows, then one transaction that
    writes a page view and drops it, committed after the other nodes wrote. Returns the
    instant just before the DROP's commit."""
    from localcloud.demo import DEMO, write_once

    table = f"bench_invoices_{run}"
    with engine.connect(DEMO, "worker-1") as worker:
        worker.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, memo text)")
        worker.execute(
            f"INSERT INTO {table} SELECT g, repeat('x', 200) FROM generate_series(1, %s) g",
            (rows,),
        )
        worker.execute("BEGIN")
        worker.execute("INSERT INTO page_views (company_id, url) VALUES (1, '/drop')")
        worker.execute(f"DROP TABLE {table}")
        write_once(engine)  # commits on every other node while the DROP is open
        worker.execute("COMMIT")
        dropped = worker.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
    return dropped - timedelta(milliseconds=1)


def preview_before_drop(rec, engine, rows: int = 2_000) -> None:
    """A preview of worker-1 just before a DROP TABLE (its lock logged before T, its
    commit after): start to Ready, and to every table counted exactly."""
    ready, counted = [], []
    for run in range(RUNS):
        point = drop_on_worker(engine, run, rows)
        begin = time.monotonic()
        preview = engine.preview_start("citus-demo", point, node="worker-1")
        wait_ready(engine, preview.id)
        ready.append(time.monotonic() - begin)
        tables = {table.name: table for table in engine.preview_tables(preview.id)}
        counted.append(time.monotonic() - begin)
        engine.preview_close(preview.id)
        dropped = tables[f"bench_invoices_{run}"]
        assert (dropped.rows, dropped.exact) == (rows, True), dropped
    seconds = statistics.median(ready)
    rec.figure(
        f"preview of demo worker-1 just before a DROP TABLE of {rows:,} rows, start to "
        f"Ready, median of {RUNS} (max {max(ready):.2f} s)",
        seconds,
        "s",
        target="< 3 s",
        met=seconds < 3,
    )
    rec.figure(
        f"the same, start to every table counted exactly (the dropped one: {rows:,} rows), "
        f"median of {RUNS}",
        statistics.median(counted),
        "s",
        baseline=seconds,
        baseline_label="start to Ready",
    )


def preview_after_hours(rec, engine, segments: int = 240) -> None:
    """The same, with ``segments`` WAL segments to replay since the backup: what 4 hours
    of an idle group's archive_timeout switches leave (one 1 MB segment a minute)."""
    from localcloud import archive

    with engine.connect("citus-demo") as conn:
        for _ in range(segments):
            conn.execute("SELECT pg_current_xact_id()")
            conn.execute("SELECT pg_switch_wal()")
    archive.seal(engine.nodes(engine.catalog.read()["groups"]["citus-demo"])[0])
    point = datetime.now(UTC)
    begin = time.monotonic()
    preview = engine.preview_start("citus-demo", point)
    wait_ready(engine, preview.id, timeout=300)
    seconds = time.monotonic() - begin
    engine.preview_close(preview.id)
    rec.figure(
        f"preview of the demo coordinator with {segments} archived segments to replay "
        "(4 h of an idle group)",
        seconds,
        "s",
    )


def hour_of_demo_wal(engine) -> None:
    """One hour of the demo writer's WAL on every node, as it leaves it: a page view
    every 15 s on each node and an archive_timeout switch a minute (60 segments a
    node), made at once."""
    from localcloud.demo import DEMO, write_once

    nodes = engine.nodes(engine.catalog.group(DEMO))
    for _minute in range(60):
        for _view in range(4):
            write_once(engine)
        for node in nodes:
            with node.connect() as conn:
                conn.execute("SELECT pg_switch_wal()")
    engine.seal_group(DEMO)


def index_pass_last_hour(rec, engine) -> None:
    """The pass the wizard's custom step starts, over the demo group's last hour: the
    index is put back to where it stood before the hour for each run."""
    import contextlib
    import sqlite3

    from localcloud.demo import DEMO
    from localcloud.walindex import store

    engine.seal_group(DEMO)
    engine.index_events(DEMO)  # the agent's passes so far
    with contextlib.closing(sqlite3.connect(":memory:")) as before:
        with contextlib.closing(store.connect(engine.root)) as index:
            index.backup(before)
        hour_of_demo_wal(engine)

        def rewind() -> None:
            with contextlib.closing(store.connect(engine.root)) as index:
                before.backup(index)

        passes, sealed, records = [], [], 0
        for _ in range(RUNS):
            rewind()
            begin = time.monotonic()
            records = engine.index_events(DEMO)
            passes.append(time.monotonic() - begin)
        for _ in range(3):
            rewind()
            begin = time.monotonic()
            engine.seal_group(DEMO)
            engine.index_events(DEMO)
            sealed.append(time.monotonic() - begin)
    nodes = len(engine.catalog.group(DEMO)["nodes"])
    index_seconds = statistics.median(passes)
    rec.figure(
        f"index pass over the demo group's last hour ({nodes} nodes, 60 archived segments "
        f"each, {records} WAL records), median of {RUNS} (max {max(passes):.2f} s)",
        index_seconds,
        "s",
        target="< 1 s",
        met=index_seconds < 1,
    )
    rec.figure(
        "seal and index pass as the custom step starts it (the last hour), median of 3",
        statistics.median(sealed),
        "s",
        baseline=index_seconds,
        baseline_label="index pass alone",
    )


def run(rec) -> None:
    from localcloud.demo import ensure_demo
    from localcloud.testing import temporary_engine

    with temporary_engine(base_port=BASE_PORT) as engine:
        ensure_demo(engine)
        index_pass_last_hour(rec, engine)
        preview_ready(rec, engine)
        preview_before_drop(rec, engine)
        preview_after_hours(rec, engine)
        with portal_test_env():
            timeline_render(rec, engine)


def timeline_render(rec, engine) -> None:
    """Step 2's timeline over 7 days of demo activity, read from the index."""
    from django.conf import settings

    from portal.backends import reset_backends

    week_of_activity(engine, "citus-demo")
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(engine.root), "base_port": BASE_PORT},
        }
    }
    reset_backends()
    client, _ = signed_in_client()
    url = "/servergroups/local/citus-demo/restore/timeline/"
    html = client.get(url).content.decode()
    assert html.count('class="tl-activity"') > 100, "the week's activity is not drawn"
    timing, trivial = measure_against(client, url, "/healthz/trivial/", count=100)
    rec.figure(
        f"timeline of 7 days of demo activity, server time p95 (p50 {timing['p50']:.1f} ms)",
        timing["p95"],
        "ms",
        baseline=trivial["p95"],
        baseline_label="trivial view p95, interleaved",
        target="<= 200 ms",
        met=timing["p95"] <= 200,
    )


def week_of_activity(engine, name: str) -> None:
    """Make ``name`` look 7 days old to the index: its backups moved a week back in the
    catalog (one per day, as the agent takes them), and a week of the demo writer's
    activity in the index as the indexer records it (per node and minute: 4 commits of
    one row each, the writer's pace), with a handful of destructive events."""
    import contextlib

    from localcloud.model import format_time, parse_time
    from localcloud.walindex import store, waldump

    now = datetime.now(UTC)
    with engine.catalog.change() as data:
        for record in data["groups"][name]["nodes"]:
            first = record["backups"][0]
            record["backups"] = [
                {
                    **first,
                    "id": f"{first['id']}-{day}",
                    "start_time": format_time(
                        parse_time(first["start_time"]) - timedelta(days=day)
                    ),
                    "end_time": format_time(parse_time(first["end_time"]) - timedelta(days=day)),
                }
                for day in range(7, 0, -1)
            ] + record["backups"]
    nodes = [record["name"] for record in data["groups"][name]["nodes"]]
    first_minute = waldump.to_micros(now - timedelta(days=7)) // 60_000_000
    minutes = range(first_minute, first_minute + 7 * 24 * 60)
    with contextlib.closing(store.connect(engine.root)) as conn, store.transaction(conn):
        conn.executemany(
            "INSERT OR REPLACE INTO activity VALUES (?, ?, ?, ?, ?)",
            [(name, minute, node, 4, 4) for minute in minutes for node in nodes],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    name,
                    minute * 60_000_000 + 1_500_000,
                    nodes[index % len(nodes)],
                    1,
                    minute,
                    "DELETE",
                    minute * 60_000_000 + 1_000_000,
                    "citus",
                    '["public.page_views"]',
                    5000,
                    1000 + index,
                )
                for index, minute in enumerate(minutes[:: 24 * 60 // 2])
            ],
        )
