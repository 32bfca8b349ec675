"""Previews: a temporary read-only recovery of one node paused at T.

(Skeleton: to be written.)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .model import Preview, PreviewTable, QueryResult

if TYPE_CHECKING:
    from .engine import Engine


def start(engine: Engine, name: str, point: datetime, node: str, ttl: timedelta) -> Preview:
    raise NotImplementedError


def status(engine: Engine, preview_id: str) -> Preview:
    raise NotImplementedError


def tables(engine: Engine, preview_id: str) -> list[PreviewTable]:
    raise NotImplementedError


def query(engine: Engine, preview_id: str, sql: str, *, limit: int, timeout: float) -> QueryResult:
    raise NotImplementedError


def close(engine: Engine, preview_id: str) -> bool:
    raise NotImplementedError


def list_all(engine: Engine) -> list[Preview]:
    raise NotImplementedError


def sweep(engine: Engine, now: datetime) -> list[str]:
    raise NotImplementedError


def close_for_group(engine: Engine, name: str) -> list[str]:
    """Close every preview of group ``name`` (it is being deleted); returns their ids."""
    raise NotImplementedError
