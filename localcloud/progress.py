"""A restore's progress by bytes, and the checks that let an operator cancel it.

Per node: its phase, the bytes of the backup unpacked of their total, the WAL replayed
of the WAL to replay, the rate of the current phase and the time left.

- Bytes unpacked are counted by tar itself (``pgdata.untar``): its checkpoints report
  the bytes read so far, so the backup is still read by tar alone (no copy through
  Python).
- WAL replayed is the recovering node's ``pg_last_wal_replay_lsn()`` less the backup's
  start LSN; the WAL to replay runs from there to the end of the newest segment in the
  source's archive when the restore began. That is an upper bound: recovery stops at
  T, which may come earlier; the node is complete when it promotes.
- Before a phase has run long enough to measure, its rate is a conservative default.

A cancel is a flag in the catalog (``restore.cancelled_at``, set by
``Engine.cancel_restore``). The restore checks it between steps, while tar runs and
while a node recovers, and stops: the caller's cleanup removes everything of the target.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import psycopg

from . import archive
from .errors import RestoreCancelled
from .node import Node

# Rates before one is measured on this restore, deliberately low so that the first
# estimate errs long: tar -x of a cached backup runs at several hundred MB/s here, and
# replay through restore_command at about 130 MB/s of 1 MB segments.
DEFAULT_UNPACK_RATE = 150e6
DEFAULT_REPLAY_RATE = 60e6
BACKUP_SECONDS = 0.5  # the first backup is adopted (hard links): short and flat
MEASURE_AFTER = 0.5  # seconds of a phase before its own rate replaces the default
REPORT_EVERY = 0.25  # seconds between snapshots within one phase
SEGMENT = re.compile(r"^[0-9A-F]{24}\.(zst|gz)$")


# Progress callback: (phase, node name or None, percent 0..100).
ProgressFn = Callable[[str, str | None, int], None]
# Figures callback: {node name: figures}, see NodeFigures.snapshot.
WatchFn = Callable[[dict[str, dict]], None]


class NodePhase(StrEnum):
    WAITING = "waiting"
    UNPACKING = "unpacking"
    REPLAYING = "replaying"
    BACKING_UP = "backing up"
    READY = "ready"


# The share of a node's bar each phase ends at: unpacking and replaying carry the time.
_PHASE_END = {
    NodePhase.WAITING: 0,
    NodePhase.UNPACKING: 45,
    NodePhase.REPLAYING: 95,
    NodePhase.BACKING_UP: 99,
    NodePhase.READY: 100,
}


class NodeFigures:
    """One node's figures; changed only under the tracker's lock."""

    def __init__(self) -> None:
        self.phase = NodePhase.WAITING
        self.bytes_done = 0
        self.bytes_total = 0
        self.wal_done = 0
        self.wal_total = 0
        self.phase_began = time.monotonic()
        self.done_at_phase_start = 0
        # What the node measured, for the next estimates (see rates.py): seconds spent
        # in each phase, and the WAL replayed when it left recovery.
        self.spent: dict[NodePhase, float] = {}
        self.replayed = 0
        self.note = ""  # what a DBA should know, e.g. that the backup was not verified

    def done(self) -> int:
        return self.wal_done if self.phase == NodePhase.REPLAYING else self.bytes_done

    def rate(self, now: float) -> float | None:
        """Bytes per second in the current phase, once measurable."""
        if self.phase not in (NodePhase.UNPACKING, NodePhase.REPLAYING):
            return None
        spent = now - self.phase_began
        moved = self.done() - self.done_at_phase_start
        if spent < MEASURE_AFTER or moved <= 0:
            return None
        return moved / spent

    def seconds_left(self, now: float) -> float:
        rate = self.rate(now)
        unpack_left = max(0, self.bytes_total - self.bytes_done)
        wal_left = max(0, self.wal_total - self.wal_done)
        if self.phase == NodePhase.READY:
            return 0.0
        if self.phase == NodePhase.BACKING_UP:
            return BACKUP_SECONDS
        if self.phase == NodePhase.REPLAYING:
            return wal_left / (rate or DEFAULT_REPLAY_RATE) + BACKUP_SECONDS
        unpack_rate = rate if self.phase == NodePhase.UNPACKING and rate else DEFAULT_UNPACK_RATE
        return unpack_left / unpack_rate + wal_left / DEFAULT_REPLAY_RATE + BACKUP_SECONDS

    def percent(self) -> int:
        phases = list(_PHASE_END)
        start = _PHASE_END[phases[max(0, phases.index(self.phase) - 1)]]
        end = _PHASE_END[self.phase]
        if self.phase == NodePhase.UNPACKING and self.bytes_total:
            share = min(1.0, self.bytes_done / self.bytes_total)
        elif self.phase == NodePhase.REPLAYING and self.wal_total:
            share = min(1.0, self.wal_done / self.wal_total)
        else:
            share = 0.0 if self.phase != NodePhase.READY else 1.0
        return int(start + (end - start) * share)

    def snapshot(self, now: float) -> dict:
        rate = self.rate(now)
        return {
            "phase": str(self.phase),
            "percent": self.percent(),
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "wal_done": self.wal_done,
            "wal_total": self.wal_total,
            "rate": round(rate) if rate else None,
            "seconds_left": round(self.seconds_left(now), 1),
            "note": self.note,
        }


class Tracker:
    """The figures of every node of one restore, reported as a whole on each change.

    ``watch`` receives ``{node name: figures}`` (see ``NodeFigures.snapshot``): on every
    phase change, and otherwise at most every ``REPORT_EVERY`` seconds.
    """

    def __init__(self, names: list[str], watch: Callable[[dict[str, dict]], None] | None):
        self.nodes = {name: NodeFigures() for name in names}
        self.watch = watch
        self.lock = threading.Lock()
        self.last_report = 0.0
        self.began = time.monotonic()

    def measured(self) -> list[dict]:
        """What each node measured (``rates.NodeRun``'s fields), once every node is Ready."""
        with self.lock:
            return [
                dict(
                    node=name,
                    unpack_bytes=node.bytes_total,
                    unpack_seconds=round(node.spent.get(NodePhase.UNPACKING, 0.0), 4),
                    replay_bytes=node.replayed,
                    replay_seconds=round(node.spent.get(NodePhase.REPLAYING, 0.0), 4),
                    backup_seconds=round(node.spent.get(NodePhase.BACKING_UP, 0.0), 4),
                )
                for name, node in self.nodes.items()
            ]

    def update(self, name: str, *, phase: NodePhase | None = None, **figures: int | str) -> None:
        with self.lock:
            node = self.nodes[name]
            now = time.monotonic()
            for key, value in figures.items():
                setattr(node, key, value)
            changed = phase is not None and phase != node.phase
            if changed:
                node.spent[node.phase] = node.spent.get(node.phase, 0.0) + now - node.phase_began
                if node.phase == NodePhase.REPLAYING:
                    node.replayed = node.wal_done
                if phase in (NodePhase.BACKING_UP, NodePhase.READY):
                    node.bytes_done, node.wal_done = node.bytes_total, node.wal_total
                node.phase = phase
                node.phase_began = now
                node.done_at_phase_start = node.done()
            if self.watch is None or (not changed and now - self.last_report < REPORT_EVERY):
                return
            self.last_report = now
            self.watch({key: each.snapshot(now) for key, each in self.nodes.items()})


class CancelCheck:
    """Whether the restore into ``target`` was cancelled; reads the catalog at most every
    ``REPORT_EVERY`` seconds unless asked to look now."""

    def __init__(self, catalog, target: str):
        self.catalog = catalog
        self.target = target
        self.checked = 0.0
        self.cancelled = False

    def __call__(self, *, now: bool = False) -> bool:
        moment = time.monotonic()
        if not self.cancelled and (now or moment - self.checked >= REPORT_EVERY):
            self.checked = moment
            group = self.catalog.read()["groups"].get(self.target) or {}
            self.cancelled = bool((group.get("restore") or {}).get("cancelled_at"))
        return self.cancelled

    def stop_if_cancelled(self) -> None:
        if self(now=True):
            raise self.error()

    def check(self) -> None:
        """Raise when cancelled, reading the catalog at most every ``REPORT_EVERY``."""
        if self():
            raise self.error()

    def error(self) -> RestoreCancelled:
        return RestoreCancelled(
            f"The restore to '{self.target}' was cancelled; everything it had made was removed."
        )


def wal_to_replay(source_archive: Path, backup_record: dict) -> int:
    """Bytes of WAL from the backup's start to the end of the newest archived segment."""
    start = archive.parse_lsn(backup_record["start_lsn"])
    try:
        numbers = [
            archive.segment_number(entry.name)
            for entry in source_archive.iterdir()
            if SEGMENT.match(entry.name)
        ]
    except OSError:
        return 0
    if not numbers:
        return 0
    return max(0, (max(numbers) + 1) * archive.SEGMENT_SIZE - start)


class ReplayWatch:
    """While ``node`` recovers: its replay position twice a second, and a cancel kills it
    (the restore's own wait then sees the server stop)."""

    def __init__(
        self,
        node: Node,
        start_lsn: int,
        replayed: Callable[[int], None],
        cancelled: CancelCheck,
    ):
        self.node = node
        self.start_lsn = start_lsn
        self.replayed = replayed
        self.cancelled = cancelled
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(0.3):
            if self.cancelled():
                self.node.kill()
                return
            lsn = self.replay_lsn()
            if lsn and not self.stop.is_set():
                self.replayed(max(0, archive.parse_lsn(lsn) - self.start_lsn))

    def replay_lsn(self) -> str | None:
        try:
            with self.node.connect(timeout=2) as conn:
                return conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()[0]
        except psycopg.Error:
            return None  # not accepting connections before it is consistent

    def __enter__(self) -> ReplayWatch:
        self.thread.start()
        return self

    def __exit__(self, failed, *exc) -> None:
        self.stop.set()
        self.thread.join()
        if failed is None:
            # Promoted: the position stays where replay ended, exactly (the last poll
            # may be up to 0.3 s old), which is what the measured rates need.
            lsn = self.replay_lsn()
            if lsn:
                self.replayed(max(0, archive.parse_lsn(lsn) - self.start_lsn))
