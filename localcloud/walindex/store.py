"""The index file: an SQLite database beside the catalog (``events.sqlite3``).

Per (group, node, timeline) it keeps where the last pass stopped (``streams``) and the
aggregates of transactions still open there (``pending``); per group the events and the
activity per minute and node; per (group, node) the names of relation files and
databases ever seen. Writers hold the group's lock (one indexer per group across
processes) and write one batch per SQLite transaction, so a pass that stops leaves a
position that the next one resumes from exactly.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .. import archive
from .waldump import Batch, Names, Pending, RelInfo, Stream, to_micros

TABLES = (
    "streams",
    "pending",
    "events",
    "activity",
    "relations",
    "schemas",
    "databases",
    "passes",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    grp TEXT, node TEXT, timeline INTEGER,
    resume_lsn INTEGER NOT NULL,   -- where the next pg_waldump starts
    last_lsn INTEGER NOT NULL,     -- the last record already counted (-1: none)
    last_commit INTEGER,           -- microseconds since the epoch of the last COMMIT
    PRIMARY KEY (grp, node, timeline)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    grp TEXT, node TEXT, timeline INTEGER, xid INTEGER, data TEXT NOT NULL,
    PRIMARY KEY (grp, node, timeline, xid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    grp TEXT, commit_time INTEGER, node TEXT, timeline INTEGER, lsn INTEGER, kind TEXT,
    before INTEGER, database TEXT NOT NULL, relations TEXT NOT NULL, rows INTEGER NOT NULL,
    xid INTEGER NOT NULL,
    PRIMARY KEY (grp, commit_time, node, timeline, lsn, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity (
    grp TEXT, minute INTEGER, node TEXT, commits INTEGER NOT NULL, rows INTEGER NOT NULL,
    PRIMARY KEY (grp, minute, node)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS relations (
    grp TEXT, node TEXT, db_oid INTEGER, filenode INTEGER,
    schema TEXT NOT NULL, name TEXT NOT NULL, relkind TEXT NOT NULL, rel_oid INTEGER NOT NULL,
    PRIMARY KEY (grp, node, db_oid, filenode)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schemas (
    grp TEXT, node TEXT, db_oid INTEGER, nsp_oid INTEGER, name TEXT NOT NULL,
    PRIMARY KEY (grp, node, db_oid, nsp_oid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS passes (
    grp TEXT PRIMARY KEY,
    requested INTEGER NOT NULL,    -- microseconds since the epoch of the newest request
    finished INTEGER NOT NULL,     -- the newest request a finished pass answered (0: none)
    error TEXT NOT NULL            -- why that pass failed ("" when it did not)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS databases (
    grp TEXT, node TEXT, db_oid INTEGER, name TEXT NOT NULL,
    PRIMARY KEY (grp, node, db_oid)
) WITHOUT ROWID;
"""


def index_path(root: Path) -> Path:
    return root / "events.sqlite3"


