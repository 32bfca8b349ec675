"""Reading pg_waldump's output: one node's WAL records turned into events and activity.

A ``Reader`` is fed the lines of one pg_waldump run over one stream (a node's timeline)
and fills a ``Batch``: the events of the transactions that committed in it and the
commits and changed rows per minute. Transactions still open at the end of a run stay
in the stream's ``pending`` aggregates, so the next run counts them once. Nothing here
runs a program or opens a file: ``indexer`` does, ``store`` keeps what is found.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .. import archive
from . import pgclass

FIRST_NORMAL_OID = 16384  # below: objects of initdb (system catalogs)
SYSTEM_SCHEMAS = ("pg_catalog", "pg_toast", "information_schema")
CATALOGS = (pgclass.PG_CLASS, pgclass.PG_NAMESPACE)  # whose changes name relations
RMGRS = ("Heap", "Heap2", "Transaction", "Storage", "Standby", "XLOG")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

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
SLOT_BLOCK = re.compile(r"blkref #0: rel \d+/(\d+)/\d+ blk (\d+)")
OFFSET = re.compile(r"^ off (\d+)")
NEW_OFFSET = re.compile(r"; new off (\d+)")
OLDEST_RUNNING = re.compile(r"oldestRunningXid (\d+)")
# pg_waldump: "error in WAL record at <the last good record>: <why>", where <why> names
# the bad record ("... at 0/D00028") or its segment ("... in log segment 0000...").
BAD_RECORD = re.compile(r"error in WAL record at [0-9A-F]+/[0-9A-F]+: .*")
LSN_AT = re.compile(r"\bat ([0-9A-F]+/[0-9A-F]+)")
SEGMENT_NAMED = re.compile(r"in log segment ([0-9A-F]{24})")
SEGMENT_FILE = re.compile(r"^([0-9A-F]{8})([0-9A-F]{16})\.(zst|gz)$")

HEAP_KINDS = {  # heap records that count as changed rows (and name catalog rows)
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


# Per-transaction aggregates --------------------------------------------------------------


@dataclass
class Pending:
    """What one (sub)transaction did so far, until its COMMIT or ABORT record."""

    deletes: dict[tuple[int, int], int] = field(default_factory=dict)
    updates: dict[tuple[int, int], int] = field(default_factory=dict)
    changed: int = 0  # inserted, updated and deleted rows of user tables (activity)
    created: set[tuple[int, int]] = field(default_factory=set)  # new main-fork storage
    imaged: set[tuple[int, int]] = field(default_factory=set)  # new storage given page images
    made: set[tuple[int, int]] = field(default_factory=set)  # (db, OID) of new pg_class rows

    def merge(self, other: Pending) -> None:
        for mine, theirs in ((self.deletes, other.deletes), (self.updates, other.updates)):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count
        self.changed += other.changed
        self.created |= other.created
        self.imaged |= other.imaged
        self.made |= other.made

    def to_json(self) -> str:
        return json.dumps(
            {
                "deletes": [[db, fn, n] for (db, fn), n in self.deletes.items()],
                "updates": [[db, fn, n] for (db, fn), n in self.updates.items()],
                "changed": self.changed,
                "created": sorted(self.created),
                "imaged": sorted(self.imaged),
                "made": sorted(self.made),
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
            made={tuple(item) for item in data.get("made", ())},
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

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


# Schemas every database has from initdb, by OID (a snapshot or the WAL tells the rest).
BUILTIN_SCHEMAS = {11: "pg_catalog", 99: "pg_toast", 2200: "public"}


class Names:
    """What a node's relation files and databases are called: (database OID, file
    node) -> relation, (database OID, relation OID) -> relation, database OID -> name,
    (database OID, schema OID) -> schema name. Kept in the index; refreshed from the
    running node on each pass, and from the catalog's changes in the WAL as it is read
    (so a table created and dropped between two passes is named too)."""

    def __init__(
        self,
        relations: dict[tuple[int, int], RelInfo],
        databases: dict[int, str],
        schemas: dict[tuple[int, int], str],
    ):
        self.relations = relations
        self.databases = databases
        self.schemas = schemas
        self.by_oid = {(db, info.oid): info for (db, _), info in relations.items()}
        self.learned: dict[tuple[int, int], RelInfo] = {}  # since the last save
        self.learned_schemas: dict[tuple[int, int], str] = {}

    def schema(self, db: int, oid: int) -> str:
        found = self.schemas.get((db, oid)) or BUILTIN_SCHEMAS.get(oid)
        return found if found is not None else f"schema {oid}"

    def learn_relation(self, db: int, row: pgclass.ClassRow) -> None:
        info = RelInfo(self.schema(db, row.namespace), row.name, row.kind, row.oid)
        self.by_oid[(db, row.oid)] = info
        if row.filenode:
            self.relations[(db, row.filenode)] = info
            self.learned[(db, row.filenode)] = info

    def learn_schema(self, db: int, row: pgclass.NamespaceRow) -> None:
        self.schemas[(db, row.oid)] = row.name
        self.learned_schemas[(db, row.oid)] = row.name

    def user_file(self, key: tuple[int, int]) -> bool:
        info = self.relations.get(key)
        if info is not None:
            return info.user_table
        return key[1] >= FIRST_NORMAL_OID

    def label(self, key: tuple[int, int]) -> str:
        info = self.relations.get(key)
        return info.label if info else f"file node {key[1]}"


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
    """Turns pg_waldump lines of one stream into events and activity.

    ``fetch`` reads the raw record at an LSN (None: not available); with it, changes
    of ``pg_class`` and ``pg_namespace`` are decoded into ``names`` as they are read.
    """

    def __init__(
        self,
        stream: Stream,
        names: Names,
        threshold: int,
        fetch: Callable[[int], bytes | None] | None = None,
        catalog: pgclass.CatalogReader | None = None,
    ):
        self.stream = stream
        self.names = names
        self.threshold = threshold
        self.fetch = fetch
        self.catalog = catalog or pgclass.CatalogReader()
        self.batch = Batch()
        self.switched_at: int | None = None  # lsn of the last record when it was a SWITCH

    def _pending(self, xid: int) -> Pending:
        found = self.stream.pending.get(xid)
        if found is None:
            found = self.stream.pending[xid] = Pending()
        return found

    def _catalog_change(self, xid: int, lsn: int, word: str, filenode: int, rest: str) -> None:
        """Learn the name a pg_class or pg_namespace INSERT or UPDATE wrote. A row
        version that cannot be read (or a DELETE) is forgotten by its position, so that
        an UPDATE of whatever takes the position next is never rebuilt from it."""
        slot = written_slot(word, rest)
        written = None
        if self.fetch is not None and not word.startswith("DELETE"):
            try:
                record = self.fetch(lsn)
                written = self.catalog.new_tuple(word, record) if record else None
            except (ValueError, IndexError, struct.error):
                written = None  # a layout this reader does not know: the name stays unknown
        if written is None:
            if slot is not None:
                self.catalog.forget(slot)
            return
        db, data = written
        if filenode == pgclass.PG_CLASS:
            row = pgclass.class_row(data)
            if row is not None:
                self.names.learn_relation(db, row)
                if word.startswith("INSERT"):
                    self._pending(xid).made.add((db, row.oid))
        else:
            row = pgclass.namespace_row(data)
            if row is not None:
                self.names.learn_schema(db, row)

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
            if key[1] in CATALOGS:
                self._catalog_change(xid, lsn, word, key[1], rest)
                return
            if not self.names.user_file(key):
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
                if block and tuples and self.names.user_file((int(block[1]), int(block[2]))):
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
        # Just before the event for the whole group: the instant before its commit.
        before = commit_time - 1
        stream.last_commit = commit_time

        def event(kind: str, db: int, labels: list[str], rows: int) -> None:
            database = self.names.databases.get(db, "")
            labels = list(dict.fromkeys(labels))
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
            event("DROP TABLE", dropped[0], dropped[1], 0)
        if truncated:
            event("TRUNCATE", truncated[0], truncated[1], 0)
        for kind, counts in (("DELETE", done.deletes), ("UPDATE", done.updates)):
            if sum(counts.values()) >= self.threshold:
                ranked = sorted(counts.items(), key=lambda item: -item[1])
                labels = [self.names.label(key) for key, _ in ranked]
                event(kind, ranked[0][0][0], labels, sum(counts.values()))

    def _dropped_tables(
        self, fields: dict[str, str], done: Pending
    ) -> tuple[tuple[int, list[str]] | None, tuple[int, list[str]] | None]:
        """The user tables a commit drops and those it truncates, each as (database
        OID, labels), one label per table (its TOAST table and indexes folded in)."""
        files = [key for key in map(rel_file, fields.get("rels", "").split()) if key]
        if not files:
            return None, None
        stats = set()
        for item in fields.get("dropped stats", "").split():
            kind, db, oid = item.split("/")
            if kind == "2":  # a relation
                stats.add((int(db), int(oid)))
        names = self.names
        # A table made and dropped in one transaction (a rewrite's transient copy) was
        # never seen by anyone: not an event.
        dropped = [names.by_oid[key] for key in sorted(stats - done.made) if key in names.by_oid]
        dropped_labels = [info.label for info in dropped if info.user_table]
        truncated_labels, unknown_dropped, unknown_truncated = [], [], []
        for key in files:
            db = key[0]
            info = names.relations.get(key)
            if info is None and key[1] < FIRST_NORMAL_OID:
                continue  # a system catalog's file
            if info is not None and (not info.user_table or (db, info.oid) in stats):
                continue  # an index, a TOAST table, or a table listed as dropped
            created = {item for item in done.created if item[0] == db}
            if info is None and ((db, key[1]) in stats or not created):
                unknown_dropped.append(key)  # never rewritten: file node = OID
            elif not created:
                dropped_labels.append(info.label)  # dropped without its statistics
            elif created & stats:
                continue  # a rewrite through a transient table (VACUUM FULL, CLUSTER, ...)
            elif created <= done.imaged:
                continue  # copied page by page (SET TABLESPACE) or rebuilt (REINDEX)
            elif info is None:
                unknown_truncated.append(key)
            else:
                truncated_labels.append(info.label)
        # Files never named (their creation expired, and no pass saw them): a table's
        # files were made in order, the table first, so it has the smallest number.
        if unknown_dropped and not dropped_labels:
            dropped_labels.append(names.label(min(unknown_dropped)))
        if unknown_truncated and not truncated_labels:
            truncated_labels.append(names.label(min(unknown_truncated)))
        db = files[0][0]
        return (
            (db, dropped_labels) if dropped_labels else None,
            (db, truncated_labels) if truncated_labels else None,
        )


def written_slot(word: str, rest: str) -> tuple[int, int, int] | None:
    """(database, block, offset) of the row version a heap INSERT, UPDATE or DELETE
    line of pg_waldump names (for an UPDATE, the new version)."""
    block = SLOT_BLOCK.search(rest)
    offset = (NEW_OFFSET if "UPDATE" in word else OFFSET).search(rest)
    if block is None or offset is None:
        return None
    return int(block[1]), int(block[2]), int(offset[1])


def bad_segment(errors: str, stream: Stream) -> str:
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
