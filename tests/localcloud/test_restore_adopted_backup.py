"""A restored group's first backup is adopted (hard links to the backup it was restored
from and to the archived WAL up to its promotion), not copied: it must restore exactly,
to any point after the promotion, even once the groups it came from are deleted."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from localcloud import Engine, archive
from localcloud.node import Postgres
from localcloud.testing import Writer, create_ticks, ticks_all, ticks_until


def assert_truth(engine: Engine, source: str, target: str, point: datetime) -> None:
    for node in engine.get_group(target).nodes:
        expected = ticks_until(engine, source, node.name, point)
        assert ticks_all(engine, target, node.name) == expected, node.name


def write_rows(engine: Engine, group: str, label: str) -> datetime:
    """A row on every node, one after the other; returns the last one's commit time."""
    for node in engine.get_group(group).nodes:
        with engine.connect(group, node.name) as conn:
            conn.execute("INSERT INTO ticks (node) VALUES (%s)", (label,))
            committed = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()
    return committed[0]


def point_between_writes(engine: Engine, group: str) -> datetime:
    """Commits on every node, one node after the other, then more: the point is the
    last commit of the first round (kept by a restore to it), the second round after it."""
    point = write_rows(engine, group, "before")
    write_rows(engine, group, "after")
    return point


def backup_files(engine: Engine, group: str) -> list:
    record = engine.catalog.read()["groups"][group]
    return [
        path
        for node in record["nodes"]
        for path in (engine.node(group, node).backups / node["backups"][0]["id"]).iterdir()
    ]


def test_first_backup_of_a_restored_group_restores_to_points_after_its_promotion(engine, source):
    restored = engine.restore("src", "adopt-a", datetime.now(UTC) - timedelta(seconds=1))
    records = engine.catalog.read()["groups"]["adopt-a"]["nodes"]
    assert all(len(node["backups"]) == 1 for node in records)
    assert all(node["backups"][0]["adopted_from"]["node"].startswith("src/") for node in records)
    earliest, _ = engine.restore_window("adopt-a")
    assert earliest == max(node.backups[0].end_time for node in restored.nodes)
    point = point_between_writes(engine, "adopt-a")

    engine.restore("adopt-a", "adopt-b", point)
    engine.restore("adopt-a", "adopt-c")  # the earliest point: the promotion itself

    assert_truth(engine, "adopt-a", "adopt-b", point)
    assert_truth(engine, "adopt-a", "adopt-c", earliest)
    with engine.connect("adopt-b", "worker-2") as conn:
        labels = {row[0] for row in conn.execute("SELECT node FROM ticks").fetchall()}
    assert "before" in labels and "after" not in labels
    for name in ("adopt-c", "adopt-b", "adopt-a"):
        engine.delete_group(name)


def test_restored_groups_stay_restorable_when_their_ancestors_are_deleted(engine):
    engine.create_group("elder", workers=1, setup=create_ticks)
    for node in ("coordinator", "worker-1"):  # WAL over several segments after the backup
        with engine.connect("elder", node) as conn:
            conn.execute("INSERT INTO ticks (node) SELECT 'bulk' FROM generate_series(1, 40000)")
    writer = Writer(engine, "elder").start()
    try:
        writer.wait_rows(10)
        time.sleep(0.05)
        middle = engine.restore("elder", "middle", datetime.now(UTC) - timedelta(seconds=0.02))
    finally:
        writer.stop()
    # No byte was copied: the middle group's backup files are the elder's, hard-linked.
    assert {p.stat().st_ino for p in backup_files(engine, "middle")} == {
        p.stat().st_ino for p in backup_files(engine, "elder")
    }
    first_point = point_between_writes(engine, "middle")
    expected = {n.name: ticks_until(engine, "middle", n.name, first_point) for n in middle.nodes}
    # A stopped group is restored from its archive alone (sealed when it stopped).
    engine.stop_group("middle")
    engine.delete_group("elder")
    assert all(p.stat().st_nlink == 1 for p in backup_files(engine, "middle"))

    engine.restore("middle", "young", first_point)  # a third timeline, from elder's backup

    for node in middle.nodes:
        assert ticks_all(engine, "young", node.name) == expected[node.name], node.name
    second_point = point_between_writes(engine, "young")
    engine.delete_group("middle")

    engine.restore("young", "youngest", second_point)  # from elder's backup, via 3 timelines

    assert_truth(engine, "young", "youngest", second_point)
    assert len(ticks_all(engine, "youngest", "worker-1")) < len(
        ticks_all(engine, "young", "worker-1")
    )
    engine.delete_group("youngest")
    engine.delete_group("young")


def test_only_the_wal_on_the_path_to_the_switch_is_linked(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    names = [
        "000000010000000000000002.zst",  # before the backup's start
        "000000010000000000000003.zst",  # the backup's start
        "000000010000000000000004.zst",  # timeline 1, before its switch
        "000000010000000000000005.zst",  # holds timeline 1's switch: read from timeline 2
        "000000010000000000000006.zst",  # timeline 1 after its switch: another history
        "000000020000000000000005.zst",
        "000000020000000000000007.zst",
        "000000020000000000000008.zst",  # holds timeline 2's switch to the new timeline
        "000000020000000000000009.zst",  # the source's WAL after the restore point
        "000000010000000000000004.partial.zst",
        "00000002.history.zst",
        "00000003.history.zst",  # not an ancestor
        ".000000020000000000000009.zst.tmp",
    ]
    for name in names:
        (source / name).write_bytes(name.encode())
    history = archive.parse_history("1\t0/500100\tbefore 2026-01-01\n2\t0/800010\tbefore x\n")
    pg = Postgres(tmp_path)

    count = archive.link_ancestry(pg, source, target, "zst", "000000010000000000000003", history)

    linked = sorted(path.name for path in target.iterdir())
    assert linked == sorted(
        [
            "000000010000000000000003.zst",
            "000000010000000000000004.zst",
            "000000020000000000000005.zst",
            "000000020000000000000007.zst",
            "00000002.history.zst",
        ]
    )
    assert count == len(linked)
    assert (target / linked[0]).stat().st_ino == (source / linked[0]).stat().st_ino


def test_a_restored_group_is_due_a_backup_of_its_own_at_once(engine, source):
    # The agent backs up every group that is due on its next pass.
    engine.restore("src", "adopt-own")
    assert engine.backup_due("adopt-own")
    engine.backup_group("adopt-own")
    backups = engine.get_group("adopt-own").nodes[0].backups
    assert [b.adopted for b in backups] == [True, False]
    assert not engine.backup_due("adopt-own")
    engine.delete_group("adopt-own")
