"""The estimate before a restore names the backup the restore uses and the WAL it will
replay (read from the archive), and a restore keeps what it measured for the next one."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from localcloud import Engine, archive, estimate, rates
from localcloud.testing import ticks_count

PAGE = 8192


def insert_lsn(engine: Engine, group: str, node: str) -> int:
    with engine.connect(group, node) as conn:
        return archive.parse_lsn(
            conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
        )


def newest_backup_before(record: dict, point: datetime) -> dict:
    ended = [b for b in record["backups"] if datetime.fromisoformat(b["end_time"]) <= point]
    return max(ended, key=lambda b: b["end_time"])


def test_estimate_names_the_backup_and_the_wal_up_to_t_and_the_restore_measures_it(engine, source):
    nodes = [node.name for node in engine.get_group("src").nodes]
    before = {name: insert_lsn(engine, "src", name) for name in nodes}
    point = datetime.now(UTC)
    counts = {name: ticks_count(engine, "src", name) for name in nodes}
    deadline = time.monotonic() + 30
    while any(ticks_count(engine, "src", name) <= counts[name] for name in nodes):
        assert time.monotonic() < deadline, "the writer committed nothing after T"
        time.sleep(0.01)
    after = {name: insert_lsn(engine, "src", name) for name in nodes}
    engine.seal_group("src")  # every commit so far archived, as a restore would make it
    runs_before = len(rates.runs(engine.root))

    found = estimate.estimate(engine, "src", point)

    records = {r["name"]: r for r in engine.catalog.read()["groups"]["src"]["nodes"]}
    assert [n.node for n in found.nodes] == nodes
    for node in found.nodes:
        chosen = newest_backup_before(records[node.node], point)
        end = archive.parse_lsn(chosen["end_lsn"])
        assert node.backup_id == chosen["id"]
        assert node.backup_end == datetime.fromisoformat(chosen["end_time"])
        assert not node.to_archive_end, node
        # Recovery stops before the first commit after T: after every record inserted
        # before T, and no later than the commit the writer made after T.
        assert before[node.node] - end <= node.wal_bytes <= after[node.node] - end, node
        assert node.unpack_bytes > 0
        assert node.seconds > 0
    assert found.seconds >= max(n.seconds for n in found.nodes)

    engine.restore("src", "estimated", point)

    kept = rates.runs(engine.root)
    assert len(kept) == min(runs_before + 1, rates.KEEP)
    run = kept[-1]
    assert run.group == "estimated"
    assert run.seconds > 0
    measured = {n.node: n for n in run.nodes}
    for node in found.nodes:
        # PostgreSQL's own recovery stopped where the estimate read it would.
        assert abs(measured[node.node].replay_bytes - node.replay_bytes) <= PAGE, node
        assert measured[node.node].unpack_bytes == node.unpack_bytes
        assert measured[node.node].replay_seconds > 0
        assert measured[node.node].unpack_seconds > 0

    again = estimate.estimate(engine, "src", point)

    figures = rates.derive(kept)
    assert again.runs == len(kept)
    assert "measured" in again.basis
    for node in again.nodes:
        shared = figures.node_seconds(node.unpack_bytes, node.replay_bytes, len(again.nodes))
        assert node.seconds == round(shared, 2)

    # The restored group is idle: no commit after now is archived, so its WAL runs to
    # the end of its archive (its new timeline included), and the estimate says so.
    idle = estimate.estimate(engine, "estimated", latest=True)

    assert all(node.to_archive_end for node in idle.nodes)
    assert all(node.replay_bytes > 0 for node in idle.nodes)
    engine.delete_group("estimated")
