"""The shapes of the catalog's records (``catalog.json``), as the engine reads and
writes them. Plain JSON: times are ISO 8601 text in UTC (``model.format_time``), and
``model`` turns a record into the frozen view the engine answers with.

Keys marked ``NotRequired`` are missing from records written by earlier versions, or
present only in some states (``restore`` while a restore runs, ``owner`` while a live
process creates or restores the group).
"""

from __future__ import annotations

from enum import StrEnum
from typing import NotRequired, TypedDict


class GroupStatus(StrEnum):
    """A group's status as the catalog stores it (``Unavailable`` is only ever shown:
    a Ready group of which a node does not run)."""

    PROVISIONING = "Provisioning"
    RESTORING = "Restoring"
    READY = "Ready"
    STOPPED = "Stopped"
    DELETING = "Deleting"
    UNAVAILABLE = "Unavailable"


# Made or removed by a process that may have died (``Engine.clean_stale``).
UNFINISHED = (GroupStatus.PROVISIONING, GroupStatus.RESTORING, GroupStatus.DELETING)


class Owner(TypedDict):
    """The process doing a piece of work (``proc.owner_record``)."""

    pid: int
    start: str | None
    host: str


class BackupRecord(TypedDict):
    id: str
    start_time: str
    end_time: str
    timeline: int
    start_lsn: str
    end_lsn: str
    start_wal: str
    size: int
    adopted_from: NotRequired[dict[str, str]]  # {"node", "backup"}: hard links to it


class NodeRecord(TypedDict):
    name: str  # "coordinator", "worker-1", ...
    role: str  # "coordinator" or "worker"
    port: int
    compression: str  # the archive's file extension: "zst" or "gz"
    backups: list[BackupRecord]
    last_commit: str | None  # when stopped (and sealed): its last commit


class FirewallRuleRecord(TypedDict):
    name: str
    start_ip: str
    end_ip: str


class RestoreState(TypedDict, total=False):
    """A restore in progress into the group."""

    began_at: str
    latest: bool
    cancelled_at: str


class GroupRecord(TypedDict):
    name: str
    uid: str  # immutable, unlike the name
    os_user: NotRequired[str | None]
    os_group: NotRequired[str | None]
    security: NotRequired[int]  # roles.VERSION it was secured to
    subscription: str
    resource_group: str
    location: str
    database: str
    admin_user: str
    admin_password: str
    tags: dict[str, str]
    created_at: str
    desired: str  # "running" or "stopped"
    status: str  # a GroupStatus
    owner: NotRequired[Owner | None]
    firewall_rules: list[FirewallRuleRecord]
    parameters: dict[str, str]  # those away from their defaults
    nodes: list[NodeRecord]
    restored_from: NotRequired[str]
    restored_from_uid: NotRequired[str | None]
    restore_point: NotRequired[str]
    restore: NotRequired[RestoreState]


class PreviewRecord(TypedDict):
    id: str
    group: str
    node: str
    point: str
    port: int
    os_user: str | None
    os_group: str | None
    created_at: str
    expires_at: str
    phase: str  # "creating", "started", "ready" or "failed"
    owner: NotRequired[Owner]
    backup: str
    replay_until: str | None
    message: str
    ready_at: NotRequired[str]


class CatalogData(TypedDict):
    version: int
    groups: dict[str, GroupRecord]
    previews: NotRequired[dict[str, PreviewRecord]]
