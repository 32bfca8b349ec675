"""How long a restore to T will take, before it starts.

Per node, what the restore will do (``restore.py``): unpack the newest backup that ends
at or before T, then replay the archived WAL from the backup's start to where recovery
to T stops. Recovery stops before the first commit (or abort) record committed after
T, so that record's LSN is read from the archive itself (``stop_point``); when no
record after T is archived yet, recovery runs to the archive's end (and the sealing
commit the restore writes just after it), which the estimate then says.

The time is ``rates.Rates`` applied to those bytes: the nodes restore in parallel, so
the group takes its slowest node plus the restore's own steps. Nothing here writes or
starts anything; the archive is read as the node's OS user.
"""

from __future__ import annotations

import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import archive, backup, pgdata, rates
from .catalog import group_record
from .errors import NodeFailed
from .model import parse_time
from .node import Postgres
from .window import check_point, chosen_backup, restore_window

if TYPE_CHECKING:
    from .layout import Layout

BATCH = 8  # segments per pg_waldump run
MAX_SCAN = 128  # segments read past the last one archived before T, at most
SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{16})\.(zst|gz)$")
# pg_waldump -r Transaction, e.g. "... lsn: 0/0150E1C8, prev 0/0150E190, desc: COMMIT
# 2026-11-25 17:00:00.123456 UTC; ...": the records recovery_target_time stops at.
STOP_RECORD = re.compile(
    r"lsn: ([0-9A-F]+)/([0-9A-F]+), prev \S+ desc: (?:COMMIT|ABORT)(?:_PREPARED)? "
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC"
)
# As the node's user: decompress the given segments into a private temporary folder
# and list their transaction records; the engine only reads the listing.
WALDUMP_SCRIPT = """set -eu
ext=$1 first=$2 last=$3
shift 3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for src in "$@"; do
    out="$dir/$(basename "${src%.*}")"
    case $ext in zst) zstd -dq -o "$out" "$src" ;; *) gzip -dc "$src" > "$out" ;; esac
done
pg_waldump -p "$dir" -r Transaction "$first" "$last" 2>/dev/null || true
"""


@dataclass(frozen=True)
class StopPoint:
    """Where recovery to T stops in one node's archive."""

    lsn: int
    exact: bool  # False: no record after T is archived; ``lsn`` is the archive's end
    commit_time: datetime | None = None  # of the record recovery stops before


@dataclass(frozen=True)
class NodeEstimate:
    node: str
    backup_id: str
    backup_end: datetime
    unpack_bytes: int  # the backup's base.tar and pg_wal.tar
    wal_bytes: int  # archived WAL from the backup's end to where recovery stops
    replay_bytes: int  # from the backup's start (what recovery replays in all)
    stop_lsn: str
    to_archive_end: bool  # T is after the last archived commit: WAL to the archive's end
    seconds: float


@dataclass(frozen=True)
class GroupEstimate:
    group: str
    point: datetime
    nodes: tuple[NodeEstimate, ...]
    seconds: float  # the slowest node plus the restore's own steps
    basis: str  # where the rates come from, in words
    runs: int  # measured restores behind the rates (0: defaults)


def group_seconds(estimates: list[float], figures: rates.Rates) -> float:
    """The nodes restore in parallel: the slowest one, plus the restore's own steps."""
    return figures.overhead + max(estimates, default=0.0)


def _segments(directory: Path, ext: str) -> dict[int, tuple[int, Path, float]]:
    """Archived segments by position: (timeline, path, mtime), the newest timeline's
    file where several timelines hold one position (recovery follows the latest)."""
    found: dict[int, tuple[int, Path, float]] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return found
    for entry in entries:
        match = SEGMENT.match(entry.name)
        if not match or match[3] != ext:
            continue
        info = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            continue
        number = archive.segment_number(entry.name)
        timeline = int(match[1], 16)
        if number not in found or found[number][0] < timeline:
            found[number] = (timeline, Path(entry.path), info.st_mtime)
    return found


