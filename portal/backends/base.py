"""What the portal may ask of any cloud.

Every backend (localcloud, Azure) answers in these dataclasses and raises only
``BackendError`` (or a subclass) for failures it knows about. Views and the wizard
talk to clouds through this module and nothing else.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum, nonmember

from .scratch import not_scratch

# The longest name the portal keeps for a new server group (its restore records' column).
# Each cloud has its own rule for names (``Backend.name_problem``), within this limit.
NAME_MAX_LENGTH = 40


class BackendError(Exception):
    """A failure the DBA can act on; ``str(error)`` is shown word for word.

    ``permanent`` says whether trying the same call again can help (False for
    throttling, timeouts and network faults). ``code`` carries the cloud's own
    error code when it has one (ARM's ``error.code``, a localcloud error name).
    ``http_status`` is the status of the page that shows it: the cloud failed (502).
    """

    http_status = 502

    def __init__(self, message: str, *, permanent: bool = True, code: str = ""):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code


class NotFound(BackendError):
    """The server group (or operation) does not exist, or is not visible."""

    http_status = 404


class State(StrEnum):
    """A state word, shown as is; templates compare against the members (the context
    names each enum), so a template must not call the class."""

    do_not_call_in_templates = nonmember(True)


class GroupStatus(State):
    """A server group's status, in the words every cloud's portal shows. A cloud may
    report a state of its own beyond these (``ServerGroup.status`` then carries its word)."""

    READY = "Ready"
    STOPPED = "Stopped"
    STARTING = "Starting"
    STOPPING = "Stopping"
    RESTARTING = "Restarting"
    UPDATING = "Updating"
    PROVISIONING = "Provisioning"
    RESTORING = "Restoring"
    DELETING = "Deleting"
    DISABLED = "Disabled"
    INACCESSIBLE = "Inaccessible"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


class PreviewStatus(State):
    """Where a preview is: its copy starting, ready for queries, or failed."""

    STARTING = "Starting"
    READY = "Ready"
    FAILED = "Failed"


class RestorePhase(State):
    """The phase a restore reports (``Progress.phase``), as localcloud names them; a
    cloud that reports only its own state sends its group status instead."""

    SEALING = "sealing"
    RESTORING = "restoring"
    BACKING_UP = "backing up"
    READY = "ready"


@dataclass(frozen=True)
class Node:
    name: str  # "coordinator", "worker-1", or the cloud's server name
    role: str  # "coordinator" or "worker"
    host: str
    port: int | None
    database: str
    user: str
    status: str = ""


@dataclass(frozen=True)
class ServerGroup:
    backend: str  # registry key, e.g. "local" or "azure"
    cloud: str  # label shown beside the group, e.g. "Local" or "Azure"
    id: str  # unique within the backend (Azure: the resource id; local: the name)
    name: str
    status: str  # a GroupStatus, or the cloud's own word for a state beyond them
    subscription: str
    resource_group: str
    location: str
    postgresql_version: str = ""
    coordinator_host: str = ""
    coordinator_port: int | None = None
    database: str = ""
    admin_user: str = ""
    node_count: int = 0
    nodes: tuple[Node, ...] = ()
    earliest_restore: datetime | None = None
    restored_from: str = ""  # the source group's name, when this one is a restore
    # Immutable ids, where the cloud has them (localcloud): a name can be reused after a
    # delete, an id never is, so lineage checks compare these.
    uid: str = ""
    restored_from_uid: str = ""
    restore_point: datetime | None = None  # the point it was restored to
    created_at: datetime | None = None
    has_backup: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    kind: str = ""  # what the cloud calls it, e.g. "Elastic cluster" or "Single server"
    geo_redundant_backup: bool = False
    paired_location: str = ""  # where a geo-restore lands, when the cloud offers one
    # Further rows for the Overview's Essentials, as (label, value), in order.
    essentials: tuple[tuple[str, str], ...] = ()

    @property
    def is_ready(self) -> bool:
        return self.status == GroupStatus.READY


@dataclass(frozen=True)
class RestoreWindow:
    """The range a restore may target, both ends inclusive, UTC."""

    earliest: datetime
    latest: datetime

    def contains(self, moment: datetime) -> bool:
        return self.earliest <= moment <= self.latest


@dataclass(frozen=True)
class RestoreRequest:
    source_id: str
    target_name: str
    point_in_time: datetime | None  # None means the earliest restore point
    # One of Backend.restore_choices(); "" reads the point alone (None: earliest).
    # "latest": the newest point at the time of the restore; "fast": a full backup, its
    # completion time in point_in_time; "geo": the paired region, at the latest point.
    choice: str = ""


@dataclass(frozen=True)
class BackupPoint:
    """A completed full backup: restoring to its completion time replays no WAL."""

    name: str
    completed: datetime
    kind: str = ""  # e.g. "Full" or "Customer On-Demand"


class NodePhase(State):
    """Where one node of a restore is (localcloud reports each; Azure reports none)."""

    WAITING = "waiting"
    UNPACKING = "unpacking"
    REPLAYING = "replaying"
    BACKING_UP = "backing up"
    READY = "ready"

    @property
    def label(self) -> str:
        return {
            NodePhase.WAITING: "Waiting",
            NodePhase.UNPACKING: "Unpacking the backup",
            NodePhase.REPLAYING: "Replaying WAL",
            NodePhase.BACKING_UP: "First backup",
            NodePhase.READY: "Ready",
        }[self]


@dataclass(frozen=True)
class NodeProgress:
    """One node's figures, by bytes. A figure the cloud cannot give is None.

    ``bytes_done``/``bytes_total``: the backup unpacked of its size. ``wal_done``/
    ``wal_total``: WAL replayed of the WAL to replay (from the backup's start to T's
    position in the archive, or an upper bound of it). ``rate``: bytes per second in
    the current phase. ``seconds_left``: the node's time left, all phases included.
    """

    phase: NodePhase
    percent: int
    bytes_done: int | None = None
    bytes_total: int | None = None
    wal_done: int | None = None
    wal_total: int | None = None
    rate: float | None = None
    seconds_left: float | None = None

    def to_json(self) -> dict:
        return {
            "phase": str(self.phase),
            "percent": self.percent,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "wal_done": self.wal_done,
            "wal_total": self.wal_total,
            "rate": self.rate,
            "seconds_left": self.seconds_left,
        }

    @classmethod
    def from_json(cls, data: dict) -> NodeProgress:
        try:
            phase = NodePhase(data.get("phase"))
        except ValueError:
            phase = NodePhase.WAITING
        return cls(
            phase=phase,
            percent=max(0, min(100, int(data.get("percent") or 0))),
            **{
                key: data.get(key)
                for key in ("bytes_done", "bytes_total", "wal_done", "wal_total")
                + ("rate", "seconds_left")
            },
        )


@dataclass(frozen=True)
class Progress:
    """One progress report: the phase, a percent per node (0 to 100), and, when the
    cloud gives them, each node's figures and the whole group's time left.

    ``nodes`` stays the plain percent per node (the CLI's --json and older rows read
    it); ``details`` adds the figures. ``coarse`` says the cloud reports no more than
    its own state (Azure): pages say so rather than show bars that cannot move.
    """

    phase: str
    nodes: dict[str, int] = field(default_factory=dict)
    message: str = ""
    details: dict[str, NodeProgress] = field(default_factory=dict)
    seconds_left: float | None = None
    coarse: bool = False


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class NodeEstimate:
    """One node of a restore, before it starts: the base backup it will unpack, the
    archived WAL from that backup's end to where recovery to T stops, and the time."""

    node: str
    backup: str  # the base backup's id
    backup_end: datetime | None
    unpack_bytes: int | None
    wal_bytes: int | None
    # No commit after T is archived yet: the WAL runs to the archive's end (and the
    # commit the restore itself writes there), so ``wal_bytes`` is read to that end.
    to_archive_end: bool = False
    seconds: float | None = None

    def to_json(self) -> dict:
        return {
            "node": self.node,
            "backup": self.backup,
            "backup_end": self.backup_end.isoformat() if self.backup_end else None,
            "unpack_bytes": self.unpack_bytes,
            "wal_bytes": self.wal_bytes,
            "to_archive_end": self.to_archive_end,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: dict) -> NodeEstimate:
        end = data.get("backup_end")
        return cls(
            node=str(data.get("node", "")),
            backup=str(data.get("backup", "")),
            backup_end=datetime.fromisoformat(end) if end else None,
            unpack_bytes=data.get("unpack_bytes"),
            wal_bytes=data.get("wal_bytes"),
            to_archive_end=bool(data.get("to_archive_end")),
            seconds=data.get("seconds"),
        )


@dataclass(frozen=True)
class RestoreEstimate:
    """How long a restore will take, said before it starts.

    ``seconds`` is the whole group's (its nodes restore in parallel), None when the
    cloud gives no figure; ``rough`` says the cloud only documents a range, in
    ``message``. ``basis`` says where the figures come from.
    """

    seconds: float | None
    nodes: tuple[NodeEstimate, ...] = ()
    basis: str = ""
    point: datetime | None = None
    rough: bool = False
    message: str = ""

    @property
    def unpack_bytes(self) -> int:
        return sum(node.unpack_bytes or 0 for node in self.nodes)

    @property
    def wal_bytes(self) -> int:
        return sum(node.wal_bytes or 0 for node in self.nodes)

    def to_json(self) -> dict:
        return {
            "seconds": self.seconds,
            "unpack_bytes": self.unpack_bytes,
            "wal_bytes": self.wal_bytes,
            "point": self.point.isoformat() if self.point else None,
            "basis": self.basis,
            "rough": self.rough,
            "message": self.message,
            "nodes": [node.to_json() for node in self.nodes],
        }

    @classmethod
    def from_json(cls, data: dict) -> RestoreEstimate:
        point = data.get("point")
        return cls(
            seconds=data.get("seconds"),
            nodes=tuple(NodeEstimate.from_json(node) for node in data.get("nodes") or ()),
            basis=str(data.get("basis", "")),
            point=datetime.fromisoformat(point) if point else None,
            rough=bool(data.get("rough")),
            message=str(data.get("message", "")),
        )


@dataclass(frozen=True)
class RestoreResult:
    target_id: str
    target_name: str
    point_in_time: datetime | None  # the point actually restored to, when known


@dataclass(frozen=True)
class FirewallRule:
    name: str
    start_ip: str
    end_ip: str


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    default: str = ""
    needs_restart: bool = False
    scope: str = "coordinator"  # "coordinator" or "worker" (Azure role groups)


@dataclass(frozen=True)
class BaseBackup:
    """One retained base backup of one node."""

    node: str
    id: str
    start_time: datetime
    end_time: datetime
    size: int  # bytes
    start_lsn: str = ""  # where replay starts, when the cloud says (localcloud does)


@dataclass(frozen=True)
class ConnectionInfo:
    """Where clients connect: the coordinator's endpoint and the admin role."""

    host: str
    port: int
    database: str
    user: str
    sslmode: str = "prefer"


@dataclass(frozen=True)
class CopyResult:
    firewall_rules: int = 0
    parameters: int = 0
    needs_restart: bool = False


@dataclass(frozen=True)
class TimelineEvent:
    """A destructive transaction found in a group's WAL (DROP TABLE, TRUNCATE, or a
    DELETE or UPDATE of many rows)."""

    node: str
    kind: str
    commit_time: datetime
    # The instant before the event's commit, for every node: restoring to it is "just
    # before" (None: not known).
    before: datetime | None
    database: str
    relations: tuple[str, ...]
    rows: int = 0


@dataclass(frozen=True)
class Timeline:
    """What the wizard draws over the restore window."""

    backups: tuple[tuple[str, datetime], ...]  # (node, end time) of each retained backup
    events: tuple[TimelineEvent, ...]  # oldest first
    activity: tuple[tuple[datetime, int], ...]  # (minute, commits over every node), sorted
    # The oldest, over nodes, of each node's last indexed commit: events after it are
    # not known yet. None when nothing is indexed.
    indexed_until: datetime | None = None


@dataclass(frozen=True)
class PreviewInfo:
    """A temporary read-only copy of one node at ``point``."""

    id: str
    node: str
    point: datetime
    status: PreviewStatus
    expires_at: datetime
    message: str = ""


@dataclass(frozen=True)
class PreviewTable:
    schema: str
    name: str
    rows: int | None  # None: not known (the table cannot be read, and has no estimate)
    exact: bool = True  # False: an estimate, or unreadable; ``note`` says which and why
    size: int = 0  # bytes of the table's data
    note: str = ""


@dataclass(frozen=True)
class PreviewComparison:
    """Compare with now: one table at the preview's point beside the same table in the
    running source."""

    schema: str
    name: str
    at_point: PreviewTable | None  # None: created since T (a restore to T has no such table)
    now: PreviewTable | None  # None: dropped since T (a restore to T brings it back)

    @property
    def difference(self) -> int | None:
        """Rows now minus rows at T (a missing table counts 0; None when not known)."""
        rows_at = self.at_point.rows if self.at_point else 0
        rows_now = self.now.rows if self.now else 0
        if rows_at is None or rows_now is None:
            return None
        return rows_now - rows_at

    @property
    def change(self) -> str:
        """What changed since T, in words."""
        if self.now is None:
            return "Dropped since T"
        if self.at_point is None:
            return "Created since T"
        difference = self.difference
        if difference is None:
            return "Not known"
        about = "" if self.at_point.exact and self.now.exact else "About "
        if difference == 0:
            return f"{about}the same number of rows" if about else "The same number of rows"
        more = "more" if difference > 0 else "fewer"
        plural = "s" if abs(difference) != 1 else ""
        return f"{about}{abs(difference):,} {more} row{plural} now"


@dataclass(frozen=True)
class PreviewRows:
    columns: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]
    truncated: bool
    elapsed_ms: float
    message: str = ""  # why the result was cut before the row limit (a byte budget)


