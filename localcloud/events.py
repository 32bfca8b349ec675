"""The WAL event index: destructive transactions and activity found in archived WAL.

Each node's archive is read with ``pg_waldump``, incrementally, into an SQLite file
beside the catalog (``events.sqlite3``). Per (group, node, timeline) the index keeps
where the last pass stopped, the last commit time seen and the partial aggregates of
transactions still open there, so that a pass reads only WAL archived since the last
one and a transaction spanning two passes is counted once.

What a pass finds, per committed transaction (subtransactions folded into their
parent):

* DROP TABLE: the commit record drops a table's files (``rels:``) and the table's own
  OID is among the relations whose statistics it drops (``dropped stats: 2/DB/OID``).
* TRUNCATE: the files are dropped and new storage was created (``Storage CREATE``),
  but the relation lives on (its OID is not dropped). A rewrite (VACUUM FULL, CLUSTER,
  ALTER TABLE ... TYPE, REFRESH MATERIALIZED VIEW) also swaps storage; it is told apart
  by the transient relation it creates and drops in the same transaction, and a copy
  (SET TABLESPACE, REINDEX) by new storage filled only with page images. Neither is
  reported.
* DELETE and UPDATE: at least ``engine.large_change_rows`` heap DELETE (resp. UPDATE
  and HOT_UPDATE) records on user tables in one transaction.

Names come from a relation map per (group, node): (database OID, file node) ->
schema, name, kind and OID, snapshotted from every running node on each pass and
never forgotten, so that a table dropped after one pass is still named.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import psycopg

from . import archive
from .errors import LocalCloudError, NodeFailed, NotReady
from .model import Activity, EventIndex, WalEvent
from .window import restore_window

if TYPE_CHECKING:
    from .catalog import Catalog
    from .node import Node, Postgres


class Indexed(Protocol):
    """What the index needs of the engine (which imports this module, not the reverse)."""

    root: Path
    pg: Postgres
    catalog: Catalog
    large_change_rows: int

    def node(self, group: dict | str, record: dict) -> Node: ...


BATCH_SEGMENTS = 64  # segments decompressed and read per pg_waldump run
FIRST_NORMAL_OID = 16384  # below: objects of initdb (system catalogs)
SYSTEM_SCHEMAS = ("pg_catalog", "pg_toast", "information_schema")
RMGRS = ("Heap", "Heap2", "Transaction", "Storage", "Standby", "XLOG")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

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
CREATE TABLE IF NOT EXISTS databases (
    grp TEXT, node TEXT, db_oid INTEGER, name TEXT NOT NULL,
    PRIMARY KEY (grp, node, db_oid)
) WITHOUT ROWID;
"""

# pg_waldump's record line (one line; split here), e.g.
# rmgr: Heap        len (rec/tot):     54/    54, tx:        730, lsn: 0/00C29BF8,
#   prev 0/00C29BD0, desc: DELETE off 1 flags 0x00 KEYS_UPDATED ,
#   blkref #0: rel 1663/16385/16386 blk 0
RECORD = re.compile(
    r"rmgr: (\w+)\s+len \(rec/tot\):\s*\d+/\s*\d+, tx:\s*(\d+), "
    r"lsn: ([0-9A-F]+)/([0-9A-F]+), prev [0-9A-F]+/[0-9A-F]+, desc: (\S+)(.*)"
)
BLOCK = re.compile(r"blkref #0: rel \d+/(\d+)/(\d+)")
TUPLES = re.compile(r"^ (\d+) tuples")
OLDEST_RUNNING = re.compile(r"oldestRunningXid (\d+)")
# pg_waldump: "error in WAL record at <the last good record>: <why>", where <why> names
# the bad record ("... at 0/D00028") or its segment ("... in log segment 0000...").
BAD_RECORD = re.compile(r"error in WAL record at [0-9A-F]+/[0-9A-F]+: .*")
LSN_AT = re.compile(r"\bat ([0-9A-F]+/[0-9A-F]+)")
SEGMENT_NAMED = re.compile(r"in log segment ([0-9A-F]{24})")
SEGMENT_FILE = re.compile(r"^([0-9A-F]{8})([0-9A-F]{16})\.(zst|gz)$")

HEAP_KINDS = {
    "INSERT": "insert",
    "INSERT+INIT": "insert",
    "DELETE": "delete",
    "UPDATE": "update",
    "UPDATE+INIT": "update",
    "HOT_UPDATE": "update",
    "HOT_UPDATE+INIT": "update",
}