def _stop_records(pg: Postgres, label: str, ext: str, paths: list[Path]) -> list[tuple[int, int]]:
    """(LSN, commit time in microseconds since the epoch) of every commit and abort
    record in ``paths`` (consecutive segments of one timeline), in WAL order."""
    try:
        done = pg.run(
            label,
            "sh",
            "-c",
            WALDUMP_SCRIPT,
            "read-wal",
            ext,
            paths[0].name.split(".")[0],
            paths[-1].name.split(".")[0],
            *map(str, paths),
        )
    except NodeFailed:
        return []
    found = []
    for match in STOP_RECORD.finditer(done.stdout):
        lsn = (int(match[1], 16) << 32) + int(match[2], 16)
        moment = datetime.fromisoformat(match[3]).replace(tzinfo=UTC)
        found.append((lsn, int(moment.timestamp() * 1_000_000)))
    return found


def stop_point(
    pg: Postgres, label: str, directory: Path, ext: str, from_lsn: int, point: datetime
) -> StopPoint:
    """Where recovery from ``from_lsn`` to ``point`` stops in archive ``directory``.

    Segments archived at or before ``point`` hold no commit after it (a commit is
    written before its segment is archived), so reading starts at the first segment
    archived after ``point`` and stops at the first commit or abort after it.
    """
    segments = _segments(directory, ext)
    numbers = sorted(n for n in segments if n >= from_lsn // archive.SEGMENT_SIZE)
    if not numbers:
        return StopPoint(from_lsn, exact=False)
    archive_end = (numbers[-1] + 1) * archive.SEGMENT_SIZE
    moment = point.timestamp()
    later = [n for n in numbers if segments[n][2] > moment][:MAX_SCAN]
    wanted = int(point.timestamp() * 1_000_000)
    while later:
        batch = [later[0]]
        for number in later[1:BATCH]:
            if number != batch[-1] + 1 or segments[number][0] != segments[batch[0]][0]:
                break
            batch.append(number)
        later = later[len(batch) :]
        records = _stop_records(pg, label, ext, [segments[n][1] for n in batch])
        for lsn, committed in records:
            if lsn >= from_lsn and committed > wanted:
                return StopPoint(lsn, exact=True, commit_time=_from_micros(committed))
    return StopPoint(archive_end, exact=False)


def _from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def node_estimate(
    layout: Layout, group: dict, record: dict, point: datetime, figures: rates.Rates
) -> NodeEstimate:
    """One node of ``group`` (catalog records) restored to ``point``."""
    chosen = chosen_backup(record, point)
    node = layout.node(group, record)
    unpack_bytes = pgdata.backup_size(backup.backup_dir(node, chosen))
    start, end = archive.parse_lsn(chosen["start_lsn"]), archive.parse_lsn(chosen["end_lsn"])
    stop = stop_point(node.pg, node.label, node.archive, record["compression"], end, point)
    replay_bytes = max(0, stop.lsn - start)
    return NodeEstimate(
        node=record["name"],
        backup_id=chosen["id"],
        backup_end=parse_time(chosen["end_time"]),
        unpack_bytes=unpack_bytes,
        wal_bytes=max(0, stop.lsn - end),
        replay_bytes=replay_bytes,
        stop_lsn=f"{stop.lsn >> 32:X}/{stop.lsn & 0xFFFFFFFF:X}",
        to_archive_end=not stop.exact,
        seconds=round(figures.node_seconds(unpack_bytes, replay_bytes, len(group["nodes"])), 2),
    )


def estimate(
    layout: Layout, name: str, point: datetime | None = None, *, latest: bool = False
) -> GroupEstimate:
    """The restore of group ``name`` to ``point`` (None: the earliest point; ``latest``:
    now), per node and in all. Raises ``OutsideWindow`` for a point the restore would
    refuse, and what the engine raises for a group it cannot restore."""
    source = group_record(layout.catalog.read(), name)
    if latest:
        restore_window(source)  # a group that cannot be restored is refused the same way
        point = datetime.now(UTC)
    else:
        point = check_point(source, point)
    figures = rates.measured(layout.root)
    with ThreadPoolExecutor(max(1, len(source["nodes"]))) as pool:
        nodes = list(
            pool.map(
                lambda record: node_estimate(layout, source, record, point, figures),
                source["nodes"],
            )
        )
    return GroupEstimate(
        group=name,
        point=point,
        nodes=tuple(nodes),
        seconds=round(group_seconds([n.seconds for n in nodes], figures), 1),
        basis=figures.basis(),
        runs=figures.runs,
    )
