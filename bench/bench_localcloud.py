"""localcloud benchmarks (issue 3): restore speed against the physical limit, the demo
restore, idle archive growth and memory per node.

The large restore and its physical limit, both measured in the same run on the same
bytes. A source group of 3 nodes x ``pgbench -i -s BENCH_SCALE`` (68: about 1 GB per
node) is backed up, then updated (so the restore replays WAL past the backup), and the
restore point is taken after that.

- Restore: ``Engine.restore(source, copy, point)`` from the call to the new group Ready
  and self-contained (its first backup registered, its window open), with every phase
  timed per node through the progress callback: seal, unpack, recovery to promotion,
  first backup, catalog.
- Physical limit: what any restore of these backups must at least do, with the same
  parallelism (one thread per node): ``tar -x`` of the node's ``base.tar`` and
  ``pg_wal.tar`` into an empty directory, ``zstd -d`` of every archived segment from the
  backup's start (a superset of what the restore replays), and ``sync -f`` (syncfs) so
  the bytes are on disk, as the restore's data is before recovery starts. Replaying
  the WAL is not in it: a limit has no cheaper way to apply WAL than PostgreSQL, so that
  time counts against the restore.
- Both start with ``sync`` and from the same page cache state (the backups were just
  read or written). The limit is measured before and after the restore, and the lower
  of the two is the baseline, so noise of the shared disk cannot flatter the ratio.

Environment:
  BENCH_SCALE         pgbench scale per node for the large restore (default 68, ~1 GB)
  BENCH_IDLE_SECONDS  window over which archive growth is measured (default 300)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.pgbench import load_pgbench
from localcloud import Engine
from localcloud.demo import _setup as demo_setup
from localcloud.demo import write_once
from localcloud.testing import temporary_engine

BASE_PORT = 29432


def _node_processes(engine: Engine, group: str) -> dict[str, list[int]]:
    record = engine.catalog.read()["groups"][group]
    return {n["name"]: engine.node(group, n).processes() for n in record["nodes"]}


def _memory_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _archive_bytes(engine: Engine, group: str) -> dict[str, int]:
    record = engine.catalog.read()["groups"][group]
    sizes = {}
    for n in record["nodes"]:
        folder = engine.node(group, n).archive
        sizes[n["name"]] = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return sizes


def bench_large_restore(rec, engine: Engine, scale: int) -> None:
    """3 nodes x pgbench scale ``scale``: restore time against the physical limit."""
    name = "bench-large"
    engine.create_group(name, workers=2)
    load_pgbench(engine, name, scale)
    group = engine.get_group(name)
    engine.backup_group(name)
    # Some WAL after the backup, so the restore replays real work.
    for node in group.nodes:
        with engine.connect(name, node.name) as conn:
            conn.execute("UPDATE pgbench_branches SET bbalance = bbalance + 1")
            conn.execute("UPDATE pgbench_tellers SET tbalance = tbalance + 1")
    point = datetime.now(UTC)
    record = engine.catalog.read()["groups"][name]
    backups = [engine.node(name, n).backups / n["backups"][-1]["id"] for n in record["nodes"]]
    size = sum(p.stat().st_size for folder in backups for p in folder.iterdir())

    # The physical limit (see the module docstring).
    scratch = engine.root / "bench-scratch"

    def unpack(index: int) -> None:
        target = scratch / str(index)
        (target / "pg_wal").mkdir(parents=True)
        subprocess.run(
            ["tar", "-xf", str(backups[index] / "base.tar"), "-C", str(target)], check=True
        )
        subprocess.run(
            ["tar", "-xf", str(backups[index] / "pg_wal.tar"), "-C", str(target / "pg_wal")],
            check=True,
        )
        node = engine.node(name, record["nodes"][index])
        start = record["nodes"][index]["backups"][-1]["start_wal"]
        for segment in sorted(node.archive.glob("0*.zst")):
            if segment.name[:24] >= start:
                out = target / "pg_wal" / segment.name[:-4]
                subprocess.run(["zstd", "-dqf", "-o", str(out), str(segment)], check=True)
        subprocess.run(["sync", "-f", str(target)], check=True)

    def physical_limit() -> float:
        subprocess.run(["sync"], check=True)
        started = time.monotonic()
        with ThreadPoolExecutor(len(backups)) as pool:
            list(pool.map(unpack, range(len(backups))))
        took = time.monotonic() - started
        subprocess.run(["rm", "-rf", str(scratch)], check=True)
        return took

    limits = [physical_limit()]

    marks: dict[tuple[str, str | None, int], float] = {}

    def progress(phase: str, node: str | None, percent: int) -> None:
        marks[(phase, node, percent)] = time.monotonic() - started

    subprocess.run(["sync"], check=True)
    started = time.monotonic()
    engine.restore(name, "bench-large-copy", point, progress)
    took = time.monotonic() - started
    engine.delete_group("bench-large-copy")
    limits.append(physical_limit())
    limit = min(limits)
    rec.figure(
        f"restore 3 nodes x {size / 3 / 1e9:.2f} GB (pgbench -s {scale}), call to Ready",
        round(took, 2),
        "s",
        baseline=round(limit, 2),
        baseline_label=(
            "physical limit: parallel tar -x + WAL unpack + syncfs of the same backups, "
            f"best of {' and '.join(f'{t:.2f}' for t in limits)} s measured before and after"
        ),
        target="<= 1.5x the physical limit",
        met=took <= 1.5 * limit,
    )
    rec.figure(
        "restore time / physical limit", round(took / limit, 2), "x", target="<= 1.5", met=None
    )
    # Where the time went, per phase, on the slowest node (seconds from the call).
    nodes = [n["name"] for n in record["nodes"]]
    phases = [
        ("unpack the backup", ("restoring", 5), ("restoring", 40)),
        ("configure and start", ("restoring", 40), ("restoring", 50)),
        ("recover to T and promote", ("restoring", 50), ("backing up", 80)),
        ("first backup (adopted)", ("backing up", 80), ("backing up", 100)),
    ]
    first_node = min(marks.get(("restoring", n, 5), took) for n in nodes)
    rec.figure("restore phase: seal the source", round(first_node, 2), "s")
    for label, begin, end in phases:
        spans = [
            marks[(end[0], n, end[1])] - marks[(begin[0], n, begin[1])]
            for n in nodes
            if (begin[0], n, begin[1]) in marks and (end[0], n, end[1]) in marks
        ]
        if spans:
            rec.figure(f"restore phase: {label}, slowest node", round(max(spans), 2), "s")
    last_node = max(marks.get(("backing up", n, 100), 0.0) for n in nodes)
    rec.figure("restore phase: catalog to Ready", round(took - last_node, 2), "s")
    engine.delete_group(name)


def bench_demo_restore(rec, engine: Engine) -> None:
    name = "bench-demo"
    engine.create_group(name, workers=2, setup=demo_setup(2))
    while datetime.now(UTC) - engine.restore_window(name)[0] < timedelta(seconds=1.5):
        write_once(engine, name)
        time.sleep(0.1)
    times = []
    for attempt in range(3):
        point = datetime.now(UTC) - timedelta(seconds=1)
        started = time.monotonic()
        engine.restore(name, f"bench-demo-{attempt}", point)
        times.append(time.monotonic() - started)
        engine.delete_group(f"bench-demo-{attempt}")
    engine.delete_group(name)
    took = statistics.median(times)
    rec.figure(
        "demo group (coordinator + 2 workers) restore, call to Ready, median of 3",
        round(took, 2),
        "s",
        target="<= 3 s",
        met=took <= 3.0,
    )


def bench_idle(rec, engine: Engine, window: float) -> None:
    """Archive growth and memory of an idle group, and of one with the demo writer."""
    engine.create_group("bench-idle", workers=2)
    engine.create_group("bench-writer", workers=2, setup=demo_setup(2))
    before = {g: _archive_bytes(engine, g) for g in ("bench-idle", "bench-writer")}
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < window:
        write_once(engine, "bench-writer")  # the demo writer's pace: 4 rows a minute per node
        time.sleep(min(15.0, max(0.0, window - elapsed)))
    elapsed = time.monotonic() - started
    for group, label in (("bench-idle", "idle"), ("bench-writer", "demo writer, 4 rows/min")):
        after = _archive_bytes(engine, group)
        growth = [after[n] - before[group][n] for n in after]
        per_day = max(growth) / elapsed * 86400 / 1e6
        rec.figure(
            f"archive growth per node per day, {label} (max node, measured over "
            f"{elapsed:.0f} s and scaled to 24 h)",
            round(per_day, 2),
            "MB/day",
            target="<= 100 MB/day" if label == "idle" else "",
            met=per_day <= 100 if label == "idle" else None,
        )
    processes = _node_processes(engine, "bench-idle")
    pss = max(sum(_memory_kb(pid, "Pss") for pid in pids) for pids in processes.values())
    rss = max(sum(_memory_kb(pid, "Rss") for pid in pids) for pids in processes.values())
    rec.figure(
        "memory per idle node: PSS summed over its processes (shared memory counted once)",
        round(pss / 1024, 1),
        "MB",
        target="<= 40 MB",
        met=pss / 1024 <= 40,
    )
    rec.figure(
        "memory per idle node: RSS summed over its processes (shared pages counted per process)",
        round(rss / 1024, 1),
        "MB",
    )
    engine.delete_group("bench-idle")
    engine.delete_group("bench-writer")


def run(rec) -> None:
    scale = int(os.environ.get("BENCH_SCALE", "68"))
    window = float(os.environ.get("BENCH_IDLE_SECONDS", "300"))
    with temporary_engine(base_port=BASE_PORT) as engine:
        bench_demo_restore(rec, engine)
        bench_idle(rec, engine, window)
        bench_large_restore(rec, engine, scale)
