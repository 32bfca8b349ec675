"""The engine's own state: one JSON document under the root.

The web process, the task worker and the agent all write it, so every change runs
under an exclusive ``fcntl.flock`` and re-reads the file inside the lock; writes
go to a temporary file that is fsynced and renamed over the old one, so a crash
leaves either the old or the new catalog, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VERSION = 1


class Catalog:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / "catalog.json"
        self.lock_path = self.root / "catalog.lock"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            data = {}
        data.setdefault("version", VERSION)
        data.setdefault("groups", {})
        return data

    def _write(self, data: dict[str, Any]) -> None:
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
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock.fileno(), mode)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        """A consistent snapshot; changing it changes nothing on disk."""
        with self._locked(fcntl.LOCK_SH):
            return self._read()

    @contextlib.contextmanager
    def change(self) -> Iterator[dict[str, Any]]:
        """Read, let the caller change, write back; all under the exclusive lock.

        Nothing is written when the block raises.
        """
        with self._locked(fcntl.LOCK_EX):
            data = self._read()
            yield data
            self._write(data)
