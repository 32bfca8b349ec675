"""Helpers for tests of code built on localcloud (framework-free, like the engine).

``temporary_engine`` gives an engine on a fresh root under /tmp that the postgres
user can traverse, and stops every process serving it on exit, whatever happened (and
removes the OS users and groups made for its groups).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg

from . import osusers
from .engine import Engine

TICKS = "CREATE TABLE ticks (id bigserial PRIMARY KEY, node text NOT NULL)"


def processes_under(root: Path) -> list[int]:
    """Processes whose working directory is inside ``root`` (every PostgreSQL process
    chdirs into its data directory)."""
    found = []
    prefix = str(root).rstrip("/") + "/"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd.startswith(prefix) and state != "Z":
            found.append(int(entry.name))
    return found


def kill_under(root: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (left := processes_under(root)) and time.monotonic() < deadline:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def remove_os_users(engine: Engine) -> None:
    """Remove the OS users and groups of every group left in ``engine``'s catalog (their
    processes must be gone): a test root is deleted without deleting its groups."""
    if not engine.catalog.path.exists():
        return
    groups = engine.catalog.read()["groups"].values()
    for lineage in {group.get("os_group") for group in groups} - {None}:
        osusers.remove_lineage(lineage)


@contextlib.contextmanager
def temporary_engine(**options) -> Iterator[Engine]:
    root = Path(tempfile.mkdtemp(prefix="lc-", dir="/tmp"))
    root.chmod(0o755)
    engine = Engine(root, **options)
    try:
        yield engine
    finally:
        try:
            engine.stop_all()
        finally:
            kill_under(root)
            remove_os_users(engine)
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(engine.socket_dir, ignore_errors=True)
            shutil.rmtree(engine.sockets_root, ignore_errors=True)


def create_ticks(node: str, conn: psycopg.Connection) -> None:
    conn.execute(TICKS)


class Writer:
    """Commits one row into ``ticks`` on every node of a group, every ``every`` seconds,
    from one thread per node, until stopped."""

    def __init__(self, engine: Engine, group: str, every: float = 0.005):
        self.engine = engine
        self.group = group
        self.every = every
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(target=self._write, args=(node.name,), daemon=True)
            for node in engine.get_group(group).nodes
        ]
        self.errors: list[BaseException] = []

    def _write(self, node: str) -> None:
        try:
            with self.engine.connect(self.group, node) as conn:
                while not self.stop_event.is_set():
                    conn.execute("INSERT INTO ticks (node) VALUES (%s)", (node,))
                    self.stop_event.wait(self.every)
        except BaseException as error:  # reported by stop(), not lost in a thread
            self.errors.append(error)

    def start(self) -> Writer:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]

    def wait_rows(self, count: int, timeout: float = 30.0) -> None:
        """Wait until every node has at least ``count`` rows."""
        deadline = time.monotonic() + timeout
        for node in self.engine.get_group(self.group).nodes:
            while ticks_count(self.engine, self.group, node.name) < count:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.group}/{node.name} has fewer than {count} rows")
                time.sleep(0.01)


def ticks_count(engine: Engine, group: str, node: str) -> int:
    with engine.connect(group, node) as conn:
        return conn.execute("SELECT count(*) FROM ticks").fetchone()[0]


def ticks_until(engine: Engine, group: str, node: str, point: datetime) -> list[int]:
    """Ids of the rows whose commit time is at or before ``point``: the truth."""
    with engine.connect(group, node) as conn:
        rows = conn.execute(
            "SELECT id FROM ticks WHERE pg_xact_commit_timestamp(xmin) <= %s ORDER BY id",
            (point,),
        ).fetchall()
    return [row[0] for row in rows]


def ticks_all(engine: Engine, group: str, node: str) -> list[int]:
    with engine.connect(group, node) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM ticks ORDER BY id").fetchall()]


def commit_times(engine: Engine, group: str, node: str) -> list[datetime]:
    with engine.connect(group, node) as conn:
        rows = conn.execute(
            "SELECT pg_xact_commit_timestamp(xmin) FROM ticks ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]
