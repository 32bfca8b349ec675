"""The restore window of a group, the one check of a point against it, and the choice
of the base backup a point is recovered from. Read by the restore, the preview and
the WAL event index alike, so that they agree on which points exist.

The window opens at the earliest point every node can reach: per node its oldest
backup's end, the latest of those over the nodes (T earlier than the chosen backup's
end makes PostgreSQL succeed silently with later data, so that is refused here). It
closes now for a running group, and at its last archived commit for a stopped one
(the group was sealed when it stopped: nothing later exists).
"""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import NotReady, OutsideWindow
from .model import format_time, parse_time, utcnow
from .records import BackupRecord, GroupRecord, GroupStatus, NodeRecord


def earliest_point(group: GroupRecord) -> datetime | None:
    """The earliest point every node of ``group`` can be restored to, whatever its
    status; None while a node has no backup."""
    if not group["nodes"] or not all(record["backups"] for record in group["nodes"]):
        return None
    return max(
        min(parse_time(b["end_time"]) for b in record["backups"]) for record in group["nodes"]
    )


def restore_window(group: GroupRecord) -> tuple[datetime, datetime]:
    """(earliest, latest) restore point of the group ``group`` (its catalog record),
    UTC, both inclusive; raises ``NotReady`` when it has none."""
    name = group["name"]
    if group["status"] not in (GroupStatus.READY, GroupStatus.STOPPED):
        raise NotReady(f"Server group '{name}' is {group['status'].lower()}, not ready.")
    earliest = earliest_point(group)
    if earliest is None:
        raise NotReady(f"Server group '{name}' has no completed backup yet.")
    if group["status"] == GroupStatus.READY:
        return earliest, utcnow()
    lasts = [parse_time(record["last_commit"]) for record in group["nodes"]]
    known = [moment for moment in lasts if moment is not None]
    return earliest, max(known + [earliest])


def check_point(group: GroupRecord, point: datetime | None) -> datetime:
    """The point to restore ``group`` to, UTC (None: the earliest); raises
    ``OutsideWindow`` unless it is an aware time inside the window."""
    earliest, latest = restore_window(group)
    if point is None:
        return earliest
    if point.tzinfo is None or point.utcoffset() is None:
        raise OutsideWindow(
            f"The restore point {point.isoformat()} has no UTC offset; "
            "write it with Z or +00:00 so it cannot be read as local time."
        )
    point = point.astimezone(UTC)
    name = group["name"]
    if point < earliest:
        raise OutsideWindow(
            f"The restore point {format_time(point)} is before the earliest restore point "
            f"of '{name}', {format_time(earliest)}."
        )
    if point > latest:
        what = (
            "in the future"
            if group["status"] == GroupStatus.READY
            else "after the last archived commit"
        )
        raise OutsideWindow(
            f"The restore point {format_time(point)} is {what}; the latest restore point "
            f"of '{name}' is {format_time(latest)}."
        )
    return point


def chosen_backup(node: NodeRecord, point: datetime) -> BackupRecord:
    """The newest backup of the node ``node`` (its catalog record) that ends at or
    before ``point``: recovery starts from it."""
    usable = [b for b in node["backups"] if parse_time(b["end_time"]) <= point]
    if not usable:
        raise OutsideWindow(f"No backup of node {node['name']} ends before {format_time(point)}.")
    return max(usable, key=lambda b: b["end_time"])


def replays_to_end(group: GroupRecord, node: NodeRecord, point: datetime) -> bool:
    """Whether recovery of ``node`` to ``point`` must replay its whole archive: a
    stopped, sealed node has no commit after its last one, so at or after it there is
    no commit past T to stop at."""
    last_commit = parse_time(node.get("last_commit"))
    return (
        group["status"] == GroupStatus.STOPPED and last_commit is not None and point >= last_commit
    )
