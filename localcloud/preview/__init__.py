"""Previews: a temporary read-only recovery of one node at T, to look at before restoring.

- ``lifecycle``: start, status and teardown (close, expiry) of a preview's server;
- ``tables``: the tables the preview holds, with their row counts;
- ``compare``: those tables beside the same tables in the running source now;
- ``query``: the one read-only query path, whose safety can be reviewed on its own.

The functions here are what the engine calls; each takes the engine first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotReady
from ..model import PreviewTable, QueryResult, TableComparison
from . import compare, lifecycle, query, tables
from .lifecycle import (
    close,
    close_all,
    close_for_group,
    list_all,
    preview_node,
    previews_dir,
    start,
    status,
    sweep,
)
from .query import MAX_BYTES, ONE_QUERY

if TYPE_CHECKING:
    from ..layout import Layout

__all__ = [
    "MAX_BYTES",
    "ONE_QUERY",
    "close",
    "compare_with_now",
    "close_all",
    "close_for_group",
    "list_all",
    "preview_node",
    "previews_dir",
    "run_query",
    "start",
    "status",
    "sweep",
    "table_rows",
]


def table_rows(engine: Layout, preview_id: str) -> list[PreviewTable]:
    """The user tables of the group's database at T with their row counts."""
    record, server = lifecycle.ready(engine, preview_id)
    database = engine.catalog.group(record["group"])["database"]
    return tables.count(server, database)


def compare_with_now(engine: Layout, preview_id: str) -> list[TableComparison]:
    """The preview's tables at T beside the same node's tables now, counted the same way."""
    record, server = lifecycle.ready(engine, preview_id)
    group = engine.catalog.group(record["group"])
    at_point = tables.count(server, group["database"])
    source_records = [node for node in group["nodes"] if node["name"] == record["node"]]
    source = engine.node(group, source_records[0]) if source_records else None
    if source is None or not source.is_running():
        raise NotReady(
            f"{record['group']}/{record['node']} is not running: there are no counts of now "
            "to compare with. Start the server group to compare."
        )
    now = tables.count(source, group["database"], what=f"{record['group']}/{record['node']}")
    return compare.compare(at_point, now)


def run_query(
    engine: Layout, preview_id: str, sql: str, *, limit: int, timeout: float
) -> QueryResult:
    """Run ONE read-only query in a ready preview (see ``query.run``: the checks of its safety)."""
    query.check(sql, limit=limit, timeout=timeout)
    record, server = lifecycle.ready(engine, preview_id)
    group = engine.catalog.group(record["group"])
    return query.run(server, group, sql, limit=limit, timeout=timeout)
