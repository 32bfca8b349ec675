"""What a preview holds: the user tables of the group's database at T with their row
counts, read on the preview's server as the superuser (no user SQL runs here)."""

from __future__ import annotations

import contextlib
import time

import psycopg
from psycopg import sql as pgsql

from ..errors import NotReady
from ..model import PreviewTable
from ..node import Node

MAX_TABLES = 200
COUNT_TIMEOUT_MS = 500  # per exact count(*); past it the planner's estimate is shown
COUNT_BUDGET = 5.0  # seconds for all exact counts together

TABLES = """
SELECT n.nspname, c.relname, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
ORDER BY n.nspname, c.relname
LIMIT %s
"""


def count(server: Node, database: str) -> list[PreviewTable]:
    """The user tables of ``database`` on ``server`` with their row counts: exact when
    counting takes little time, else the planner's estimate (``exact=False``)."""
    found = []
    try:
        with server.connect(database) as conn:
            rows = conn.execute(TABLES, (MAX_TABLES,)).fetchall()
            conn.execute(f"SET statement_timeout = {COUNT_TIMEOUT_MS}")
            deadline = time.monotonic() + COUNT_BUDGET
            for schema, name, estimate in rows:
                rows_now = None
                if time.monotonic() < deadline:
                    query = pgsql.SQL("SELECT count(*) FROM {}.{}").format(
                        pgsql.Identifier(schema), pgsql.Identifier(name)
                    )
                    # Too slow, or an unpopulated materialized view: the estimate.
                    with contextlib.suppress(psycopg.errors.Error):
                        rows_now = conn.execute(query).fetchone()[0]
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        conn.rollback()
                exact = rows_now is not None
                found.append(
                    PreviewTable(schema, name, rows_now if exact else max(estimate, 0), exact)
                )
    except psycopg.OperationalError as error:
        raise NotReady(f"The preview cannot be reached: {error}") from error
    return found
