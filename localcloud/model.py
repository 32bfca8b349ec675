"""What the engine answers: frozen views of catalog records, UTC-aware datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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

    @property
    def coordinator(self) -> NodeInfo:
        return self.nodes[0]

    @property
    def has_backup(self) -> bool:
        return bool(self.nodes) and all(node.backups for node in self.nodes)

    @property
    def earliest_restore(self) -> datetime | None:
        if not self.has_backup:
            return None
        return max(min(b.end_time for b in node.backups) for node in self.nodes)
