"""Verified restores: a restored file that does not match its backup's manifest, or an
archived WAL file that does not match the checksum written when it was archived, fails
the restore naming it, and leaves nothing; the source stays as it was and restorable."""

from __future__ import annotations

import hashlib
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest

from localcloud import RestoreFailed, backup
from localcloud.testing import create_ticks, processes_under, ticks_all


def assert_no_trace(engine, name: str) -> None:
    assert name not in engine.catalog.read()["groups"]
    assert not engine.group_dir(name).exists()
    assert processes_under(engine.group_dir(name)) == []


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_bit(path: Path, offset: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0x01]))


def newest_backup(engine, group: str) -> tuple[Path, dict]:
    record = engine.catalog.read()["groups"][group]["nodes"][0]
    chosen = record["backups"][-1]
    return backup.backup_dir(engine.node(group, record), chosen), chosen


def archive_of(engine, group: str) -> Path:
    return engine.node(group, engine.catalog.read()["groups"][group]["nodes"][0]).archive


@pytest.fixture
def ticked(engine):
    """A one-node group with rows in ``ticks`` and a backup taken after them."""
    engine.create_group("verified", workers=0, setup=create_ticks)
    with engine.connect("verified") as conn:
        conn.execute("INSERT INTO ticks (node) SELECT 'c' FROM generate_series(1, 500)")
    engine.backup_group("verified")
    yield "verified"
    engine.delete_group("verified")


def test_a_bit_flipped_in_a_backup_file_fails_the_restore_naming_that_file(engine, ticked):
    with engine.connect(ticked) as conn:
        relation = conn.execute("SELECT pg_relation_filepath('ticks')").fetchone()[0]
    files, _ = newest_backup(engine, ticked)
    tar = files / "base.tar"
    with tarfile.open(tar) as archive:
        offset = archive.getmember(relation).offset_data + 200
    before = engine.catalog.read()["groups"][ticked]
    original = digest(tar)

    flip_bit(tar, offset)
    try:
        with pytest.raises(RestoreFailed) as failure:
            engine.restore(ticked, "verified-copy", latest=True)
    finally:
        flip_bit(tar, offset)  # the damage undone: the backup is whole again

    message = str(failure.value)
    assert f"the restored file {relation} does not match the manifest" in message
    assert "verified-copy/coordinator" in message
    assert_no_trace(engine, "verified-copy")
    assert digest(tar) == original
    assert engine.catalog.read()["groups"][ticked]["nodes"] == before["nodes"]
    restored = engine.restore(ticked, "verified-copy", latest=True)
    assert restored.status == "Ready"
    assert len(ticks_all(engine, "verified-copy", "coordinator")) == 500
    engine.delete_group("verified-copy")


def test_a_backup_without_a_manifest_restores_with_a_note_that_it_was_not_checked(engine, ticked):
    files, _ = newest_backup(engine, ticked)
    manifest = files / "backup_manifest"
    kept = files.parent / "kept_manifest"
    manifest.rename(kept)  # as an older engine kept its backups
    notes = []

    def watch(figures: dict[str, dict]) -> None:
        notes.extend(node["note"] for node in figures.values() if node.get("note"))

    try:
        engine.begin_restore(ticked, "unverified-copy", latest=True)
        restored = engine.run_restore("unverified-copy", watch=watch)
    finally:
        kept.rename(manifest)

    assert restored.status == "Ready"
    assert len(ticks_all(engine, "unverified-copy", "coordinator")) == 500
    assert notes
    assert "has no manifest" in notes[-1] and "without being checked" in notes[-1]
    engine.delete_group("unverified-copy")


def rows_in_segments(engine, group: str, count: int) -> list[tuple[int, str, object]]:
    """``count`` rows, each committed in a WAL segment of its own, then sealed; returns
    (id, the segment holding its commit, its commit time)."""
    rows = []
    with engine.connect(group) as conn:
        for _ in range(count):
            row = conn.execute("INSERT INTO ticks (node) VALUES ('c') RETURNING id").fetchone()
            # Just past its commit record (autocommit): the segment that holds it.
            segment, committed = conn.execute(
                "SELECT pg_walfile_name(pg_current_wal_insert_lsn()),"
                " pg_xact_commit_timestamp(xmin) FROM ticks WHERE id = %s",
                (row[0],),
            ).fetchone()
            rows.append((row[0], segment, committed))
            conn.execute("SELECT pg_switch_wal()")
    engine.seal_group(group)
    return rows


def test_a_damaged_archived_wal_file_fails_a_restore_that_needs_it_naming_it(engine, ticked):
    rows = rows_in_segments(engine, ticked, 6)
    damaged = archive_of(engine, ticked) / f"{rows[3][1]}.zst"
    original = digest(damaged)
    flip_bit(damaged, damaged.stat().st_size // 2)
    try:
        with pytest.raises(RestoreFailed) as to_the_end:
            engine.restore(ticked, "wal-check", latest=True)
        assert_no_trace(engine, "wal-check")
        with pytest.raises(RestoreFailed) as past_it:
            engine.restore(ticked, "wal-check", rows[4][2])
        assert_no_trace(engine, "wal-check")
        # A point before the damage needs nothing from the damaged file.
        before = engine.restore(ticked, "wal-check", rows[1][2] + timedelta(microseconds=1))
        assert before.status == "Ready"
        restored_ids = ticks_all(engine, "wal-check", "coordinator")
        engine.delete_group("wal-check")
    finally:
        flip_bit(damaged, damaged.stat().st_size // 2)

    for failure in (to_the_end, past_it):
        message = str(failure.value)
        assert f"the archived WAL file {damaged} does not match the checksum" in message
        assert "wal-check/coordinator" in message
    assert restored_ids[-1] == rows[1][0]
    assert digest(damaged) == original
    restored = engine.restore(ticked, "wal-check", latest=True)
    assert ticks_all(engine, "wal-check", "coordinator")[-6:] == [row[0] for row in rows]
    assert restored.status == "Ready"
    engine.delete_group("wal-check")
