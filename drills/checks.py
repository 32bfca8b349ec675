"""The checks a drill runs on every node of its scratch group, and the evidence it keeps.

Per node: reachable and out of recovery; the recovered point is right (no row committed
after T, and the last commit at or before T that the source still shows is present),
read from commit timestamps (localcloud runs with ``track_commit_timestamp = on``);
``bt_index_check`` over every B-tree index; row counts per table. Per group, on the
coordinator: the DBA's SQL assertions, each one query that must return true, run as
the group's admin role in a read-only transaction with a statement timeout.

The portal's own queries run as a superuser: on the scratch group (which the drill
created and removes), and read-only on the source. A DBA's assertion never does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from django.conf import settings
from psycopg import sql as pgsql

from portal.backends import BackendError
from portal.backends.base import Backend

TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1, 2
"""
BTREES = """
SELECT c.oid, c.oid::regclass::text FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
WHERE a.amname = 'btree' AND c.relpersistence <> 't' AND i.indisvalid AND i.indisready
ORDER BY 2
"""


@dataclass
class Found:
    nodes: dict = field(default_factory=dict)
    row_counts: dict = field(default_factory=dict)


def run_all(backend: Backend, drill, evidence, plan) -> Found:
    """Every check on every node of ``drill``'s scratch group; results go to ``evidence``."""
    found = Found()
    scratch = backend.find_server_group(drill.scratch_name)
    used = backups_used(backend, drill)
    for node in scratch.nodes:
        found.nodes[node.name] = dict(used.get(node.name, {}))
        try:
            with backend.check_connection(scratch.id, node.name, superuser=True) as conn:
                node_checks(conn, node.name, drill.point, evidence, found)
                found.nodes[node.name]["wal_bytes"] = wal_replayed(
                    conn, used.get(node.name, {}).get("start_lsn", "")
                )
        except BackendError as error:
            evidence.check(node.name, "reachable", None, f"The checks did not run: {error}")
            continue
        source_checks(backend, drill, node.name, evidence, found)
        found.nodes[node.name].pop("start_lsn", None)
    coordinator = next((n.name for n in scratch.nodes if n.role == "coordinator"), None)
    for assertion in plan.assertion_list if coordinator else []:
        assertion_check(backend, scratch.id, coordinator, assertion, evidence)
    return found


def backups_used(backend: Backend, drill) -> dict[str, dict]:
    """Per node, the source's newest backup ending at or before T (the engine's choice)."""
    used: dict[str, dict] = {}
    try:
        backups = backend.backups(drill.source_id)
    except BackendError:
        return used
    for backup in backups:
        if backup.end_time <= drill.point:
            used[backup.node] = {
                "backup": backup.id,
                "backup_end": backup.end_time.isoformat(),
                "bytes_restored": backup.size,
                "start_lsn": backup.start_lsn,
            }
    return used


def node_checks(conn, node: str, point: datetime, evidence, found: Found) -> None:
    in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    evidence.check(
        node,
        "reachable and out of recovery",
        not in_recovery,
        "still in recovery" if in_recovery else "accepts connections, promoted",
    )
    counts, latest = table_scan(conn, None)
    found.row_counts[node] = counts
    found.nodes[node]["last_commit"] = latest.isoformat() if latest else ""
    after = latest is not None and latest > point
    evidence.check(
        node,
        "no commit after T",
        not after,
        f"last commit {latest.isoformat() if latest else 'none'}, T {point.isoformat()}",
    )
    amcheck(conn, node, evidence)


def table_scan(conn, until: datetime | None) -> tuple[dict[str, int], datetime | None]:
    """Rows per table and the newest commit time of a row (at or before ``until``)."""
    counts: dict[str, int] = {}
    newest = None
    for schema, table in conn.execute(TABLES).fetchall():
        stamp = pgsql.SQL("pg_xact_commit_timestamp(xmin)")
        newest_sql = (
            pgsql.SQL("max({s}) FILTER (WHERE {s} <= {t})").format(s=stamp, t=pgsql.Literal(until))
            if until
            else pgsql.SQL("max({s})").format(s=stamp)
        )
        rows, latest = conn.execute(
            pgsql.SQL("SELECT count(*), {n} FROM {t}").format(
                n=newest_sql, t=pgsql.Identifier(schema, table)
            )
        ).fetchone()
        counts[f"{schema}.{table}"] = rows
        if latest is not None and (newest is None or latest > newest):
            newest = latest
    return counts, newest


