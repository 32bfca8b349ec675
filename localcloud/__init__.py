"""localcloud: real PostgreSQL 15 server groups on this machine, with continuous
archiving, base backups, retention and point-in-time restore. Imports no Django."""

from .engine import Engine
from .errors import (
    Busy,
    InvalidName,
    LocalCloudError,
    NameTaken,
    NodeFailed,
    NotFound,
    NotReady,
    OutsideWindow,
    RestoreCancelled,
    RestoreFailed,
)
from .model import Backup, FirewallRule, Group, NodeInfo
from .records import GroupStatus

__all__ = [
    "Backup",
    "Busy",
    "Engine",
    "FirewallRule",
    "Group",
    "GroupStatus",
    "InvalidName",
    "LocalCloudError",
    "NameTaken",
    "NodeFailed",
    "NodeInfo",
    "NotFound",
    "NotReady",
    "OutsideWindow",
    "RestoreCancelled",
    "RestoreFailed",
]