def connect(root: Path) -> sqlite3.Connection:
    root.mkdir(mode=0o711, parents=True, exist_ok=True)
    # Table names of every group are in it: private, made so before SQLite opens it.
    os.close(os.open(index_path(root), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    conn = sqlite3.connect(index_path(root), timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = NORMAL")
    # Switching the journal mode and making the schema take the file whole, and SQLite
    # does not wait for a busy file there: the nodes of a group are indexed in parallel,
    # so the first connections take turns under a lock on the machine's lock file.
    with setup_lock(root):
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
    return conn


@contextlib.contextmanager
def setup_lock(root: Path) -> Iterator[None]:
    """One connection at a time sets the index file up, across threads and processes
    (``flock`` on a file of its own: each open is its own lock holder)."""
    path = root / "events.sqlite3.setup-lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def group_lock(root: Path, name: str) -> Iterator[Path]:
    """One indexer per group at a time, across processes."""
    locks = root / "events-locks"
    locks.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = locks / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def load_stream(
    conn: sqlite3.Connection, name: str, node_name: str, timeline: int, first: int
) -> Stream:
    row = conn.execute(
        "SELECT resume_lsn, last_lsn, last_commit FROM streams"
        " WHERE grp = ? AND node = ? AND timeline = ?",
        (name, node_name, timeline),
    ).fetchone()
    if row is None:
        return Stream(node_name, timeline, first * archive.SEGMENT_SIZE)
    stream = Stream(node_name, timeline, row[0], row[1], row[2])
    for xid, data in conn.execute(
        "SELECT xid, data FROM pending WHERE grp = ? AND node = ? AND timeline = ?",
        (name, node_name, timeline),
    ):
        stream.pending[xid] = Pending.from_json(data)
    return stream


def save(
    conn: sqlite3.Connection, name: str, stream: Stream, batch: Batch, names: Names | None = None
) -> None:
    """One batch and the stream's new position (and the names learned from the WAL
    read), in one transaction."""
    with transaction(conn):
        if names is not None:
            _write_names(conn, name, stream.node, names.learned, {}, names.learned_schemas)
            names.learned, names.learned_schemas = {}, {}
        conn.executemany(
            "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(name, *event) for event in batch.events],
        )
        conn.executemany(
            "INSERT INTO activity VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (grp, minute, node) DO UPDATE"
            " SET commits = commits + excluded.commits, rows = rows + excluded.rows",
            [
                (name, minute, stream.node, commits, rows)
                for minute, (commits, rows) in batch.activity.items()
            ],
        )
        key = (name, stream.node, stream.timeline)
        conn.execute("DELETE FROM pending WHERE grp = ? AND node = ? AND timeline = ?", key)
        conn.executemany(
            "INSERT INTO pending VALUES (?, ?, ?, ?, ?)",
            [(*key, xid, pending.to_json()) for xid, pending in stream.pending.items()],
        )
        conn.execute(
            "INSERT OR REPLACE INTO streams VALUES (?, ?, ?, ?, ?, ?)",
            (*key, stream.resume_lsn, stream.last_lsn, stream.last_commit),
        )


def prune(conn: sqlite3.Connection, name: str, earliest: datetime) -> None:
    """Forget the events and activity of ``name`` older than its earliest restore point."""
    cutoff = to_micros(earliest)
    with transaction(conn):
        conn.execute("DELETE FROM events WHERE grp = ? AND commit_time < ?", (name, cutoff))
        conn.execute(
            "DELETE FROM activity WHERE grp = ? AND minute < ?", (name, cutoff // 60_000_000)
        )


def forget(root: Path, name: str) -> None:
    """Drop everything the index holds of group ``name`` (it is being deleted)."""
    if not index_path(root).exists():
        return
    with group_lock(root, name) as lock, contextlib.closing(connect(root)) as conn:
        with transaction(conn):
            for table in TABLES:
                conn.execute(f"DELETE FROM {table} WHERE grp = ?", (name,))
        lock.unlink(missing_ok=True)


def load_names(conn: sqlite3.Connection, name: str, node: str) -> Names:
    """The names kept for ``node`` of group ``name``."""
    key = (name, node)
    relations = {
        (db, fn): RelInfo(schema, rel, kind, oid)
        for db, fn, schema, rel, kind, oid in conn.execute(
            "SELECT db_oid, filenode, schema, name, relkind, rel_oid FROM relations"
            " WHERE grp = ? AND node = ?",
            key,
        )
    }
    databases = dict(
        conn.execute("SELECT db_oid, name FROM databases WHERE grp = ? AND node = ?", key)
    )
    schemas = {
        (db, oid): schema
        for db, oid, schema in conn.execute(
            "SELECT db_oid, nsp_oid, name FROM schemas WHERE grp = ? AND node = ?", key
        )
    }
    return Names(relations, databases, schemas)


def _write_names(
    conn: sqlite3.Connection,
    name: str,
    node: str,
    relations: dict[tuple[int, int], RelInfo],
    databases: dict[int, str],
    schemas: dict[tuple[int, int], str],
) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO relations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (name, node, db, fn, info.schema, info.name, info.relkind, info.oid)
            for (db, fn), info in relations.items()
        ],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO databases VALUES (?, ?, ?, ?)",
        [(name, node, oid, datname) for oid, datname in databases.items()],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO schemas VALUES (?, ?, ?, ?, ?)",
        [(name, node, db, oid, schema) for (db, oid), schema in schemas.items()],
    )


def save_names(
    conn: sqlite3.Connection,
    name: str,
    node: str,
    relations: dict[tuple[int, int], RelInfo],
    databases: dict[int, str],
    schemas: dict[tuple[int, int], str],
) -> None:
    """Add or replace names; names are never forgotten while the group lives, so that
    a table dropped after a pass is still named."""
    if relations or databases or schemas:
        with transaction(conn):
            _write_names(conn, name, node, relations, databases, schemas)


def request_pass(root: Path, name: str, now: int) -> int:
    """Record that a pass over group ``name`` was asked for at ``now`` (microseconds);
    returns the request's token, later than every earlier one."""
    with contextlib.closing(connect(root)) as conn, transaction(conn):
        row = conn.execute("SELECT requested FROM passes WHERE grp = ?", (name,)).fetchone()
        token = max(now, row[0] + 1) if row else now
        conn.execute(
            "INSERT INTO passes VALUES (?, ?, 0, '')"
            " ON CONFLICT (grp) DO UPDATE SET requested = excluded.requested",
            (name, token),
        )
    return token


def finish_pass(root: Path, name: str, token: int, error: str) -> None:
    """A pass that began after request ``token`` ended (``error``: why it failed)."""
    if not index_path(root).exists():
        return  # the engine's root was removed meanwhile: nobody waits any more
    with contextlib.closing(connect(root)) as conn, transaction(conn):
        conn.execute(
            "UPDATE passes SET finished = ?, error = ? WHERE grp = ? AND finished < ?",
            (token, error, name, token),
        )


def pass_state(root: Path, name: str) -> tuple[int, str]:
    """(the newest request a finished pass answered, its error); (0, "") when none."""
    if not index_path(root).exists():
        return 0, ""
    with contextlib.closing(connect(root)) as conn:
        row = conn.execute("SELECT finished, error FROM passes WHERE grp = ?", (name,)).fetchone()
    return (row[0], row[1]) if row else (0, "")