def source_checks(backend: Backend, drill, node: str, evidence, found: Found) -> None:
    """The last commit at or before T that the source still holds must be restored."""
    try:
        with backend.check_connection(drill.source_id, node, superuser=True) as conn:
            conn.execute("BEGIN READ ONLY")
            _, expected = table_scan(conn, drill.point)
            conn.execute("ROLLBACK")
    except (BackendError, psycopg.Error) as error:
        evidence.check(node, "last commit at or before T present", None, f"not checked: {error}")
        return
    restored = found.nodes[node].get("last_commit") or ""
    present = expected is None or (bool(restored) and datetime.fromisoformat(restored) >= expected)
    evidence.check(
        node,
        "last commit at or before T present",
        present,
        f"source's last commit at or before T {expected.isoformat() if expected else 'none'}, "
        f"restored {restored or 'none'}",
    )


def amcheck(conn, node: str, evidence) -> None:
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    except psycopg.Error as error:
        # A cloud allows only listed extensions (Azure: azure.extensions).
        message = (error.diag.message_primary or str(error)).strip()
        evidence.check(node, "amcheck bt_index_check", None, f"amcheck is not available: {message}")
        return
    indexes = conn.execute(BTREES).fetchall()
    broken = []
    for oid, name in indexes:
        try:
            conn.execute("SELECT bt_index_check(%s::regclass)", (oid,))
        except psycopg.Error as error:
            broken.append(f"{name}: {(error.diag.message_primary or str(error)).strip()}")
    evidence.check(
        node,
        "amcheck bt_index_check",
        not broken,
        "; ".join(broken) if broken else f"{len(indexes)} B-tree indexes checked, none corrupt",
    )


def wal_replayed(conn, start_lsn: str) -> int | None:
    """Bytes of WAL from the backup's start to the switch to the new timeline."""
    if not start_lsn:
        return None
    timeline = conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()[0]
    switch = None
    if timeline > 1:
        try:
            history = conn.execute(
                "SELECT pg_read_file(%s)", (f"pg_wal/{timeline:08X}.history",)
            ).fetchone()[0]
            switch = history.strip().splitlines()[-1].split()[1]
        except (psycopg.Error, IndexError):
            switch = None
    if switch is None:
        switch = conn.execute("SELECT redo_lsn::text FROM pg_control_checkpoint()").fetchone()[0]
    return int(
        conn.execute(
            "SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)", (switch, start_lsn)
        ).fetchone()[0]
    )


def assertion_check(backend: Backend, group_id: str, node: str, text: str, evidence) -> None:
    """One DBA assertion: one query, as the admin role, read-only, with a timeout."""
    timeout_ms = max(1, int(settings.PORTAL_DRILL_ASSERTION_TIMEOUT_SECONDS * 1000))
    try:
        with backend.check_connection(group_id, node) as conn:
            conn.execute("BEGIN READ ONLY")
            conn.execute(
                pgsql.SQL("SET LOCAL statement_timeout = {}").format(pgsql.Literal(timeout_ms))
            )
            cursor = conn.cursor()
            # prepare=True: the extended protocol refuses more than one statement.
            cursor.execute(text, prepare=True)
            row = cursor.fetchone()
            conn.execute("ROLLBACK")
    except BackendError as error:
        evidence.check(node, f"assertion: {text}", None, f"not run: {error.message}")
        return
    except psycopg.Error as error:
        message = (error.diag.message_primary or str(error)).strip()
        evidence.check(node, f"assertion: {text}", False, f"error: {message}")
        return
    value = row[0] if row else None
    evidence.check(
        node, f"assertion: {text}", value is True, f"returned {value!r}" if row else "no row"
    )
