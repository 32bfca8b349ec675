"""What this machine's past restores measured, and the rates an estimate is made from.

After every restore that reaches Ready the engine appends one run to
``restore-rates.json`` beside the catalog (readable by the engine's user only, written
atomically under a lock): the whole restore's seconds and, per node, the bytes it
unpacked and the seconds that took, the WAL it replayed (from the backup's start to
where recovery stopped) and the seconds from starting the node to its promotion, and
the seconds of its first backup. The last ``KEEP`` runs are kept.

A phase's time is a fixed part plus bytes over a rate (``fit``): starting a node and
promoting it costs about the same whether it replays 1 MB or 1 GB, and a rate taken
from a small restore alone would make a large one look slow. The nodes of a restore
share this machine's cores: with more nodes than cores each node gets a share of one
(``share``), so a node's measured time is scaled to a whole core before fitting and
back to its share when estimating. Every figure is a median
over the kept runs, so one run on a loaded machine does not swing the estimate. Before
anything is measured the defaults below are used; they are deliberately low rates and
long fixed parts, so that the first estimate errs long rather than short.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import statistics
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .progress import BACKUP_SECONDS, DEFAULT_REPLAY_RATE, DEFAULT_UNPACK_RATE

FILE = "restore-rates.json"
KEEP = 20  # runs
LARGE = 32 * 1024 * 1024  # bytes: a phase this large tells the rate, a smaller one the fixed part
# Before any restore was measured (seconds): starting, recovering and promoting a node,
# and the restore's own steps outside the nodes (sealing the source, the catalog).
DEFAULT_UNPACK_FIXED = 0.1
DEFAULT_REPLAY_FIXED = 1.0
DEFAULT_OVERHEAD = 0.5


def share(nodes: int, cores: int) -> float:
    """The part of one core each node gets when ``nodes`` restore at once."""
    return min(1.0, cores / max(1, nodes))


def cpu_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class NodeRun:
    """One node of one measured restore."""

    node: str
    unpack_bytes: int
    unpack_seconds: float
    replay_bytes: int
    replay_seconds: float
    backup_seconds: float

    @property
    def seconds(self) -> float:
        return self.unpack_seconds + self.replay_seconds + self.backup_seconds


@dataclass(frozen=True)
class Run:
    """One measured restore: its nodes ran in parallel within ``seconds``."""

    group: str
    finished_at: str
    seconds: float
    nodes: tuple[NodeRun, ...] = ()

    @property
    def overhead(self) -> float:
        """The restore's own time outside its slowest node (sealing, the catalog)."""
        return max(0.0, self.seconds - max((node.seconds for node in self.nodes), default=0.0))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Run:
        return cls(
            group=str(data["group"]),
            finished_at=str(data["finished_at"]),
            seconds=float(data["seconds"]),
            nodes=tuple(NodeRun(**node) for node in data.get("nodes", ())),
        )


@dataclass(frozen=True)
class Rates:
    """seconds(node) = unpack_fixed + bytes / unpack_rate + replay_fixed + WAL / replay_rate
    + backup_seconds; a restore takes ``overhead`` plus its slowest node."""

    unpack_rate: float = DEFAULT_UNPACK_RATE
    unpack_fixed: float = DEFAULT_UNPACK_FIXED
    replay_rate: float = DEFAULT_REPLAY_RATE
    replay_fixed: float = DEFAULT_REPLAY_FIXED
    backup_seconds: float = BACKUP_SECONDS
    overhead: float = DEFAULT_OVERHEAD
    runs: int = 0  # measured restores these come from; 0: the defaults
    nodes: int = field(default=0, compare=False)  # node samples among them
    cores: int = field(default_factory=cpu_count, compare=False)

    def node_seconds(self, unpack_bytes: int, replay_bytes: int, nodes: int = 1) -> float:
        """One node's time when ``nodes`` restore at once."""
        whole_core = (
            self.unpack_fixed
            + unpack_bytes / self.unpack_rate
            + self.replay_fixed
            + replay_bytes / self.replay_rate
            + self.backup_seconds
        )
        return whole_core / share(nodes, self.cores)

    def basis(self) -> str:
        """Where the figures come from, in words."""
        if not self.runs:
            return (
                "conservative defaults: no restore has been measured on this machine yet "
                f"({DEFAULT_UNPACK_RATE / 1e6:.0f} MB/s unpacking, "
                f"{DEFAULT_REPLAY_RATE / 1e6:.0f} MB/s WAL replay)"
            )
        runs = "restore" if self.runs == 1 else f"{self.runs} restores"
        return (
            f"rates measured in the last {runs} on this machine "
            f"({self.unpack_rate / 1e6:.0f} MB/s unpacking, "
            f"{self.replay_rate / 1e6:.0f} MB/s WAL replay)"
        )


