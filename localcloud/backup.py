"""Base backups (``pg_basebackup -Ft -X stream -c fast``), retention and expiry.

A restored node's first backup is adopted rather than taken: see ``adopt``.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from . import archive
from .errors import NodeFailed
from .model import utcnow
from .node import Node, Postgres, read_owned, size_owned
from .records import BackupRecord

MAX_MANIFEST = 1 << 28  # bytes; a manifest holds a line per file of the data directory


def read_manifest(pg: Postgres, label: str, path: Path) -> dict:
    """The backup manifest pg_basebackup wrote (as the node's user, who could have put
    anything there): read without following links, never quoted in an error."""
    raw = read_owned(path, pg.uid, MAX_MANIFEST)
    try:
        manifest = json.loads(raw)
        manifest["WAL-Ranges"][0]["Start-LSN"]  # noqa: B018 - the part relied upon
    except (ValueError, KeyError, IndexError, TypeError) as error:
        message = f"{label}: {path} is not a backup manifest pg_basebackup wrote."
        raise NodeFailed(message) from error
    return manifest


def take(pg: Postgres, node: Node) -> BackupRecord:
    """One base backup of a running node; returns its catalog record."""
    started = utcnow()
    backup_id = started.strftime("%Y%m%dT%H%M%S%fZ")
    partial = node.backups / f".partial-{backup_id}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        pg.run(
            node.label,
            "pg_basebackup",
            "-h",
            str(node.socket_dir),
            "-p",
            str(node.port),
            "-U",
            "postgres",
            "-D",
            str(partial),
            "-Ft",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        ended = utcnow()
        manifest = read_manifest(pg, node.label, partial / "backup_manifest")
        if pg.share_mode & 0o050:
            # Readable by the lineage: a restore of this group unpacks and adopts it.
            pg.run(node.label, "chmod", "-R", "g+rX", "--", str(partial))
        final = node.backups / backup_id
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    wal = manifest["WAL-Ranges"][0]
    start_lsn = archive.parse_lsn(wal["Start-LSN"])
    size = sum(size_owned(path) for path in final.iterdir())
    return {
        "id": backup_id,
        "start_time": started.isoformat(timespec="microseconds"),
        "end_time": ended.isoformat(timespec="microseconds"),
        "timeline": wal["Timeline"],
        "start_lsn": wal["Start-LSN"],
        "end_lsn": wal["End-LSN"],
        "start_wal": archive.wal_file_name(wal["Timeline"], start_lsn),
        "size": size,
    }


def adopt(
    pg: Postgres,
    node: Node,
    source: Node,
    source_record: BackupRecord,
    promoted: datetime,
    ext: str,
) -> BackupRecord:
    """The first backup of ``node``, just restored from ``source``'s backup
    ``source_record`` and promoted at ``promoted``; returns its catalog record.

    A fresh ``pg_basebackup`` would copy every byte of the node a second time. Instead
    the node gets, as hard links (copies across file systems), the backup it was
    restored from and the archived WAL from that backup's start up to the switch to
    the node's new timeline, with the ancestors' history files. With the node's own
    archive (its new timeline's history file and WAL on), that is what a restore to any
    point after ``promoted`` needs: recovery of the same backup along the same WAL to
    the switch point, then along the new timeline. Backups and archived segments are
    never written in place, so the source may expire or delete its copies; the
    restored group keeps its own. Its restore window starts at ``promoted``.
    """
    with node.connect() as conn:
        name = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
    timeline = int(name[:8], 16)
    history = []
    if timeline > 1:
        # Written by the server, as the node's user: a link planted here must not make
        # the engine (root) read, or quote, anything else.
        history_file = node.data / "pg_wal" / f"{timeline:08X}.history"
        try:
            history = archive.parse_history(read_owned(history_file, pg.uid, 1 << 20).decode())
        except (ValueError, IndexError, UnicodeDecodeError) as error:
            raise NodeFailed(
                f"{node.label}: {history_file} is not a timeline history file PostgreSQL wrote."
            ) from error
    # The WAL first, so that a backup on disk always has what it needs.
    archive.link_ancestry(
        pg, source.archive, node.archive, ext, source_record["start_wal"], history
    )
    backup_id = promoted.strftime("%Y%m%dT%H%M%S%fZ")
    partial = node.backups / f".partial-{backup_id}"
    shutil.rmtree(partial, ignore_errors=True)
    pg.make_dir(partial, pg.share_mode)
    try:
        for path in backup_dir(source, source_record).iterdir():
            archive.link_file(pg, path, partial / path.name)
        final = node.backups / backup_id
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    moment = promoted.isoformat(timespec="microseconds")
    return {
        "id": backup_id,
        "start_time": moment,
        "end_time": moment,
        "timeline": source_record["timeline"],
        "start_lsn": source_record["start_lsn"],
        "end_lsn": source_record["end_lsn"],
        "start_wal": source_record["start_wal"],
        "size": source_record["size"],
        "adopted_from": {"node": source.label, "backup": source_record["id"]},
    }


def backup_dir(node: Node, record: BackupRecord) -> Path:
    return node.backups / record["id"]


def expired(records: list[BackupRecord], retention: timedelta, now: datetime) -> list[BackupRecord]:
    """The backups retention lets go: older than the window, never the newest one."""
    ordered = sorted(records, key=lambda record: record["end_time"])
    cutoff = now - retention
    return [
        record for record in ordered[:-1] if datetime.fromisoformat(record["end_time"]) < cutoff
    ]


def expire(
    pg: Postgres, node: Node, kept: list[BackupRecord], dropped: list[BackupRecord], ext: str
) -> None:
    """Delete dropped backups and the archived WAL only they needed."""
    for record in dropped:
        shutil.rmtree(backup_dir(node, record), ignore_errors=True)
    if kept:
        oldest = min(kept, key=lambda record: record["end_time"])
        archive.cleanup(pg, node, oldest["start_wal"], ext)
