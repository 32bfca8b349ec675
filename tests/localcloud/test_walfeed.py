"""The WAL feeder: archived segments decompressed ahead of recovery, in order, within
its bound, checked, skipping what recovery fetched itself; and a WAL-bound restore fed
by it gives exactly the data committed up to T."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import archive, walfeed
from localcloud.testing import Writer, create_ticks, ticks_until

AHEAD, BATCH = 8, 4


@pytest.fixture(scope="module")
def many_segments(engine):
    """A one-node group with a backup, then about 40 WAL segments archived after it."""
    engine.create_group("fed", workers=0, setup=create_ticks)
    engine.backup_group("fed")
    with engine.connect("fed") as conn:
        for _ in range(40):
            conn.execute("INSERT INTO ticks (node) SELECT 'c' FROM generate_series(1, 2000)")
            conn.execute("SELECT pg_switch_wal()")
    engine.seal_group("fed")
    yield "fed"
    engine.delete_group("fed")


def node_of(engine, group: str):
    record = engine.catalog.read()["groups"][group]["nodes"][0]
    return engine.node(group, record), record


def staged(stage) -> list[str]:
    return sorted(p.name for p in stage.iterdir() if walfeed.SEGMENT_NAME.match(p.name))


def wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.01)
    return found


def test_feeder_stages_in_order_within_its_bound_and_skips_what_recovery_fetched(
    engine, many_segments
):
    node, record = node_of(engine, many_segments)
    start = record["backups"][-1]["start_wal"]
    first = archive.segment_number(start)
    expected = [archive.wal_file_name(1, (first + i) * archive.SEGMENT_SIZE) for i in range(40)]
    stage = node.dir / "feed-test"
    feeder = walfeed.Feeder(node.pg, node.label, node.archive, "zst", stage, start,
                            ahead=AHEAD, batch=BATCH).start()  # fmt: skip
    try:
        names = wait_for(lambda: len(staged(stage)) == AHEAD and staged(stage), "nothing fed")
        assert names == expected[:AHEAD]
        assert feeder.claimed == AHEAD  # room for nothing more until recovery takes some
        unpacked = subprocess.run(
            ["zstd", "-dqc", str(node.archive / f"{names[0]}.zst")], capture_output=True, check=True
        ).stdout
        assert (stage / names[0]).read_bytes() == unpacked
        assert len(unpacked) == archive.SEGMENT_SIZE

        # Recovery fetched segment 20 itself (the restore command's mark): the feeder
        # skips what lies before it and feeds on from 21, as far as its bound.
        (stage / f".taken-{expected[20]}").touch()
        wait_for(lambda: len(staged(stage)) == 2 * AHEAD, "did not skip ahead")
        assert staged(stage) == [*expected[:AHEAD], *expected[21 : 21 + AHEAD]]
        assert not (stage / f".taken-{expected[20]}").exists()  # read and removed
        assert feeder.damaged is None and feeder.error is None
    finally:
        feeder.close()
    assert not stage.exists()
    assert not any(thread.is_alive() for thread in feeder.threads)


def unpacked(node, name: str) -> bytes:
    return subprocess.run(
        ["zstd", "-dqc", str(node.archive / f"{name}.zst")], capture_output=True, check=True
    ).stdout


def marked_archived(wal) -> list[str]:
    return sorted(p.name.removesuffix(".done") for p in (wal / "archive_status").iterdir())


def test_attached_feeder_feeds_pg_wal_marked_archived_and_complete(engine, many_segments):
    node, record = node_of(engine, many_segments)
    start = record["backups"][-1]["start_wal"]
    first = archive.segment_number(start)
    expected = [archive.wal_file_name(1, (first + i) * archive.SEGMENT_SIZE) for i in range(40)]
    stage = node.dir / "feed-attach"
    wal = node.dir / "attach-data" / "pg_wal"
    node.pg.make_dir(wal.parent)
    node.pg.make_dir(wal)
    # As unpacked from the backup: its last segment holds WAL only up to the backup's end.
    node.pg.write_file(wal / expected[0], "cut short at the end of the backup")
    node.pg.write_file(wal / expected[30], "not fed yet")
    feeder = walfeed.Feeder(node.pg, node.label, node.archive, "zst", stage, start,
                            ahead=AHEAD, batch=BATCH).start()  # fmt: skip

    def fed() -> list[str]:
        return sorted(p.name.removeprefix(walfeed.FED) for p in stage.glob(f"{walfeed.FED}*"))

    try:
        wait_for(lambda: staged(stage) == expected[:AHEAD], "nothing staged before attach")
        feeder.attach(wal)  # the backup is unpacked: what was staged goes into pg_wal
        assert staged(stage) == []
        assert staged(wal) == [*expected[:AHEAD], expected[30]]
        assert (wal / expected[0]).read_bytes() == unpacked(node, expected[0])
        assert fed() == expected[:AHEAD]  # what the restore command takes from pg_wal
        assert (wal / expected[30]).read_text() == "not fed yet"
        # Never archived again by the new node: every segment is marked archived.
        assert marked_archived(wal) == [*expected[:AHEAD], expected[30]]

        # Recovery asks for the first batch (the restore command's marks): fed on into
        # pg_wal directly, no further than the bound.
        for name in expected[:BATCH]:
            (stage / f".taken-{name}").touch()
        wait_for(lambda: fed() == expected[BATCH : BATCH + AHEAD], "not fed on into pg_wal")
        assert feeder.claimed == BATCH + AHEAD
        assert staged(wal) == [*expected[: BATCH + AHEAD], expected[30]]
        assert marked_archived(wal) == [*expected[: BATCH + AHEAD], expected[30]]
        assert (wal / expected[AHEAD]).read_bytes() == unpacked(node, expected[AHEAD])
        assert staged(stage) == []
    finally:
        feeder.close()
        shutil.rmtree(wal.parent)
    assert not stage.exists()


def test_the_restore_command_leaves_a_fed_segment_to_pg_wal_and_fetches_the_rest(
    engine, many_segments
):
    node, record = node_of(engine, many_segments)
    first = archive.segment_number(record["backups"][-1]["start_wal"])
    fed, unfed = (archive.wal_file_name(1, (first + i) * archive.SEGMENT_SIZE) for i in (1, 2))
    stage = node.dir / "command-stage"
    wal = node.dir / "command-data" / "pg_wal"
    for folder in (stage, wal.parent, wal):
        node.pg.make_dir(folder)
    command = archive.restore_command(engine.bin_dir, node.archive, "zst", stage)

    def restore(name: str) -> int:
        filled = command.replace("%f", name).replace("%p", str(wal / "RECOVERYXLOG"))
        process = node.pg.open("sh", "-c", filled.replace("%%", "%"))
        process.communicate()
        return process.returncode

    try:
        # Fed: recovery is told "not in the archive" and reads pg_wal; the feeder learns
        # that recovery got there.
        node.pg.write_file(wal / fed, "fed")
        node.pg.write_file(stage / f"{walfeed.FED}{fed}", "")
        assert restore(fed) == 1
        assert (stage / f".taken-{fed}").exists()
        assert not (wal / "RECOVERYXLOG").exists()
        # Not fed (unpacked from the backup, or the feeder is behind): fetched whole from
        # the archive, checked against its checksum.
        node.pg.write_file(wal / unfed, "cut short at the end of the backup")
        assert restore(unfed) == 0
        assert (wal / "RECOVERYXLOG").read_bytes() == unpacked(node, unfed)
        # Past the archive's end: nothing, and recovery ends there.
        assert restore(archive.wal_file_name(1, (first + 999) * archive.SEGMENT_SIZE)) == 1
    finally:
        shutil.rmtree(stage)
        shutil.rmtree(wal.parent)


def test_wal_bound_restore_with_the_feeder_gives_exactly_the_rows_committed_up_to_t(engine):
    engine.create_group("fed-truth", workers=0, setup=create_ticks)
    engine.backup_group("fed-truth")
    writer = Writer(engine, "fed-truth", every=0.001).start()
    try:
        with engine.connect("fed-truth") as conn:
            for step in range(60):
                conn.execute("INSERT INTO ticks (node) SELECT 'bulk' FROM generate_series(1, 5000)")
                if step == 30:
                    point = datetime.now(UTC)
    finally:
        writer.stop()
    node, record = node_of(engine, "fed-truth")
    start = archive.segment_number(record["backups"][-1]["start_wal"])
    with engine.connect("fed-truth") as conn:
        now = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
    assert archive.segment_number(now) - start >= 20  # WAL-bound: many segments to replay

    restored = engine.restore("fed-truth", "fed-truth-copy", point)

    assert restored.status == "Ready"
    assert ticks_until(engine, "fed-truth-copy", "coordinator", point + timedelta(days=1)) == (
        ticks_until(engine, "fed-truth", "coordinator", point)
    )
    assert not (engine.group_dir("fed-truth-copy") / "coordinator" / walfeed.STAGE).exists()
    engine.delete_group("fed-truth-copy")
    engine.delete_group("fed-truth")
