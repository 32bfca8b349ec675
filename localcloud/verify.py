"""Verified restores: an unpacked backup is checked against its manifest before its node
starts.

``pg_basebackup`` writes ``backup_manifest`` beside ``base.tar`` and ``pg_wal.tar``: each
file of the data directory with its size and checksum (CRC-32C), and the WAL range the
backup needs. ``pg_verifybackup`` (PostgreSQL 15 checks plain directories only, so this
runs once the tars are unpacked, and before the engine writes its own files there)
checks every file against it and parses the backup's own WAL in ``pg_wal``. The first
problem fails the restore with the file named; the restore's clean-up then removes
everything it made.

A backup without a manifest (kept by an older engine) is restored unverified, with a
note saying so: refusing it would lose the only copy of that point in time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import NodeFailed
from .node import Postgres

MANIFEST = "backup_manifest"
ERROR_LINE = re.compile(r"error: (.*)")
QUOTED_FILE = re.compile(r'"([^"]+)"')


class BackupDamaged(NodeFailed):
    """A restored file does not match the backup's manifest."""


def check_unpacked(pg: Postgres, label: str, backup_dir: Path, data: Path) -> str | None:
    """Check ``data`` (just unpacked from the backup in ``backup_dir``) against the
    backup's manifest, as the node's user.

    Returns None when it matches, or a note when the backup has no manifest; raises
    ``BackupDamaged`` naming the first file that does not match.
    """
    manifest = backup_dir / MANIFEST
    if not os.path.lexists(manifest):
        return (
            f"{label}: the backup {backup_dir.name} has no manifest (it was kept before "
            "restores were verified), so its files were restored without being checked."
        )
    # The unpacked files go to disk meanwhile (I/O while the check uses the CPU): the
    # server's own syncfs() at its start then finds little left to write.
    flush = pg.open("sync", "-f", str(data))
    try:
        process = pg.open(
            "pg_verifybackup", "--quiet", "--exit-on-error", "--manifest-path", str(manifest),
            "--wal-directory", str(data / "pg_wal"), str(data),
        )  # fmt: skip
        out, err = process.communicate()
    finally:
        flush.communicate()
    if process.returncode == 0:
        return None
    problem = next(
        (match.group(1) for line in (err + out).splitlines() if (match := ERROR_LINE.search(line))),
        (err + out).strip()[:300] or f"pg_verifybackup exited with status {process.returncode}",
    )
    named = QUOTED_FILE.search(problem)
    what = f"the restored file {named.group(1)}" if named else "the restored data"
    raise BackupDamaged(
        f"{label}: {what} does not match the manifest of backup {backup_dir.name} "
        f"({problem}): the backup is damaged. Choose a restore point that a later backup "
        "covers, or take a new backup of the source."
    )
