"""One PostgreSQL instance: initdb, the engine-owned configuration, start and stop.

PostgreSQL refuses to run as root. When the engine runs as root, every PostgreSQL
program runs as the OS user of the node's group (see osusers.py; ``postgres`` for groups
made before) through ``subprocess.run(user=...)``, which is safe with threads, unlike
``preexec_fn``, and everything the engine creates is that user's; as a normal user the
programs run directly.

Privilege separation: a node's directory belongs to that user, who may put a symbolic
link or a hard link anywhere in it. So the engine, running as root, never opens a path
in it the ordinary way: it reads with ``read_owned`` (``O_NOFOLLOW``, a regular file,
owned by the node's user, bounded) and writes through a program run as the node's user
(``Postgres.write_file``, ``Postgres.make_dir``). What it reads is never quoted in an
error, except the server's own log lines, read the same guarded way.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from .errors import NodeFailed

CONF_FILE = "localcloud.conf"
RECOVERY_CONF_FILE = "localcloud-recovery.conf"
SUPERUSER = "postgres"
IDENT_MAP = "localcloud"

# Sized for many small groups on one machine: the issue asks for <= 40 MB per node.
BASE_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "20",
    "superuser_reserved_connections": "3",
    "shared_buffers": "16MB",
    "maintenance_work_mem": "16MB",
    "max_worker_processes": "4",
    "max_parallel_workers": "2",
    # No logical replication here: this also spares the launcher process and its memory.
    "max_logical_replication_workers": "0",
    "wal_level": "replica",
    "archive_mode": "on",
    # Every switch archives a whole segment; segments are 1 MB and compressed, so a
    # switch a minute costs little, and a stopped group loses at most a minute.
    "archive_timeout": "60",
    "track_commit_timestamp": "on",
    "max_wal_size": "64MB",
    "min_wal_size": "16MB",
    "max_wal_senders": "4",
    "max_replication_slots": "4",
    "log_checkpoints": "off",
    "log_line_prefix": "'%m [%p] '",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "jit": "off",
    "huge_pages": "off",
}


class UnsafeFile(NodeFailed):
    """A file in a node's directory is not what the engine wrote or PostgreSQL made
    there (a symbolic link, another owner, not a regular file): it was tampered with."""


def read_owned(path: Path, owner: int | None, limit: int = 1 << 20, offset: int = 0) -> bytes:
    """At most ``limit`` bytes of ``path`` from ``offset``, without following a symbolic
    link in its last part, and only when it is a regular file owned by ``owner`` (None:
    any owner, when the engine does not run as root).

    A link planted in a directory the parent components name still cannot make this
    read a file the node's user could not read itself: the file must be that user's.
    ``FileNotFoundError`` passes through; anything else odd is ``UnsafeFile``, whose
    message names the path only.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise UnsafeFile(
            f"{path} is a symbolic link or cannot be opened ({error.strerror}); the engine "
            "does not follow links in a node's directory. Remove it."
        ) from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (owner is not None and info.st_uid != owner):
            raise UnsafeFile(
                f"{path} is not a regular file of the node's operating-system user; the "
                "engine does not read it. Remove it."
            )
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        chunks = []
        left = limit
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def size_owned(path: Path) -> int:
    """The size of ``path`` itself (a link is not followed); 0 when missing."""
    try:
        return os.lstat(path).st_size
    except FileNotFoundError:
        return 0


def conf_quote(value: str) -> str:
    """A postgresql.conf string: a line break inside quotes is written as \\n."""
    escaped = value.replace("\\", "\\\\").replace("'", "''").replace("\n", "\\n")
    return "'" + escaped + "'"


LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \w+ \[\d+\] ")
HARMLESS = (
    # Connection attempts while the server starts, and our own stop requests.
    "not yet accepting connections",
    "is starting up",
    "terminating connection due to administrator command",
)


def first_fatal(text: str) -> str:
    """The lines of a server log that explain why it stopped: the last PANIC or FATAL,
    preceded by the LOG line that gives its cause (e.g. which address was in use)."""
    lines = [LOG_PREFIX.sub("", line.strip()) for line in text.splitlines() if line.strip()]
    for marker in ("PANIC:", "FATAL:"):
        hits = [
            index
            for index, line in enumerate(lines)
            if line.startswith(marker) and not any(harmless in line for harmless in HARMLESS)
        ]
        if hits:
            index = hits[-1]
            for before in reversed(lines[max(0, index - 3) : index]):
                if before.startswith(("LOG:", "ERROR:")) and "could not" in before:
                    return f"{lines[index]} ({before})"
            return lines[index]
    return lines[-1] if lines else "(the server log is empty)"


