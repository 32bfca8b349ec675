"""Real processes and real PostgreSQL under faults.

The portal's own processes (``manage.py db_worker``, gunicorn) run as subprocesses on
the test database (the SQLite file of the test settings, or ``test_<name>`` under
PostgreSQL), so the test reads and writes the same rows they do. localcloud groups
live under a throwaway root; every process serving it is stopped when a test ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localcloud import Engine
from localcloud.proc import port_free
from localcloud.testing import create_ticks, processes_under, temporary_engine
from tests.ports import shifted_port

REPO = Path(__file__).resolve().parents[2]
# Far from the portal's default range and from the other suites' roots.
BASE_PORT = shifted_port(31432)
SOURCE = "rel-src"
FILLER_ROWS = 40_000  # about 40 MB of WAL per node: a recovery long enough to be seen


def wait_for(condition: Callable[[], object], timeout: float = 60.0, what: str = "") -> object:
    """Poll ``condition`` until it is truthy; its value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url() -> str:
    """The test database as a DATABASE_URL for a subprocess."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def processes_mentioning(path: Path) -> list[int]:
    """Processes whose command line names ``path`` (tar, pg_basebackup, postgres -D)."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def session_members(sid: int) -> list[int]:
    """Live processes of the session ``sid`` (the children a killed process leaves)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                found.append(int(entry.name))
    return found


def nothing_left_of(engine: Engine, name: str, ports: list[int]) -> None:
    """Assert that no trace of the group ``name`` remains: process, port, directory, record."""
    target_dir = engine.group_dir(name)
    wait_for(
        lambda: not processes_mentioning(target_dir) and not processes_under(target_dir),
        timeout=30,
        what=f"the processes of {name} to end",
    )
    assert name not in engine.catalog.read()["groups"]
    assert not target_dir.exists()
    assert all(port_free(port) for port in ports), ports


def only_source_processes(engine: Engine, source: str = SOURCE) -> None:
    source_dir = str(engine.group_dir(source)) + "/"
    for pid in processes_under(engine.root):
        with contextlib.suppress(OSError):
            assert os.readlink(f"/proc/{pid}/cwd").startswith(source_dir), pid


def fill(engine: Engine, group: str, rows: int = FILLER_ROWS) -> None:
    """About ``rows`` kB of table (and WAL) on every node of ``group``."""
    for node in engine.get_group(group).nodes:
        with engine.connect(group, node.name) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS filler (id bigint, pad text)")
            conn.execute(
                "INSERT INTO filler SELECT g, repeat(md5(g::text), 30) "
                "FROM generate_series(1, %s) g",
                (rows,),
            )


def fingerprint(engine: Engine, group: str) -> dict[str, tuple]:
    """What a restore must reproduce and a fault must not change: rows per table and node."""
    found = {}
    for node in engine.get_group(group).nodes:
        with engine.connect(group, node.name) as conn:
            found[node.name] = conn.execute(
                "SELECT (SELECT count(*) FROM ticks), (SELECT coalesce(sum(id), 0) FROM ticks), "
                "(SELECT count(*) FROM filler)"
            ).fetchone()
    return found


@contextlib.contextmanager
def archiving_blocked(engine: Engine, group: str) -> Iterator[None]:
    """The group's WAL archive refuses writes: a seal waits (up to 30 s) while it lasts.

    The archive directories belong to the group's OS user; taking the write bits keeps
    them readable (restores, as the lineage, read them) but not writable.
    """
    nodes = engine.nodes(engine.catalog.read()["groups"][group])
    modes = [node.archive.stat().st_mode & 0o7777 for node in nodes]
    for node, mode in zip(nodes, modes, strict=True):
        node.archive.chmod(mode & ~0o222)
    try:
        yield
    finally:
        for node, mode in zip(nodes, modes, strict=True):
            node.archive.chmod(mode)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with temporary_engine(base_port=BASE_PORT) as engine:
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture(scope="module")
def source(engine: Engine):
    """A coordinator and a worker; their first backup, then about 40 MB of rows each, so
    that the earliest point restores quickly and the latest replays a lot of WAL."""
    engine.create_group(SOURCE, workers=1, setup=create_ticks)
    for node in engine.get_group(SOURCE).nodes:
        with engine.connect(SOURCE, node.name) as conn:
            conn.execute(
                "INSERT INTO ticks (node) SELECT %s FROM generate_series(1, 50)", (node.name,)
            )
    fill(engine, SOURCE)
    latest = datetime.now(UTC)
    return {"name": SOURCE, "latest": latest, "fingerprint": fingerprint(engine, SOURCE)}


@pytest.fixture
def unchanged_source(engine: Engine, source):
    """The source's catalog record and rows must be the same after the test."""
    before = engine.catalog.read()["groups"][SOURCE]
    yield
    assert engine.catalog.read()["groups"][SOURCE] == before
    assert engine.get_group(SOURCE).status == "Ready"
    assert fingerprint(engine, SOURCE) == source["fingerprint"]


class PortalProcesses:
    """The portal's processes as subprocesses on the test database and ``root``."""

    def __init__(self, root: Path, folder: Path):
        self.folder = folder
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DATABASE_URL": database_url(),
            "PORTAL_BACKENDS": "local",
            "LOCALCLOUD_ROOT": str(root),
            "LOCALCLOUD_BASE_PORT": str(BASE_PORT),
            "PORTAL_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "PORTAL_LOG_LEVEL": "DEBUG",
            "DEBUG": "false",
            "PYTHONPATH": str(REPO),
        }
        self.processes: list[subprocess.Popen] = []
        self.stderr = folder / "stderr.log"

    def spawn(self, command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(  # noqa: S603 - our interpreter and commands
            command,
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.stderr, "ab"),  # noqa: SIM115 - the child owns it
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def worker(self) -> subprocess.Popen:
        return self.spawn(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--interval",
                "0.1",
                "--no-startup-delay",
                # The reloader would run the worker in a child that outlives a kill -9.
                "--no-reload",
            ]
        )

    def web(self, port: int) -> subprocess.Popen:
        import httpx

        process = self.spawn(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "portal.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
            ]
        )

        def answers() -> bool:
            assert process.poll() is None, self.stderr.read_text()[-3000:]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/signin/", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout=90, what="gunicorn to answer")  # a cold start, under load
        return process

    def kill(self, process: subprocess.Popen, *, group: bool = False) -> None:
        """kill -9: of the process alone, or of its whole process group."""
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert not [pid for pid in session_members(process.pid) if b"manage.py" in cmdline(pid)], (
            "a portal process outlived the kill"
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log(self) -> str:
        return self.stderr.read_text(errors="replace") if self.stderr.exists() else ""


@pytest.fixture
def portal(transactional_db, settings, engine) -> Iterator[PortalProcesses]:
    """Subprocesses of the portal; this test process sees the same rows and root."""
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(engine.root), "base_port": BASE_PORT},
        }
    }
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    folder = Path(tempfile.mkdtemp(prefix="rel-portal-", dir="/tmp"))
    processes = PortalProcesses(engine.root, folder)
    try:
        yield processes
    finally:
        processes.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def small_engine() -> Iterator[Engine]:
    """An engine of its own, for a test that destroys its source."""
    with temporary_engine(base_port=BASE_PORT + 400) as engine:
        yield engine
    assert processes_under(engine.root) == []