def fit(samples: list[tuple[float, float]], rate: float, fixed: float) -> tuple[float, float]:
    """(fixed seconds, bytes per second) of ``seconds = fixed + bytes / rate`` over
    ``samples`` of (bytes, seconds), starting from the defaults ``rate`` and ``fixed``.

    Small samples (under ``LARGE``) tell the fixed part, large ones the rate; each is the
    median of what the samples say given the other, refined a few times. Without small
    samples the default fixed part stays; without large ones, the default rate.
    """
    small = [(size, seconds) for size, seconds in samples if size < LARGE]
    large = [(size, seconds) for size, seconds in samples if size >= LARGE]
    for _ in range(4):
        if small:
            fixed = max(0.0, statistics.median(s - size / rate for size, s in small))
        if large:
            # A sample faster than the fixed part alone still says "fast", not "infinite".
            rate = statistics.median(size / max(s - fixed, 0.1 * s, 1e-3) for size, s in large)
    return fixed, rate


def derive(runs: list[Run], cores: int | None = None) -> Rates:
    """The rates from ``runs`` (any order) on a machine of ``cores`` (default: this
    one's), or the defaults when there are none."""
    cores = cores or cpu_count()
    if not runs:
        return Rates(cores=cores)
    # (node, the part of a core it had) for every node of every run
    nodes = [(node, share(len(run.nodes), cores)) for run in runs for node in run.nodes]
    unpack_fixed, unpack_rate = fit(
        [(n.unpack_bytes, n.unpack_seconds * part) for n, part in nodes],
        DEFAULT_UNPACK_RATE,
        DEFAULT_UNPACK_FIXED,
    )
    replay_fixed, replay_rate = fit(
        [(n.replay_bytes, n.replay_seconds * part) for n, part in nodes],
        DEFAULT_REPLAY_RATE,
        DEFAULT_REPLAY_FIXED,
    )
    return Rates(
        unpack_rate=unpack_rate,
        unpack_fixed=unpack_fixed,
        replay_rate=replay_rate,
        replay_fixed=replay_fixed,
        backup_seconds=statistics.median(n.backup_seconds * part for n, part in nodes),
        overhead=statistics.median(run.overhead for run in runs),
        runs=len(runs),
        nodes=len(nodes),
        cores=cores,
    )


# The file ---------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[Path]:
    root.mkdir(mode=0o711, parents=True, exist_ok=True)
    lock = root / f"{FILE}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "r+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield root / FILE
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read(path: Path) -> list[Run]:
    try:
        data = json.loads(path.read_text())
        return [Run.from_json(item) for item in data.get("runs", [])]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError, AttributeError):
        return []  # a damaged file only costs the history: estimates fall back to defaults


def runs(root: Path) -> list[Run]:
    """The kept runs, oldest first."""
    with _locked(root) as path:
        return _read(path)


def record(root: Path, run: Run) -> None:
    """Append ``run``, keeping the last ``KEEP``."""
    with _locked(root) as path:
        kept = (_read(path) + [run])[-KEEP:]
        tmp = path.with_name(f".{FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"runs": [item.to_json() for item in kept]}, handle, indent=1)
        os.replace(tmp, path)


def record_restore(root: Path, group: str, seconds: float, nodes: list[dict]) -> None:
    """Keep what a restore that reached Ready measured (``progress.Tracker.measured``).
    A file that cannot be written costs the estimates this run, never the restore."""
    run = Run(
        group=group,
        finished_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        seconds=round(seconds, 4),
        nodes=tuple(NodeRun(**node) for node in nodes),
    )
    with contextlib.suppress(OSError):
        record(root, run)


def measured(root: Path) -> Rates:
    return derive(runs(root))
