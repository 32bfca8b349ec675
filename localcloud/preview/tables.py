"""What a preview holds: the user tables of the group's database at T with their row
counts, read on the preview's server as the superuser (no user SQL runs here).

Every table is counted exactly (``count(*)``), unless its data is larger than
``EXACT_UP_TO``: then the planner's estimate is given, and said to be one, with the size.
A table that cannot be counted says why.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql as pgsql

from ..errors import NotReady
from ..model import PreviewTable
from ..node import Node

MAX_TABLES = 200
EXACT_UP_TO = 512 << 20  # bytes of a table's data counted exactly; past it, the estimate
COUNT_TIMEOUT_MS = 10_000  # per exact count(*)
COUNT_BUDGET = 20.0  # seconds for all exact counts together; past it, estimates

TABLES = """
SELECT n.nspname, c.relname, c.reltuples::bigint, c.relpersistence,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)::bigint
                  FROM pg_partition_tree(c.oid) t)
            ELSE pg_relation_size(c.oid) END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
ORDER BY n.nspname, c.relname
LIMIT %s
"""


def size_text(size: int) -> str:
    """Bytes as a DBA reads them: 512 MB, 1.5 GB."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("bytes", "kB") else f"{value:.3g} {unit}"
        value /= 1024
    return f"{size} bytes"


def count(server: Node, database: str, *, what: str = "The preview") -> list[PreviewTable]:
    """The user tables of ``database`` on ``server`` (partitioned tables once, with all
    their partitions) with their row counts; ``what`` names the server in an error."""
    found = []
    try:
        with server.connect(database) as conn:
            listed = conn.execute(TABLES, (MAX_TABLES,)).fetchall()
            conn.execute(f"SET statement_timeout = {COUNT_TIMEOUT_MS}")
            # A preview at T has no lock of a transaction open at T (it is promoted):
            # a lock here would be a bug, and is said as such rather than waited for.
            conn.execute("SET lock_timeout = 2000")
            deadline = time.monotonic() + COUNT_BUDGET
            for schema, name, estimate, persistence, size in listed:
                found.append(_count_one(conn, schema, name, estimate, persistence, size, deadline))
    except psycopg.OperationalError as error:
        raise NotReady(f"{what} cannot be reached: {error}") from error
    return found


def _count_one(conn, schema, name, estimate, persistence, size, deadline) -> PreviewTable:
    guess = estimate if estimate is not None and estimate >= 0 else None
    if size > EXACT_UP_TO:
        return PreviewTable(
            schema, name, guess, False, size,
            f"estimate: {size_text(size)}, larger than the {size_text(EXACT_UP_TO)} counted "
            "exactly",
        )  # fmt: skip
    if time.monotonic() >= deadline:
        return PreviewTable(
            schema, name, guess, False, size,
            f"estimate: counting every table took more than {COUNT_BUDGET:g} s",
        )  # fmt: skip
    query = pgsql.SQL("SELECT count(*) FROM {}.{}").format(
        pgsql.Identifier(schema), pgsql.Identifier(name)
    )
    try:
        rows = conn.execute(query).fetchone()[0]
    except psycopg.errors.QueryCanceled:
        why = f"counting took more than {COUNT_TIMEOUT_MS / 1000:g} s"
        return PreviewTable(schema, name, guess, False, size, f"estimate: {why}")
    except psycopg.errors.LockNotAvailable:
        return PreviewTable(schema, name, None, False, size, "cannot be read: it is locked")
    except psycopg.errors.ObjectNotInPrerequisiteState as error:
        # An unpopulated materialized view: the restore has it unpopulated too.
        return PreviewTable(schema, name, None, False, size, f"cannot be read: {error}")
    except psycopg.Error as error:
        if conn.broken:
            raise
        message = error.diag.message_primary or str(error).strip()
        return PreviewTable(schema, name, None, False, size, f"cannot be read: {message}")
    finally:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
    note = "unlogged: a restore brings it back empty" if persistence == "u" else ""
    return PreviewTable(schema, name, rows, True, size, note)