def program_error(text: str) -> str:
    """Why a program failed: the FATAL a server quotes, else the program's first line.

    Tools such as tar end with a summary that names no cause ("Exiting with failure
    status due to previous errors"); their first line does ("No space left on device").
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or any(marker in text for marker in ("PANIC:", "FATAL:")):
        return first_fatal(text)
    return lines[0]


def full_file_system(args: tuple[str, ...]) -> str | None:
    """The first absolute path among ``args`` whose file system has (next to) no room
    left: a failed write often says only "Wrote only 5120 of 10240 bytes"."""
    for arg in args:
        path = Path(arg)
        if not path.is_absolute():
            continue
        while not path.exists() and path != path.parent:
            path = path.parent
        try:
            room = os.statvfs(path)
        except OSError:
            continue
        free = room.f_bavail * room.f_frsize
        if free < max(1 << 20, room.f_blocks * room.f_frsize // 100):
            return arg
    return None


class Postgres:
    """How PostgreSQL programs are run on this machine: which binaries, as whom."""

    def __init__(self, bin_dir: str | Path, os_user: str = "postgres", os_group: str | None = None):
        """``os_group``: a group's lineage (see osusers.py); its archive and backups are
        then readable by that group (folders 0750, files 0640)."""
        self.bin_dir = Path(bin_dir)
        # The operating-system user the engine itself runs as: peer authentication maps
        # it (and the node's user) to the superuser role on the private socket.
        self.engine_user = pwd.getpwuid(os.geteuid()).pw_name
        self.share_mode = 0o700
        if os.geteuid() == 0:
            entry = pwd.getpwnam(os_user)
            self.uid: int | None = entry.pw_uid
            self.gid: int | None = entry.pw_gid
            self.os_user = os_user
            if os_group:
                self.gid = grp.getgrnam(os_group).gr_gid
                self.share_mode = 0o750
        else:
            self.uid = self.gid = None
            self.os_user = self.engine_user
        self.env = {
            "PATH": f"{self.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
        }

    def program(self, name: str) -> str:
        """A PostgreSQL program by name, or any other tool (tar) by name or path."""
        path = self.bin_dir / name
        return str(path) if path.exists() else name

    @property
    def _drop(self) -> dict:
        """The privilege drop for a child process (none when not root)."""
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def run(
        self, label: str, program: str, *args: str, timeout: float | None = None
    ) -> subprocess.CompletedProcess:
        """Run a PostgreSQL program; a failure names ``label`` and quotes its error."""
        try:
            done = subprocess.run(
                [self.program(program), *args],
                capture_output=True,
                text=True,
                cwd="/",
                env=self.env,
                timeout=timeout,
                check=False,
                umask=0o077,
                **self._drop,
            )
        except subprocess.TimeoutExpired as error:
            message = f"{label}: {program} did not finish within {timeout:.0f} s."
            raise NodeFailed(message) from error
        if done.returncode != 0:
            detail = program_error(done.stderr + done.stdout)
            full = full_file_system(args)
            if full and "No space left on device" not in detail:
                detail += f" (No space left on device: the file system of {full} is full)"
            raise NodeFailed(f"{label}: {program} failed: {detail}")
        return done

    def open(self, program: str, *args: str, stdin: int | None = None) -> subprocess.Popen:
        """Start a PostgreSQL program whose output is read as it comes (``pg_waldump``,
        which also exits non-zero at the end of the WAL it was given): stdout and stderr
        are text pipes (``stdin`` too with ``subprocess.PIPE``), and the caller judges the
        exit status."""
        return subprocess.Popen(
            [self.program(program), *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
            env=self.env,
            umask=0o077,
            **self._drop,
        )

    def own(self, path: Path) -> None:
        """Give ``path`` (made by the engine, in a directory only it can write) to the
        node's user; a link is never followed."""
        if self.uid is not None:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def make_dir(self, path: Path, mode: int = 0o700) -> Path:
        """Create ``path`` (and its missing parents) as the node's user with ``mode``.

        As that user, because the parent may be the user's own directory: root's
        mkdir, chmod and chown there could be sent elsewhere by a planted link.
        """
        if self.uid is None:
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(mode)
            return path
        parent = path.parent
        if not os.path.lexists(parent):
            self.make_dir(parent, mode)
        if os.stat(parent, follow_symlinks=False).st_uid != self.uid:
            # The parent is the engine's (root's): root makes the directory, then hands
            # it over; nobody else can change what the path names meanwhile.
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, mode)
            if stat.S_ISLNK(os.lstat(path).st_mode):
                raise UnsafeFile(f"{path} is a symbolic link; remove it.")
            os.chmod(path, mode)
            self.own(path)
            return path
        self.run(str(path), "mkdir", "-p", "-m", f"{mode:o}", "--", str(path))
        self.run(str(path), "chmod", f"{mode:o}", "--", str(path))
        return path

    def write_file(self, path: Path, text: str, mode: int = 0o600) -> None:
        """Replace ``path`` atomically with ``text``; as the node's user when root."""
        tmp = path.with_name(f".{path.name}.tmp")
        if self.uid is None:
            tmp.write_text(text)
            tmp.chmod(mode)
            os.replace(tmp, path)
            return
        script = 'umask 077; rm -f -- "$1"; cat > "$1" && chmod "$2" -- "$1" && mv -f -- "$1" "$3"'
        try:
            done = subprocess.run(
                ["sh", "-c", script, "write-file", str(tmp), f"{mode:o}", str(path)],
                input=text,
                capture_output=True,
                text=True,
                cwd="/",
                env=self.env,
                check=False,
                timeout=60,
                umask=0o077,
                **self._drop,
            )
        except subprocess.TimeoutExpired as error:
            raise NodeFailed(f"Writing {path} did not finish within 60 s.") from error
        if done.returncode != 0:
            raise NodeFailed(f"Could not write {path}: {program_error(done.stderr)}")

    def append_file(self, path: Path, text: str) -> None:
        """Append ``text`` to ``path``; as the node's user when root."""
        current = read_owned(path, self.uid, limit=1 << 22).decode()
        self.write_file(path, current + text)


