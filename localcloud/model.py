"""What the engine answers: frozen views of catalog records, UTC-aware datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, aware and in UTC: the one clock of localcloud."""
    return datetime.now(UTC)


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def format_time(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Backup:
    id: str
    start_time: datetime
    end_time: datetime
    timeline: int
    start_lsn: str
    end_lsn: str
    size: int
    adopted: bool = False  # hard links to the backup a restore started from

    @classmethod
    def from_record(cls, record: dict) -> Backup:
        return cls(
            id=record["id"],
            start_time=parse_time(record["start_time"]),
            end_time=parse_time(record["end_time"]),
            timeline=record["timeline"],
            start_lsn=record["start_lsn"],
            end_lsn=record["end_lsn"],
            size=record["size"],
            adopted="adopted_from" in record,
        )


@dataclass(frozen=True)
class NodeInfo:
    name: str  # "coordinator", "worker-1", ...
    role: str  # "coordinator" or "worker"
    host: str
    port: int
    database: str
    user: str
    running: bool
    data_dir: str
    socket_dir: str
    backups: tuple[Backup, ...] = ()

    @property
    def status(self) -> str:
        return "Running" if self.running else "Stopped"


@dataclass(frozen=True)
class FirewallRule:
    name: str
    start_ip: str
    end_ip: str


@dataclass(frozen=True)
class Group:
    name: str
    status: str  # Provisioning, Restoring, Ready, Unavailable, Stopped, Deleting
    subscription: str
    resource_group: str
    location: str
    database: str
    admin_user: str
    admin_password: str
    created_at: datetime
    desired: str  # "running" or "stopped"
    nodes: tuple[NodeInfo, ...]
    tags: dict[str, str] = field(default_factory=dict)
    restored_from: str = ""
    restore_point: datetime | None = None
    firewall_rules: tuple[FirewallRule, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    postgresql_version: str = "15"
    uid: str = ""  # immutable id; a name may be reused after a delete, this never is
    restored_from_uid: str = ""  # the source's uid ("" when not restored or unknown)
    earliest_restore: datetime | None = None  # window.earliest_point: None without backups

    @property
    def coordinator(self) -> NodeInfo:
        return self.nodes[0]

    @property
    def has_backup(self) -> bool:
        return bool(self.nodes) and all(node.backups for node in self.nodes)


# The WAL event index (walindex/) ---------------------------------------------------


@dataclass(frozen=True)
class WalEvent:
    """A destructive transaction found in a node's archived WAL."""

    node: str  # "coordinator", "worker-1", ...
    kind: str  # "DROP TABLE", "TRUNCATE", "DELETE" or "UPDATE"
    commit_time: datetime  # the commit record's timestamp, UTC
    # The instant just before this transaction's commit (its commit time less 1 µs):
    # restoring the whole group to it keeps every commit made before the event, on
    # every node, and not the event.
    before: datetime | None
    database: str  # "" when it cannot be resolved
    relations: tuple[str, ...]  # "schema.table", or "file node 16385" when unresolved
    rows: int  # rows deleted or updated (0 for DROP TABLE and TRUNCATE)
    xid: int
    lsn: str  # of the commit record
    timeline: int


@dataclass(frozen=True)
class Activity:
    """Commits and changed rows of one node in one minute (from the WAL)."""

    node: str
    minute: datetime  # the minute's start, UTC
    commits: int
    rows: int


@dataclass(frozen=True)
class EventIndex:
    """What the WAL index knows of a group between two points."""

    events: tuple[WalEvent, ...]
    activity: tuple[Activity, ...]
    # Per node, the commit time of the last commit indexed (None: nothing indexed yet).
    indexed_until: dict[str, datetime | None] = field(default_factory=dict)


# Previews: a read-only copy of one node at T (preview/) ---------------------------------


@dataclass(frozen=True)
class Preview:
    id: str
    group: str
    node: str
    point: datetime  # the point the preview shows, UTC
    status: str  # "Starting", "Ready" or "Failed"
    created_at: datetime
    expires_at: datetime  # torn down at this time at the latest
    message: str = ""  # why it failed, word for word


@dataclass(frozen=True)
class PreviewTable:
    schema: str
    name: str
    rows: int | None  # None: not known (it could not be read, and no estimate exists)
    exact: bool  # True: count(*) at T; False: the planner's estimate, or unreadable
    size: int = 0  # bytes of the table's data (all its partitions)
    note: str = ""  # why an estimate, why it cannot be read, or what a restore gives


@dataclass(frozen=True)
class TableComparison:
    """One table at the preview's point beside the same table in the running source."""

    schema: str
    name: str
    at_point: PreviewTable | None  # None: created since T (a restore to T has no such table)
    now: PreviewTable | None  # None: dropped since T (a restore to T brings it back)


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]  # values as text, None for NULL
    truncated: bool  # more rows existed than the limit (or than the byte budget)
    elapsed_ms: float
    message: str = ""  # why fewer rows were shown than the limit, when the budget cut them
