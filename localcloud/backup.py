"""Base backups (``pg_basebackup -Ft -X stream -c fast``), retention and expiry."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import archive
from .node import Node, Postgres


def utcnow() -> datetime:
    return datetime.now(UTC)


def take(pg: Postgres, node: Node) -> dict:
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
        manifest = json.loads((partial / "backup_manifest").read_text())
        final = node.backups / backup_id
        partial.rename(final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    wal = manifest["WAL-Ranges"][0]
    start_lsn = archive.parse_lsn(wal["Start-LSN"])
    size = sum(path.stat().st_size for path in final.iterdir())
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


def backup_dir(node: Node, record: dict) -> Path:
    return node.backups / record["id"]


def expired(records: list[dict], retention: timedelta, now: datetime) -> list[dict]:
    """The backups retention lets go: older than the window, never the newest one."""
    ordered = sorted(records, key=lambda record: record["end_time"])
    cutoff = now - retention
    return [
        record for record in ordered[:-1] if datetime.fromisoformat(record["end_time"]) < cutoff
    ]


def expire(pg: Postgres, node: Node, kept: list[dict], dropped: list[dict], ext: str) -> None:
    """Delete dropped backups and the archived WAL only they needed."""
    for record in dropped:
        shutil.rmtree(backup_dir(node, record), ignore_errors=True)
    if kept:
        oldest = min(kept, key=lambda record: record["end_time"])
        archive.cleanup(pg, node, oldest["start_wal"], ext)