def to_micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def parse_commit_time(text: str) -> int:
    """``2026-11-24 22:13:39.877532 UTC`` (pg_waldump runs with TZ=UTC) as microseconds."""
    stamp, _, zone = text.rpartition(" ")
    if zone != "UTC":
        raise ValueError(f"unexpected time zone in {text!r}")
    return to_micros(datetime.fromisoformat(stamp).replace(tzinfo=UTC))


def rel_file(path: str) -> tuple[int, int] | None:
    """``base/16385/16386`` or ``pg_tblspc/T/PG_15_x/16385/16386`` -> (database, file node);
    shared catalogs (``global/...``) and other forks (``_fsm``, ``_vm``) -> None."""
    parts = path.split("/")
    if parts[0] == "global" or len(parts) < 3 or not parts[-1].isdigit():
        return None
    return int(parts[-2]), int(parts[-1])


# The index file ------------------------------------------------------------------------


def index_path(engine: Indexed) -> Path:
    return engine.root / "events.sqlite3"


def _open(engine: Indexed) -> sqlite3.Connection:
    engine.root.mkdir(mode=0o711, parents=True, exist_ok=True)
    # Table names of every group are in it: private, made so before SQLite opens it.
    os.close(os.open(index_path(engine), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    conn = sqlite3.connect(index_path(engine), timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(SCHEMA)
    return conn


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextlib.contextmanager
def _group_lock(engine: Indexed, name: str) -> Iterator[Path]:
    """One indexer per group at a time, across processes."""
    locks = engine.root / "events-locks"
    locks.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = locks / f"{name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# Per-transaction aggregates --------------------------------------------------------------


@dataclass
class Pending:
    """What one (sub)transaction did so far, until its COMMIT or ABORT record."""

    deletes: dict[tuple[int, int], int] = field(default_factory=dict)
    updates: dict[tuple[int, int], int] = field(default_factory=dict)
    changed: int = 0  # inserted, updated and deleted rows of user tables (activity)
    created: set[tuple[int, int]] = field(default_factory=set)  # new main-fork storage
    imaged: set[tuple[int, int]] = field(default_factory=set)  # new storage given page images

    def merge(self, other: Pending) -> None:
        for mine, theirs in ((self.deletes, other.deletes), (self.updates, other.updates)):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count
        self.changed += other.changed
        self.created |= other.created
        self.imaged |= other.imaged

    def to_json(self) -> str:
        return json.dumps(
            {
                "deletes": [[db, fn, n] for (db, fn), n in self.deletes.items()],
                "updates": [[db, fn, n] for (db, fn), n in self.updates.items()],
                "changed": self.changed,
                "created": sorted(self.created),
                "imaged": sorted(self.imaged),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Pending:
        data = json.loads(text)
        return cls(
            deletes={(db, fn): n for db, fn, n in data["deletes"]},
            updates={(db, fn): n for db, fn, n in data["updates"]},
            changed=data["changed"],
            created={tuple(item) for item in data["created"]},
            imaged={tuple(item) for item in data["imaged"]},
        )


@dataclass
class RelInfo:
    schema: str
    name: str
    relkind: str
    oid: int

    @property
    def user_table(self) -> bool:
        return self.relkind == "r" and self.schema not in SYSTEM_SCHEMAS


@dataclass
class Stream:
    """The reading position of one node's WAL on one timeline."""

    node: str
    timeline: int
    resume_lsn: int
    last_lsn: int = -1
    last_commit: int | None = None
    pending: dict[int, Pending] = field(default_factory=dict)


@dataclass
class Batch:
    """What one pg_waldump run found, written to the index in one transaction."""

    events: list[tuple] = field(default_factory=list)
    activity: dict[int, list[int]] = field(default_factory=dict)  # minute -> [commits, rows]
    records: int = 0


# Reading WAL -----------------------------------------------------------------------------


class Reader:
    """Turns pg_waldump lines of one stream into events and activity."""

    def __init__(
        self,
        stream: Stream,
        relations: dict[tuple[int, int], RelInfo],
        databases: dict[int, str],
        threshold: int,
    ):
        self.stream = stream
        self.relations = relations
        self.databases = databases
        self.threshold = threshold
        self.batch = Batch()
        self.switched_at: int | None = None  # lsn of the last record when it was a SWITCH

    def _pending(self, xid: int) -> Pending:
        found = self.stream.pending.get(xid)
        if found is None:
            found = self.stream.pending[xid] = Pending()
        return found

    def _user_file(self, key: tuple[int, int]) -> bool:
        info = self.relations.get(key)
        if info is not None:
            return info.user_table
        return key[1] >= FIRST_NORMAL_OID

    def _label(self, key: tuple[int, int]) -> str:
        info = self.relations.get(key)
        return f"{info.schema}.{info.name}" if info else f"file node {key[1]}"

    def line(self, text: str) -> None:
        match = RECORD.match(text)
        if match is None:
            return  # e.g. "first record is after 0/B00005, at 0/B00028, skipping over 35 bytes"
        rmgr, xid_text, high, low, word, rest = match.groups()
        lsn = (int(high, 16) << 32) + int(low, 16)
        stream = self.stream
        if lsn <= stream.last_lsn:
            return  # counted by an earlier pass
        stream.last_lsn = lsn
        stream.resume_lsn = lsn
        self.switched_at = None
        self.batch.records += 1
        xid = int(xid_text)
        if rmgr == "Heap":
            kind = HEAP_KINDS.get(word)
            if kind is None:
                return
            block = BLOCK.search(rest)
            if block is None:
                return
            key = (int(block[1]), int(block[2]))
            if not self._user_file(key):
                return
            pending = self._pending(xid)
            pending.changed += 1
            if kind == "delete":
                pending.deletes[key] = pending.deletes.get(key, 0) + 1
            elif kind == "update":
                pending.updates[key] = pending.updates.get(key, 0) + 1
        elif rmgr == "Heap2":
            if word.startswith("MULTI_INSERT"):
                block = BLOCK.search(rest)
                tuples = TUPLES.match(rest)
                if block and tuples and self._user_file((int(block[1]), int(block[2]))):
                    self._pending(xid).changed += int(tuples[1])
        elif rmgr == "Transaction":
            if word == "COMMIT":
                self._commit(xid, lsn, rest)
            elif word == "ABORT":
                self._abort(xid, rest)
        elif rmgr == "Storage":
            if word == "CREATE":
                key = rel_file(rest.strip())
                if key is not None:
                    self._pending(xid).created.add(key)
        elif rmgr == "XLOG":
            if word == "SWITCH":
                self.switched_at = lsn
            elif word == "FPI" and xid in stream.pending:
                block = BLOCK.search(rest)
                if block is not None:
                    key = (int(block[1]), int(block[2]))
                    pending = stream.pending[xid]
                    if key in pending.created:
                        pending.imaged.add(key)
        elif rmgr == "Standby" and word == "RUNNING_XACTS":
            oldest = OLDEST_RUNNING.search(rest)
            if oldest is not None:
                # Transactions older than the oldest running one ended without a record
                # (a crash): forget them. Subtransactions are younger than their parent.
                floor = int(oldest[1])
                for stale in [x for x in stream.pending if x < floor]:
                    del stream.pending[stale]

    def _fields(self, rest: str) -> tuple[int, dict[str, str]]:
        """`` 2026-11-24 22:13:39.877532 UTC; rels: ...; subxacts: 735; dropped stats: ...``"""
        parts = rest.strip().split("; ")
        fields = {}
        for part in parts[1:]:
            key, sep, value = part.partition(": ")
            if sep:
                fields[key] = value
        return parse_commit_time(parts[0]), fields

    def _abort(self, xid: int, rest: str) -> None:
        _, fields = self._fields(rest)
        for sub in [xid, *map(int, fields.get("subxacts", "").split())]:
            self.stream.pending.pop(sub, None)

    def _commit(self, xid: int, lsn: int, rest: str) -> None:
        stream = self.stream
        commit_time, fields = self._fields(rest)
        done = Pending()
        for sub in [xid, *map(int, fields.get("subxacts", "").split())]:
            part = stream.pending.pop(sub, None)
            if part is not None:
                done.merge(part)
        minute = commit_time // 60_000_000
        bucket = self.batch.activity.setdefault(minute, [0, 0])
        bucket[0] += 1
        bucket[1] += done.changed
        before = None
        if stream.last_commit is not None:
            before = min(stream.last_commit, commit_time - 1)
        stream.last_commit = commit_time

        def event(kind: str, keys: list[tuple[int, int]], rows: int) -> None:
            database = self.databases.get(keys[0][0], "") if keys else ""
            labels = list(dict.fromkeys(self._label(key) for key in keys))
            self.batch.events.append(
                (
                    commit_time,
                    stream.node,
                    stream.timeline,
                    lsn,
                    kind,
                    before,
                    database,
                    json.dumps(labels),
                    rows,
                    xid,
                )
            )

        dropped, truncated = self._dropped_tables(fields, done)
        if dropped:
            event("DROP TABLE", dropped, 0)
        if truncated:
            event("TRUNCATE", truncated, 0)
        for kind, counts in (("DELETE", done.deletes), ("UPDATE", done.updates)):
            if sum(counts.values()) >= self.threshold:
                ranked = sorted(counts.items(), key=lambda item: -item[1])
                event(kind, [key for key, _ in ranked], sum(counts.values()))

    def _dropped_tables(
        self, fields: dict[str, str], done: Pending
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The user tables whose files a commit drops: (dropped, truncated)."""
        files = [key for key in map(rel_file, fields.get("rels", "").split()) if key]
        if not files:
            return [], []
        stats = set()
        for item in fields.get("dropped stats", "").split():
            kind, db, oid = item.split("/")
            if kind == "2":  # a relation
                stats.add((int(db), int(oid)))
        dropped, truncated = [], []
        for key in files:
            if not self._user_file(key):
                continue  # an index, a TOAST table, a system catalog
            info = self.relations.get(key)
            oid = info.oid if info else key[1]  # unknown: never rewritten, file node = OID
            db = key[0]
            created = {item for item in done.created if item[0] == db}
            if (db, oid) in stats or not created:
                dropped.append(key)
            elif created & stats:
                continue  # a rewrite through a transient table (VACUUM FULL, CLUSTER, ...)
            elif created <= done.imaged:
                continue  # copied page by page (SET TABLESPACE) or rebuilt (REINDEX)
            else:
                truncated.append(key)
        return dropped, truncated


# A pass ----------------------------------------------------------------------------------


def _segments(node: Node, ext: str) -> dict[int, dict[int, Path]]:
    """timeline -> segment number -> archived file."""
    found: dict[int, dict[int, Path]] = {}
    try:
        entries = list(node.archive.iterdir())
    except FileNotFoundError:
        return found
    for path in entries:
        match = SEGMENT_FILE.match(path.name)
        if match and match[3] == ext:
            found.setdefault(int(match[1], 16), {})[archive.segment_number(path.name)] = path
    return found


def _snapshot(
    conn: sqlite3.Connection, name: str, node_name: str, node: Node
) -> tuple[dict[tuple[int, int], RelInfo], dict[int, str]]:
    """The node's relation and database maps, refreshed from the server when it runs."""
    relations = {
        (db, fn): RelInfo(schema, rel, kind, oid)
        for db, fn, schema, rel, kind, oid in conn.execute(
            "SELECT db_oid, filenode, schema, name, relkind, rel_oid FROM relations"
            " WHERE grp = ? AND node = ?",
            (name, node_name),
        )
    }
    databases = dict(
        conn.execute(
            "SELECT db_oid, name FROM databases WHERE grp = ? AND node = ?", (name, node_name)
        ).fetchall()
    )
    if not node.is_running():
        return relations, databases
    fresh_relations: dict[tuple[int, int], RelInfo] = {}
    fresh_databases: dict[int, str] = {}
    try:
        with node.connect() as server:
            rows = server.execute(
                "SELECT oid, datname, datallowconn AND NOT datistemplate FROM pg_database"
            ).fetchall()
        for oid, datname, connectable in rows:
            fresh_databases[oid] = datname
            if not connectable:
                continue
            with node.connect(datname) as server:
                for filenode, schema, rel, kind, rel_oid in server.execute(
                    "SELECT pg_relation_filenode(c.oid), n.nspname, c.relname, c.relkind, c.oid"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE pg_relation_filenode(c.oid) IS NOT NULL"
                ):
                    fresh_relations[(oid, filenode)] = RelInfo(schema, rel, kind, rel_oid)
    except psycopg.Error:
        # Stopping, or out of connections: names come from the previous snapshots.
        return relations, databases
    changed_relations = [
        (name, node_name, db, fn, info.schema, info.name, info.relkind, info.oid)
        for (db, fn), info in fresh_relations.items()
        if relations.get((db, fn)) != info
    ]
    changed_databases = [
        (name, node_name, oid, datname)
        for oid, datname in fresh_databases.items()
        if databases.get(oid) != datname
    ]
    if changed_relations or changed_databases:
        with _transaction(conn):
            conn.executemany(
                "INSERT OR REPLACE INTO relations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                changed_relations,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO databases VALUES (?, ?, ?, ?)", changed_databases
            )
    relations.update(fresh_relations)
    databases.update(fresh_databases)
    return relations, databases


def _load_stream(
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


def _save(conn: sqlite3.Connection, name: str, stream: Stream, batch: Batch) -> None:
    with _transaction(conn):
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


def _unpack(engine: Indexed, node: Node, files: list[Path], ext: str, into: Path) -> None:
    """Decompress archived segments into ``into`` (readable by the PostgreSQL user)."""
    if ext == "zst":
        try:
            node.pg.run(
                node.label, "zstd", "-dq", "-f", "--output-dir-flat", str(into), *map(str, files)
            )
        except NodeFailed as error:
            raise LocalCloudError(
                f"{node.label}: could not decompress archived WAL for the event index "
                f"({error}); check the files named in {node.archive}."
            ) from error
        return
    for path in files:
        # As the node's user: the archive is that user's, and a link there must not
        # make the engine read anything else.
        target = into / path.name[:24]
        try:
            node.pg.run(
                node.label, "sh", "-c", 'gzip -dc -- "$1" > "$2"', "gunzip", str(path), str(target)
            )
        except NodeFailed as error:
            raise LocalCloudError(
                f"{node.label}: could not decompress the archived WAL segment {path} "
                f"for the event index: {error}."
            ) from error


def _waldump(
    engine: Indexed, node: Node, directory: Path, stream: Stream, end: int, reader: Reader
) -> tuple[int, str]:
    """Run pg_waldump from the stream's position to ``end`` (the end of the last segment
    in ``directory``: without it pg_waldump waits 5 s for the next segment to appear);
    feeds every line to ``reader``; returns pg_waldump's exit status and error output."""
    args = ["-p", str(directory), "-t", str(stream.timeline)]
    args += ["-s", format_lsn(stream.resume_lsn), "-e", format_lsn(end)]
    for rmgr in RMGRS:
        args += ["-r", rmgr]
    try:
        process = node.pg.open("pg_waldump", *args)
    except OSError as error:
        raise LocalCloudError(
            f"{node.label}: cannot run pg_waldump ({error.strerror}: "
            f"{engine.pg.program('pg_waldump')}); the WAL event index needs the PostgreSQL "
            f"15 server binaries in {engine.pg.bin_dir}."
        ) from error
    text = ""
    finished = False
    try:
        for text in process.stdout:
            reader.line(text)
        finished = True
    except (ValueError, KeyError, IndexError) as error:
        segment = archive.wal_file_name(stream.timeline, stream.resume_lsn)
        raise LocalCloudError(
            f"{node.label}: unexpected pg_waldump output in WAL segment {segment} of "
            f"{node.archive} ({error}): {text.strip()[:200]}"
        ) from error
    finally:
        if not finished:
            process.kill()
        errors = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        process.wait()
    return process.returncode, errors


def _bad_segment(errors: str, stream: Stream) -> str:
    """The WAL segment pg_waldump failed in: the one holding the bad record (which may
    be the first of a segment, after the last good record's), else where it started."""
    bad = BAD_RECORD.search(errors)
    if bad is None:
        return archive.wal_file_name(stream.timeline, stream.resume_lsn)
    named = SEGMENT_NAMED.search(bad[0])
    if named is not None:
        return named[1]
    at = LSN_AT.findall(bad[0])[-1]
    return archive.wal_file_name(stream.timeline, archive.parse_lsn(at))


def _index_stream(
    engine: Indexed,
    conn: sqlite3.Connection,
    name: str,
    node: Node,
    stream: Stream,
    segments: dict[int, Path],
    ext: str,
    maps: tuple[dict, dict],
    still_wanted: Callable[[], bool],
) -> int:
    """Read one timeline of one node from the stream's position to its last segment,
    ``BATCH_SEGMENTS`` at a time, saving the position after each batch."""
    records = 0
    numbers = sorted(segments)
    scratch = engine.root / "events-tmp"
    # Root's; the PostgreSQL user may only pass through it into its own subdirectory.
    scratch.mkdir(mode=0o711, exist_ok=True)
    scratch.chmod(0o711)
    while still_wanted():
        start = stream.resume_lsn // archive.SEGMENT_SIZE
        later = [number for number in numbers if number >= start]
        if not later:
            return records
        if later[0] != start:
            # Expired (or lost) segments: go on at the oldest one still there; what was
            # open before the hole is lost, and so is the commit before the next one.
            stream.resume_lsn = later[0] * archive.SEGMENT_SIZE
            stream.pending.clear()
            stream.last_commit = None
            start = later[0]
        chosen = []
        for number in later[:BATCH_SEGMENTS]:
            if number != start + len(chosen):
                break
            chosen.append(number)
        reader = Reader(stream, maps[0], maps[1], engine.large_change_rows)
        resumed_at = stream.resume_lsn
        directory = Path(tempfile.mkdtemp(prefix=f"{name}-{node.dir.name}-", dir=scratch))
        try:
            node.pg.own(directory)
            _unpack(engine, node, [segments[number] for number in chosen], ext, directory)
            end = (chosen[-1] + 1) * archive.SEGMENT_SIZE
            status, errors = _waldump(engine, node, directory, stream, end, reader)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if reader.switched_at is not None:
            # Past a SWITCH the segment holds nothing: the next run starts at the next one.
            stream.resume_lsn = (reader.switched_at // archive.SEGMENT_SIZE + 1) * (
                archive.SEGMENT_SIZE
            )
        if status != 0:
            # A damaged segment (or an unreadable one): name it.
            segment = _bad_segment(errors, stream)
            lines = errors.strip().splitlines()
            raise LocalCloudError(
                f"{node.label}: pg_waldump could not read the archived WAL segment "
                f"{node.archive / (segment + '.' + ext)}: "
                f"{lines[-1] if lines else f'exit status {status}'}. The WAL event index "
                "stops before it; a restore past this point would fail there too: check the "
                "file and the node's archive."
            )
        _save(conn, name, stream, reader.batch)
        records += reader.batch.records
        following = chosen[-1] + 1
        if following in segments:
            if stream.resume_lsn == resumed_at:
                return records  # one record longer than a batch: cannot happen in practice
            continue  # the end of this batch, not of the archive
        after = [number for number in numbers if number > following]
        if not after:
            return records  # the end of the archived WAL
        stream.resume_lsn = after[0] * archive.SEGMENT_SIZE  # a hole: see above
        stream.pending.clear()
        stream.last_commit = None
        _save(conn, name, stream, Batch())
    return records


def _prune(conn: sqlite3.Connection, engine: Indexed, name: str) -> None:
    try:
        earliest = restore_window(engine.catalog.group(name))[0]
    except NotReady:
        return
    cutoff = to_micros(earliest)
    with _transaction(conn):
        conn.execute("DELETE FROM events WHERE grp = ? AND commit_time < ?", (name, cutoff))
        conn.execute(
            "DELETE FROM activity WHERE grp = ? AND minute < ?", (name, cutoff // 60_000_000)
        )


def index_group(engine: Indexed, name: str) -> int:
    """Read the archived WAL of group ``name`` not indexed yet; returns how many WAL
    records were read. Raises LocalCloudError (naming node and file) when a segment
    cannot be read or pg_waldump is missing."""
    record = engine.catalog.group(name)
    if record["status"] not in ("Ready", "Stopped"):
        return 0

    def still_wanted() -> bool:
        group = engine.catalog.read()["groups"].get(name)
        return group is not None and group["status"] in ("Ready", "Stopped")

    records = 0
    with _group_lock(engine, name), contextlib.closing(_open(engine)) as conn:
        if not still_wanted():
            return 0
        for node_record in record["nodes"]:
            node = engine.node(record, node_record)
            ext = node_record["compression"]
            # List the archive before reading the catalog: every record read then
            # precedes the snapshot of the names.
            timelines = _segments(node, ext)
            maps = _snapshot(conn, name, node_record["name"], node)
            for timeline in sorted(timelines):
                segments = timelines[timeline]
                stream = _load_stream(conn, name, node_record["name"], timeline, min(segments))
                records += _index_stream(
                    engine, conn, name, node, stream, segments, ext, maps, still_wanted
                )
                if not still_wanted():
                    return records
        _prune(conn, engine, name)
    return records


# Reading the index -----------------------------------------------------------------------


def _activity(rows: list[tuple[str, int, int, int]]) -> tuple[Activity, ...]:
    """Activity rows (node, minute number, commits, rows), sorted by minute, as objects.

    A week of minutes on three nodes is 30,000 of them, so this skips what costs most:
    the frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) and a
    datetime per row (consecutive rows share their minute).
    """
    made = []
    append = made.append
    new = object.__new__
    last = None
    moment = EPOCH
    for node, minute, commits, changed in rows:
        if minute != last:
            last = minute
            moment = EPOCH + timedelta(minutes=minute)
        item = new(Activity)
        item.__dict__.update(node=node, minute=moment, commits=commits, rows=changed)
        append(item)
    return tuple(made)


def read_group(
    engine: Indexed,
    name: str,
    start: datetime | None,
    end: datetime | None,
    step: timedelta | None = None,
) -> EventIndex:
    """Events and activity of ``name`` between ``start`` and ``end`` (inclusive; None:
    unbounded), and per node the last commit time indexed. Only reads.

    With ``step`` (whole minutes, and a ``start``), activity comes summed over every
    node in buckets of ``step`` from ``start`` (node ""): a week is then a few hundred
    rows, not one per node and minute."""
    path = index_path(engine)
    try:
        nodes = [n["name"] for n in engine.catalog.read()["groups"][name]["nodes"]]
    except KeyError:
        nodes = []
    empty = EventIndex(events=(), activity=(), indexed_until=dict.fromkeys(nodes))
    if not path.exists():
        return empty
    low = to_micros(start) if start is not None else -(1 << 62)
    high = to_micros(end) if end is not None else 1 << 62
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return empty
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        event_rows = conn.execute(
            "SELECT node, kind, commit_time, before, database, relations, rows, xid, lsn,"
            " timeline FROM events WHERE grp = ? AND commit_time BETWEEN ? AND ?"
            " ORDER BY commit_time, node, lsn, kind",
            (name, low, high),
        ).fetchall()
        if step is not None and start is not None:
            first, width = low // 60_000_000, max(1, int(step.total_seconds() // 60))
            activity_rows = conn.execute(
                "SELECT '', ? + ((minute - ?) / ?) * ? AS bucket, sum(commits), sum(rows)"
                " FROM activity WHERE grp = ? AND minute BETWEEN ? AND ?"
                " GROUP BY bucket ORDER BY bucket",
                (first, first, width, width, name, first, high // 60_000_000),
            ).fetchall()
        else:
            activity_rows = conn.execute(
                "SELECT node, minute, commits, rows FROM activity"
                " WHERE grp = ? AND minute BETWEEN ? AND ? ORDER BY minute, node",
                (name, low // 60_000_000, high // 60_000_000),
            ).fetchall()
        until = conn.execute(
            "SELECT node, max(last_commit) FROM streams WHERE grp = ? GROUP BY node", (name,)
        ).fetchall()
    except sqlite3.OperationalError:
        return empty  # created but not yet initialised by an indexer
    finally:
        conn.close()
    events = tuple(
        WalEvent(
            node=node,
            kind=kind,
            commit_time=from_micros(commit_time),
            before=from_micros(before) if before is not None else None,
            database=database,
            relations=tuple(json.loads(relations)),
            rows=rows,
            xid=xid,
            lsn=format_lsn(lsn),
            timeline=timeline,
        )
        for node, kind, commit_time, before, database, relations, rows, xid, lsn, timeline in (
            event_rows
        )
    )
    activity = _activity(activity_rows)
    indexed_until = dict.fromkeys(nodes)
    for node, last in until:
        indexed_until[node] = from_micros(last) if last is not None else None
    return EventIndex(events=events, activity=activity, indexed_until=indexed_until)


def forget(engine: Indexed, name: str) -> None:
    """Drop everything the index holds of group ``name`` (it is being deleted)."""
    if not index_path(engine).exists():
        return
    with _group_lock(engine, name) as lock, contextlib.closing(_open(engine)) as conn:
        with _transaction(conn):
            for table in ("streams", "pending", "events", "activity", "relations", "databases"):
                conn.execute(f"DELETE FROM {table} WHERE grp = ?", (name,))
        lock.unlink(missing_ok=True)
