"""A restore to T yields, on every node, exactly the rows committed at or before T."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from localcloud import Engine
from localcloud.testing import commit_times, ticks_all, ticks_count, ticks_until


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not true within {timeout:.0f} s: {condition}"
        time.sleep(0.01)


def assert_truth(engine: Engine, source: str, target: str, point: datetime) -> None:
    for node in engine.get_group(target).nodes:
        expected = ticks_until(engine, source, node.name, point)
        assert ticks_all(engine, target, node.name) == expected, node.name


def test_earliest_restore_has_the_rows_committed_by_the_earliest_point(engine, source):
    earliest, _ = engine.restore_window("src")

    restored = engine.restore("src", "truth-earliest")

    assert restored.status == "Ready"
    assert restored.restore_point == earliest
    assert restored.restored_from == "src"
    assert_truth(engine, "src", "truth-earliest", earliest)
    assert ticks_count(engine, "truth-earliest", "worker-1") > 0
    engine.delete_group("truth-earliest")


def test_custom_point_between_commits_keeps_exactly_the_earlier_rows(engine, source):
    times = commit_times(engine, "src", "coordinator")
    before, after = times[len(times) // 2], times[len(times) // 2 + 1]
    point = before + (after - before) / 2

    engine.restore("src", "truth-between", point)

    assert_truth(engine, "src", "truth-between", point)
    assert ticks_all(engine, "truth-between", "coordinator")[-1] == len(
        ticks_until(engine, "src", "coordinator", before)
    )
    engine.delete_group("truth-between")


def test_custom_point_on_a_commit_includes_that_commit(engine, source):
    times = commit_times(engine, "src", "worker-2")
    point = times[len(times) * 3 // 4]

    engine.restore("src", "truth-exact", point)

    assert_truth(engine, "src", "truth-exact", point)
    assert len(ticks_all(engine, "truth-exact", "worker-2")) == times.index(point) + 1
    engine.delete_group("truth-exact")


def test_point_one_second_before_the_restore_starts_is_exact(engine, source):
    point = datetime.now(UTC) - timedelta(seconds=1)

    engine.restore("src", "truth-recent", point)

    assert_truth(engine, "src", "truth-recent", point)
    # The writer went on after T: its later rows are in the source, not in the restore.
    restored = ticks_all(engine, "truth-recent", "coordinator")
    wait_until(lambda: len(ticks_all(engine, "src", "coordinator")) > len(restored))
    engine.delete_group("truth-recent")


def test_restored_group_can_itself_be_restored(engine, source):
    first = engine.restore("src", "truth-gen1", datetime.now(UTC) - timedelta(seconds=1))
    with engine.connect("truth-gen1", "worker-1") as conn:
        conn.execute("INSERT INTO ticks (node) VALUES ('gen1-a')")
        # T is gen1-a's own commit: kept (a restore includes its point), gen1-b not.
        point = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
        conn.execute("INSERT INTO ticks (node) VALUES ('gen1-b')")

    second = engine.restore("truth-gen1", "truth-gen2", point)

    assert first.status == second.status == "Ready"
    assert second.restored_from == "truth-gen1"
    assert_truth(engine, "truth-gen1", "truth-gen2", point)
    with engine.connect("truth-gen2", "worker-1") as conn:
        nodes = [row[0] for row in conn.execute("SELECT node FROM ticks").fetchall()]
    assert "gen1-a" in nodes and "gen1-b" not in nodes
    engine.delete_group("truth-gen2")
    engine.delete_group("truth-gen1")


def test_restored_group_writes_its_own_archive_and_has_a_fresh_backup(engine, source):
    restored = engine.restore("src", "truth-own", datetime.now(UTC) - timedelta(seconds=1))
    src_ports = {node.port for node in source.nodes}

    assert all(len(node.backups) == 1 for node in restored.nodes)
    assert not src_ports & {node.port for node in restored.nodes}
    coordinator = engine.node("truth-own", engine.catalog.read()["groups"]["truth-own"]["nodes"][0])
    assert any(coordinator.archive.iterdir())
    earliest, _ = engine.restore_window("truth-own")
    assert earliest == max(node.backups[0].end_time for node in restored.nodes)
    engine.delete_group("truth-own")
