"""The engine's own state: one JSON document under the root.

The web process, the task worker and the agent all write it, so every change runs
under an exclusive ``fcntl.flock`` and re-reads the file inside the lock; writes
go to a temporary file that is fsynced and renamed over the old one, so a crash
leaves either the old or the new catalog, never half of one.

Every group has an immutable id (``uid``, a UUID) and a restored group the id of its
source (``restored_from_uid``): lineage is by identity, never by a name that may be
reused. Records written before ids existed get one on read, derived from the group's
name and creation time (so the same on every read until the next write stores it); a
restored group's legacy source id is known only when a group of that name still exists
that was created before the restore.

The catalog, its lock file and everything else under the root are readable by their
owner only: the catalog holds every group's admin password, and anyone who can open the
lock file can ``flock`` it and freeze the web server, the worker and the agent.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from .errors import NotFound
from .records import CatalogData, GroupRecord

VERSION = 1
LEGACY_IDS = uuid.UUID("6f1b2c4e-5d0a-4c8e-9a3e-1c7d2b9e8f40")  # namespace, uuid5


def legacy_uid(record: GroupRecord) -> str:
    return str(uuid.uuid5(LEGACY_IDS, f"{record['name']}\0{record.get('created_at', '')}"))


def migrate(data: CatalogData) -> None:
    """Give records from before group ids their ids (see the module's docstring)."""
    groups = data["groups"]
    for record in groups.values():
        record.setdefault("uid", legacy_uid(record))
    for record in groups.values():
        source = record.get("restored_from")
        if not source or "restored_from_uid" in record:
            continue
        found = groups.get(source)
        if found is not None and found.get("created_at", "") <= record.get("created_at", ""):
            record["restored_from_uid"] = found["uid"]
        else:
            record["restored_from_uid"] = None


def group_record(data: CatalogData, name: str) -> GroupRecord:
    """The record of group ``name`` in the catalog snapshot ``data``; raises NotFound."""
    group = data["groups"].get(name)
    if group is None:
        raise NotFound(f"Server group '{name}' does not exist.")
    return group


class Catalog:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / "catalog.json"
        self.lock_path = self.root / "catalog.lock"

    def _read(self) -> CatalogData:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            data = {}
        data.setdefault("version", VERSION)
        data.setdefault("groups", {})
        migrate(data)
        return data

    def _write(self, data: CatalogData) -> None:
        tmp = self.path.with_name(f".catalog.{os.getpid()}.tmp")
        # The catalog holds admin passwords: readable by its owner only.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        # The rename is only durable once the directory entry is on disk.
        dir_fd = os.open(self.root, os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @contextlib.contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "r+") as lock:
            fcntl.flock(lock.fileno(), mode)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def read(self) -> CatalogData:
        """A consistent snapshot; changing it changes nothing on disk."""
        with self._locked(fcntl.LOCK_SH):
            return self._read()

    def group(self, name: str) -> GroupRecord:
        """A snapshot of the record of group ``name``; raises NotFound."""
        return group_record(self.read(), name)

    @contextlib.contextmanager
    def change(self) -> Iterator[CatalogData]:
        """Read, let the caller change, write back; all under the exclusive lock.

        Nothing is written when the block raises.
        """
        with self._locked(fcntl.LOCK_EX):
            data = self._read()
            yield data
            self._write(data)
