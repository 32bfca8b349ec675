"""The WAL event index: destructive transactions and activity found in archived WAL.

(Skeleton: to be written.) Reads each node's archive with ``pg_waldump``,
incrementally, into an SQLite index beside the catalog.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .model import EventIndex

if TYPE_CHECKING:
    from .engine import Engine


def index_group(engine: Engine, name: str) -> int:
    raise NotImplementedError


def read_group(
    engine: Engine, name: str, start: datetime | None, end: datetime | None
) -> EventIndex:
    raise NotImplementedError


def forget(engine: Engine, name: str) -> None:
    """Drop everything the index holds of group ``name`` (it is being deleted)."""
    raise NotImplementedError
