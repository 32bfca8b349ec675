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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .. import archive

FIRST_NORMAL_OID = 16384  # below: objects of initdb (system catalogs)
SYSTEM_SCHEMAS = ("pg_catalog", "pg_toast", "information_schema")
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