def pid_alive(pid: int, data_dir: Path | None = None) -> bool:
    """True when ``pid`` runs and is not a zombie (and, given ``data_dir``, serves it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    if data_dir is None:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # A stale postmaster.pid after a reboot may name a pid some other program now has.
    return str(data_dir).encode() in cmdline


@dataclass
class Node:
    """Paths and process control of one instance; its facts live in the catalog."""

    pg: Postgres
    label: str  # "group/node", used in every message
    dir: Path
    port: int
    socket_dir: Path
    log_offset: int = 0

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def archive(self) -> Path:
        return self.dir / "archive"

    @property
    def backups(self) -> Path:
        return self.dir / "backups"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def postmaster_pid(self) -> int | None:
        try:
            first = read_owned(self.data / "postmaster.pid", self.pg.uid, 4096).split(b"\n")[0]
            return int(first)
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return None

    def postmaster_status(self) -> str | None:
        """What the postmaster says of itself in its pid file (line 8): "starting",
        "standby" (in recovery, taking read-only connections), "ready" (out of recovery)
        or "stopping"; None before it has written one."""
        try:
            lines = read_owned(self.data / "postmaster.pid", self.pg.uid, 4096).split(b"\n")
        except (FileNotFoundError, NotADirectoryError):
            return None
        status = lines[7].decode(errors="replace").strip() if len(lines) > 7 else ""
        return status or None

    def is_running(self) -> bool:
        pid = self.postmaster_pid()
        return pid is not None and pid_alive(pid, self.data)

    def log_since(self, offset: int, limit: int = 1 << 20) -> str:
        try:
            return read_owned(self.log, self.pg.uid, limit, offset).decode(errors="replace")
        except FileNotFoundError:
            return ""
        except UnsafeFile as error:
            return f"FATAL: (the server log was not read: {error})"

    def log_tail(self, size: int = 20000) -> str:
        return self.log_since(max(0, size_owned(self.log) - size), size)

    def initdb(self) -> None:
        for path in (self.dir, self.archive, self.backups):
            self.pg.make_dir(path, self.pg.share_mode)
        self.pg.run(
            self.label,
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--wal-segsize=1",
        )
        self.pg.append_file(
            self.data / "postgresql.conf",
            "\n# Engine-owned settings; ALTER SYSTEM still wins (postgresql.auto.conf).\n"
            f"include = '{CONF_FILE}'\n"
            f"include_if_exists = '{RECOVERY_CONF_FILE}'\n",
        )

    def write_config(self, archive_command: str) -> None:
        settings = dict(BASE_SETTINGS)
        settings["port"] = str(self.port)
        settings["unix_socket_directories"] = conf_quote(str(self.socket_dir))
        settings["archive_command"] = conf_quote(archive_command)
        text = "# Written by localcloud; changes here are overwritten.\n" + "".join(
            f"{key} = {value}\n" for key, value in settings.items()
        )
        self.pg.write_file(self.data / CONF_FILE, text)

    def write_recovery(self, settings: dict[str, str]) -> None:
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        self.pg.write_file(self.data / RECOVERY_CONF_FILE, text)
        self.pg.write_file(self.data / "recovery.signal", "")

    def drop_recovery(self) -> None:
        (self.data / RECOVERY_CONF_FILE).unlink(missing_ok=True)

    def write_hba(self, cidrs: list[str]) -> None:
        """No ``trust`` anywhere: the superuser only through peer authentication on the
        private socket, as the engine's or the node's operating-system user; every other
        role (and the superuser over TCP, which has no password) by SCRAM."""
        lines = [
            "# Written by localcloud from the group's firewall rules.",
            f"local all {SUPERUSER} peer map={IDENT_MAP}",
            f"local replication {SUPERUSER} peer map={IDENT_MAP}",
            "local all all scram-sha-256",
            # Loopback admin access for the portal is always present.
            "host all all 127.0.0.1/32 scram-sha-256",
        ]
        lines += [f"host all all {cidr} scram-sha-256" for cidr in cidrs]
        self.pg.write_file(self.data / "pg_hba.conf", "\n".join(lines) + "\n")
        self.write_ident({})

    def write_ident(self, extra: dict[str, str]) -> None:
        """pg_ident.conf: the engine's and the node's OS users are the superuser, plus
        ``extra`` (database role -> OS user) for a preview."""
        users = dict.fromkeys([self.pg.engine_user, self.pg.os_user], SUPERUSER)
        lines = ["# Written by localcloud: who may be whom through peer authentication."]
        lines += [f"{IDENT_MAP} {os_user} {role}" for os_user, role in users.items()]
        lines += [f"{IDENT_MAP} {os_user} {role}" for role, os_user in extra.items()]
        self.pg.write_file(self.data / "pg_ident.conf", "\n".join(lines) + "\n")

    def start(self) -> None:
        """Start the postmaster without waiting; ``wait_ready`` watches it."""
        if self.is_running():
            return
        self.log_offset = size_owned(self.log)
        if self.postmaster_pid() is not None:
            # A crashed postmaster left its lock files (and maybe children still attached
            # to its shared memory): end those, then drop the files. PostgreSQL would
            # clean them itself, except that a killed postmaster stays a zombie until init
            # reaps it, and a zombie's pid looks alive to kill(pid, 0).
            self.kill()
            (self.data / "postmaster.pid").unlink(missing_ok=True)
            (self.socket_dir / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)
            (self.socket_dir / f".s.PGSQL.{self.port}").unlink(missing_ok=True)
        self.pg.run(
            self.label,
            "pg_ctl",
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-W",
            "-s",
        )

    def connect(self, dbname: str = "postgres", timeout: int = 5) -> psycopg.Connection:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=timeout,
        )

    def died(self, what: str) -> NodeFailed:
        text = self.log_since(self.log_offset) or self.log_tail()
        return NodeFailed(f"{self.label}: {what}: {first_fatal(text)}")

    def wait_ready(self, *, timeout: float = 60.0, leave_recovery: bool = True) -> None:
        """Wait until the server accepts connections (and, by default, is out of recovery).

        Watches the postmaster: a port already bound or a failed recovery makes it
        exit, and the error then quotes the server log.
        """
        deadline = time.monotonic() + timeout
        seen_pid: int | None = None
        started = time.monotonic()
        while True:
            pid = self.postmaster_pid()
            if pid is not None:
                seen_pid = pid
            alive = seen_pid is not None and pid_alive(seen_pid)
            if seen_pid is not None and not alive:
                raise self.died("the server stopped")
            if seen_pid is None:
                # It may exit (a port already bound) before we ever see its pid file.
                fresh = self.log_since(self.log_offset)
                if "FATAL:" in fresh or "PANIC:" in fresh:
                    raise self.died("the server did not start")
                if time.monotonic() - started > 10:
                    raise self.died("the server did not start")
            # A long recovery is watched through the pid file: a connection each time
            # would start a backend process every few milliseconds beside the replay.
            waiting = ("starting", "standby") if leave_recovery else ("starting",)
            if alive and self.postmaster_status() not in waiting:
                try:
                    with self.connect(timeout=2) as conn:
                        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                    if not (in_recovery and leave_recovery):
                        return
                except psycopg.OperationalError:
                    pass
            if time.monotonic() > deadline:
                raise self.died(f"not ready after {timeout:.0f} s")
            time.sleep(0.03)

    def stop(self, mode: str = "fast") -> None:
        if not self.is_running():
            return
        try:
            self.pg.run(
                self.label, "pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60"
            )
        except NodeFailed:
            if self.is_running():
                if mode == "immediate":
                    raise
                self.stop("immediate")

    def processes(self) -> list[int]:
        """Every process serving this data directory (each runs with it as its cwd),
        including children a killed postmaster left behind."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "cwd") == str(self.data):
                    found.append(int(entry.name))
            except OSError:
                continue
        return [pid for pid in found if pid_alive(pid)]

    def kill(self) -> None:
        """Stop at once, for cleanup after a failure; never raises for a dead server."""
        if self.is_running():
            try:
                self.stop("immediate")
            except NodeFailed:
                pass
        deadline = time.monotonic() + 10
        while (left := self.processes()) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