class Backend:
    """The base every cloud backend extends.

    A restore runs in two calls so that a worker restart can pick it up again:
    ``begin_restore`` starts it and returns an opaque token (to be stored), and
    ``wait_restore`` (callable again with the same token after a restart) blocks
    until the restore ends, reporting progress. ``abandon_restore`` cleans up after
    a restore that can no longer finish.
    """

    key = ""
    label = ""
    can_restore = False
    has_alerts = False
    has_timeline = False  # events read from the WAL (restore_timeline)
    large_change_rows: int | None = None  # a DELETE/UPDATE of this many rows is an event
    can_preview = False  # a read-only look at the data at T before restoring
    preview_minutes: float = 0  # a preview's time-to-live

    def __init__(self, key: str, **options):
        self.key = key

    # Reads
    def list_server_groups(self) -> list[ServerGroup]:
        raise NotImplementedError

    def get_server_group(self, group_id: str) -> ServerGroup:
        raise NotImplementedError

    def find_server_group(self, name: str) -> ServerGroup:
        """The group called ``name``: names are unique within a backend, so URLs use them."""
        for group in self.list_server_groups():
            if group.name == name:
                return self.get_server_group(group.id)
        raise NotFound(f"There is no server group named '{name}' in {self.label}.")

    def restore_window(self, group_id: str) -> RestoreWindow:
        raise NotImplementedError

    # The cloud's rule for a new group's name: its longest name (at most NAME_MAX_LENGTH)
    # and the rule in words, which the wizard shows as the name field's limit and help.
    name_max_length = NAME_MAX_LENGTH
    name_rule_text = ""

    def name_problem(self, name: str) -> str | None:
        """Why this cloud would refuse ``name`` for a new group, without asking it; else None.

        Each cloud has one rule, its API's own, and says it in ``name_rule_text``; a
        backend without one creates no groups.
        """
        return f"The {self.label} backend does not create server groups."

    def name_available(self, name: str) -> str | None:
        """None when ``name`` may be used for a new group, else why not."""
        raise NotImplementedError

    def name_available_in(self, name: str, location: str) -> str | None:
        """``name_available`` for a new group in ``location`` (a cloud whose names are
        unique per region asks there)."""
        return self.name_available(name)

    def restore_blocker(self, group: ServerGroup) -> str | None:
        """None when ``group`` can be restored now, else one line saying why not."""
        if not self.can_restore:
            return f"The {self.label} backend cannot restore server groups."
        if not group.is_ready:
            return f"The server group is {group.status.lower()}, not ready."
        if not group.has_backup:
            return "The server group has no completed backup yet."
        return None

    def restore_choices(self, group: ServerGroup) -> tuple[str, ...]:
        """The restore choices this cloud offers for ``group``, in the order shown."""
        return ("earliest", "custom")

    def restore_backups(self, group_id: str) -> list[BackupPoint]:
        """Full backups to restore to (a "fast restore point"), newest first."""
        raise self.unsupported("fast restore points")

    def refresh(self) -> None:
        """Forget anything cached, so the next read asks the cloud."""

    # Restores
    def restore_estimate(
        self, group_id: str, choice: str, point: datetime | None
    ) -> RestoreEstimate | None:
        """How long restoring ``group_id`` to ``choice``/``point`` will take, said before
        OK; None when this cloud gives no estimate."""
        return None

    def begin_restore(self, request: RestoreRequest) -> str:
        raise NotImplementedError

    def wait_restore(self, token: str, progress: ProgressCallback) -> RestoreResult:
        raise NotImplementedError

    def abandon_restore(self, token: str) -> str:
        """Remove what an interrupted restore left; returns what was cleaned up."""
        return ""

    can_cancel = False  # an operator may stop a running restore

    def cancel_restore(self, token: str) -> str:
        """Ask the restore of ``token`` to stop; ``wait_restore`` then raises and
        ``abandon_restore`` removes what it made. Returns what was done."""
        raise BackendError(f"The {self.label} backend cannot cancel a running restore.")

    # Finding the right moment: the WAL's events, and a preview of the data at T.
    def restore_timeline(self, group_id: str, window: RestoreWindow) -> Timeline:
        raise self.unsupported("a timeline of WAL events")

    def refresh_timeline(self, group_id: str) -> None:
        """Index the WAL archived since the last pass, now."""
        raise self.unsupported("a timeline of WAL events")

    def timeline_refresh_start(self, group_id: str) -> str:
        """Make the newest WAL indexable and index it in the background; returns at once
        with a token for ``timeline_refresh_state``."""
        raise self.unsupported("a timeline of WAL events")

    def timeline_refresh_state(self, group_id: str, token: str) -> tuple[bool, str]:
        """(finished, why it failed, "" when it did not) of the background pass that
        ``timeline_refresh_start`` returned ``token`` for."""
        raise self.unsupported("a timeline of WAL events")

    def preview_start(self, group_id: str, point: datetime, node: str) -> PreviewInfo:
        raise self.unsupported("previews")

    def preview_status(self, preview_id: str) -> PreviewInfo:
        raise self.unsupported("previews")

    def preview_tables(self, preview_id: str) -> list[PreviewTable]:
        raise self.unsupported("previews")

    def preview_query(
        self, preview_id: str, sql: str, *, limit: int, timeout: float
    ) -> PreviewRows:
        raise self.unsupported("previews")

    def preview_compare(self, preview_id: str) -> list[PreviewComparison]:
        """Compare with now: the preview's tables beside the same tables in the running
        source, each table of either side once."""
        raise self.unsupported("previews")

    def preview_close(self, preview_id: str) -> bool:
        """Tear the preview down; False when it was already gone."""
        raise self.unsupported("previews")

    # Post-restore tasks: a backend that lacks one says so in words, never a traceback.
    def unsupported(self, what: str) -> BackendError:
        return BackendError(f"The {self.label} backend does not manage {what}.")

    def firewall_rules(self, group_id: str) -> list[FirewallRule]:
        raise self.unsupported("firewall rules")

    def parameters(self, group_id: str) -> list[Parameter]:
        """The curated, non-default server parameters of the group."""
        raise self.unsupported("server parameters")

    def roles(self, group_id: str) -> list[str]:
        raise self.unsupported("roles")

    def copy_firewall_rules(self, source_id: str, target_id: str) -> CopyResult:
        raise self.unsupported("firewall rules")

    def copy_parameters(self, source_id: str, target_id: str) -> CopyResult:
        raise self.unsupported("server parameters")

    def alerts_url(self, group_id: str) -> str:
        return ""

    # A group's blade: its settings pages and Delete. The defaults say in words what a
    # backend cannot do, so every page renders for every cloud.
    can_delete = False
    can_edit_settings = False  # firewall rules and server parameters

    def delete_blocker(self, group: ServerGroup) -> str | None:
        """None when ``group`` may be deleted from the portal now, else why not."""
        if not self.can_delete:
            return (
                f"Deleting server groups is not supported from this portal for the "
                f"{self.label} backend: delete it in the cloud's own portal or CLI."
            )
        return None

    def delete_server_group(self, group_id: str) -> None:
        raise BackendError(
            f"Deleting server groups is not supported from this portal for the "
            f"{self.label} backend: delete it in the cloud's own portal or CLI."
        )

    def backups(self, group_id: str) -> list[BaseBackup]:
        """Retained base backups, every node, oldest first."""
        raise self.unsupported("a list of base backups")

    def connection_info(self, group_id: str) -> ConnectionInfo:
        """The coordinator's endpoint; clouds require TLS, so ``sslmode=require``."""
        group = self.get_server_group(group_id)
        if not group.coordinator_host:
            raise BackendError(f"{group.name} has no coordinator endpoint yet.")
        return ConnectionInfo(
            host=group.coordinator_host,
            port=group.coordinator_port or 5432,
            database=group.database or "postgres",
            user=group.admin_user or "citus",
            sslmode="require",
        )

    def admin_password(self, group_id: str) -> str:
        raise BackendError(f"The {self.label} backend does not reveal passwords.")

    def parameter_catalog(self, group_id: str) -> list[Parameter]:
        """Every parameter the portal may change on the group, with its current value."""
        raise self.unsupported("server parameters")

    def set_firewall_rule(self, group_id: str, rule: FirewallRule) -> None:
        """Add ``rule``, or replace the rule of the same name."""
        raise self.unsupported("firewall rule changes")

    def delete_firewall_rule(self, group_id: str, name: str) -> None:
        raise self.unsupported("firewall rule changes")

    def set_parameter(self, group_id: str, name: str, value: str) -> bool:
        """Set one parameter on every node; True when a restart is needed to apply it."""
        raise self.unsupported("server parameter changes")

    def manual_tasks(self, group_id: str) -> list[tuple[str, str]]:
        """Post-restore tasks the portal cannot do for you: (what, link to the cloud's page)."""
        return []

    def check(self) -> list[str]:
        """Problems with the configuration, for the portal to show (empty when fine)."""
        return []

    # Restore drills. A cloud restore creates a server that is billed while it exists, so
    # drills of such a backend's groups are off until an operator accepts the cost.
    restores_cost_money = True

    @property
    def can_delete_scratch(self) -> bool:
        """Whether a drill's scratch group can be removed afterwards (a cloud that refuses
        a DBA's Delete may still remove those, by their reserved names only)."""
        return self.can_delete

    def delete_scratch_group(self, source_id: str, name: str, token: str) -> str:
        """Remove the scratch group ``name`` a drill of ``source_id`` restored into with
        ``token`` (from ``begin_restore``), whatever state it is in, and wait until it is
        gone; returns what was done. Any name but a drill's reserved one is refused."""
        problem = not_scratch(name)
        if problem:
            raise BackendError(problem)
        said = self.abandon_restore(token) if token else ""
        try:
            group = self.find_server_group(name)
        except NotFound:
            return said or f"Nothing was left of the scratch server group {name}."
        self.delete_server_group(group.id)
        return f"{said} Deleted the scratch server group {name}.".strip()

    # Restore drills: direct connections to a node, for the drill's checks only.
    def check_connection(self, group_id: str, node: str, *, superuser: bool = False):
        """A context manager yielding an autocommit psycopg connection to ``node``'s
        database: as the group's admin role, or (``superuser``) as a superuser, which
        drills use on their own scratch groups only (``CREATE EXTENSION amcheck``).
        A backend that cannot reach its servers directly raises ``BackendError``."""
        raise BackendError(
            f"The portal cannot connect to {self.label} servers directly, so it cannot "
            "run the checks on them."
        )
