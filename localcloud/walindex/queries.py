"""The read side of the WAL event index: what the restore wizard's timeline and the
CLI ask for. Only reads; a missing or half-made index reads as empty."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from ..model import Activity, EventIndex, WalEvent
from .store import index_path
from .waldump import EPOCH, format_lsn, from_micros, to_micros


def _activity(rows: list[tuple[str, int, int, int]]) -> tuple[Activity, ...]:
    """Activity rows (node, minute number, commits, rows), sorted by minute, as objects.

    A week of minutes on three nodes is 30,000 of them, so this skips what costs most:
    the frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field) and a
    datetime per row (consecutive rows share their minute).
    """
    made = []
    append = made.append
    new = object.__new__
    last = None
    moment = EPOCH
    for node, minute, commits, changed in rows:
        if minute != last:
            last = minute
            moment = EPOCH + timedelta(minutes=minute)
        item = new(Activity)
        item.__dict__.update(node=node, minute=moment, commits=commits, rows=changed)
        append(item)
    return tuple(made)


def read_group(
    root: Path,
    name: str,
    nodes: list[str],
    start: datetime | None,
    end: datetime | None,
    step: timedelta | None = None,
) -> EventIndex:
    """Events and activity of ``name`` between ``start`` and ``end`` (inclusive; None:
    unbounded), and per node of ``nodes`` the last commit time indexed. Only reads.

    With ``step`` (whole minutes, and a ``start``), activity comes summed over every
    node in buckets of ``step`` from ``start`` (node ""): a week is then a few hundred
    rows, not one per node and minute."""
    path = index_path(root)
    empty = EventIndex(events=(), activity=(), indexed_until=dict.fromkeys(nodes))
    if not path.exists():
        return empty
    low = to_micros(start) if start is not None else -(1 << 62)
    high = to_micros(end) if end is not None else 1 << 62
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return empty
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        event_rows = conn.execute(
            "SELECT node, kind, commit_time, database, relations, rows, xid, lsn,"
            " timeline FROM events WHERE grp = ? AND commit_time BETWEEN ? AND ?"
            " ORDER BY commit_time, node, lsn, kind",
            (name, low, high),
        ).fetchall()
        if step is not None and start is not None:
            first, width = low // 60_000_000, max(1, int(step.total_seconds() // 60))
            activity_rows = conn.execute(
                "SELECT '', ? + ((minute - ?) / ?) * ? AS bucket, sum(commits), sum(rows)"
                " FROM activity WHERE grp = ? AND minute BETWEEN ? AND ?"
                " GROUP BY bucket ORDER BY bucket",
                (first, first, width, width, name, first, high // 60_000_000),
            ).fetchall()
        else:
            activity_rows = conn.execute(
                "SELECT node, minute, commits, rows FROM activity"
                " WHERE grp = ? AND minute BETWEEN ? AND ? ORDER BY minute, node",
                (name, low // 60_000_000, high // 60_000_000),
            ).fetchall()
        until = conn.execute(
            "SELECT node, max(last_commit) FROM streams WHERE grp = ? GROUP BY node", (name,)
        ).fetchall()
    except sqlite3.OperationalError:
        return empty  # created but not yet initialised by an indexer
    finally:
        conn.close()
    events = tuple(
        WalEvent(
            node=node,
            kind=kind,
            commit_time=from_micros(commit_time),
            # Just before, for the whole group: the instant before the commit (an index
            # written before this rule holds the node's previous commit in its column).
            before=from_micros(commit_time - 1),
            database=database,
            relations=tuple(json.loads(relations)),
            rows=rows,
            xid=xid,
            lsn=format_lsn(lsn),
            timeline=timeline,
        )
        for node, kind, commit_time, database, relations, rows, xid, lsn, timeline in event_rows
    )
    activity = _activity(activity_rows)
    indexed_until = dict.fromkeys(nodes)
    for node, last in until:
        indexed_until[node] = from_micros(last) if last is not None else None
    return EventIndex(events=events, activity=activity, indexed_until=indexed_until)
