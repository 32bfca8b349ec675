"""Restore speed (issue 15): a WAL-bound and a data-bound restore, each against its limit
and beside pgBackRest restoring the same backups, in one run on the same data.

(a) WAL-bound: one node of ``pgbench -i -s BENCH_DATA_SCALE``, a backup, then about
    ``BENCH_WAL_MB`` of WAL past it (pgbench updates), the group stopped (sealed).
    - localcloud: ``Engine.restore(latest)`` from the call to Ready: unpack, verify, WAL
      fed ahead of recovery, promote, first backup adopted.
    - limit: ``tar -x`` of the same backup + ``sync``, then recovery from a ``pg_wal``
      that already holds every archived segment (decompressed beforehand, untimed),
      without ``restore_command``: from the server's start to the end of recovery.
    - once, localcloud with its feeder off: ``restore_command`` fetches each segment.
(b) Data-bound: three nodes of ``pgbench -i -s BENCH_DATA_SCALE`` (68: about 1 GB each),
    a backup, a few segments past it, stopped.
    - localcloud: ``Engine.restore(latest)``, every file verified against the manifest.
    - limit: ``tar -x`` of each node's backup + ``sync``, the nodes in parallel.
(c) pgBackRest (Debian's, installed by ``scripts/ensure-pgbackrest`` when missing): a
    stanza per source node, archiving beside localcloud's archive (one archive_command
    pushes to both), a full backup taken right after localcloud's; each restore is
    ``pgbackrest restore`` + recovery with asynchronous archive-get, to promotion,
    nodes in parallel. Its settings are its fastest here: zstd level 1 as localcloud,
    ``process-max`` 2, and ``recovery_init_sync_method = syncfs`` like the others.

Runs are interleaved (localcloud, limit, pgBackRest; ``BENCH_ROUNDS`` times, each of
them going first in one round in three), so the machine's load falls on all three alike,
and medians are compared. Before the rounds every file the runs read (backups, archives,
pgBackRest's repository) is read once, untimed: the first run to read a backup from disk
would otherwise pay for all (localcloud's and the limit's share the same tar files).

Before each localcloud restore the estimate step 2 would show for it is taken
(``localcloud.estimate``), from the rates the engine measured in the restores before it:
the first one on the fresh root has only the defaults, and the last round is judged
against the issue's 30%.

Environment:
  BENCH_DATA_SCALE  pgbench scale per node (default 68, about 1 GB)
  BENCH_WAL_MB      WAL past the backup for the WAL-bound restore (default 1000)
  BENCH_ROUNDS      interleaved rounds (default 3)
  BENCH_PARTS       which parts run: "wal", "data" or both (default "wal data")
"""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from localcloud import Engine, archive, backup, estimate, verify, walfeed
from localcloud.node import BASE_SETTINGS, CONF_FILE, Node, conf_quote
from localcloud.testing import temporary_engine

# Far from the test suites' ports (26432 and up, shifted by their offsets).
BASE_PORT = 38432
SCRATCH_PORT = 38400  # scratch servers (limit, pgBackRest) count down from here
ROOT = Path(__file__).resolve().parent.parent


def scratch_dir(engine: Engine, group: str) -> Path:
    """Where ``group``'s scratch servers live: beside the engine's root, not in it (the
    engine refuses a root holding folders open to other users), one per group (each
    group has an OS user of its own)."""
    return engine.root.parent / f"{engine.root.name}-scratch-{group}"


class Source:
    """One stopped source node, its localcloud backup and its pgBackRest stanza."""

    def __init__(self, engine: Engine, group: str, record: dict, port: int):
        self.engine = engine
        self.group = group
        self.record = record
        self.node = engine.node(group, record)
        self.pg = self.node.pg
        self.label = self.node.label
        self.scratch_port = port
        self.pgbr = engine.root / "bench-pgbackrest" / group / record["name"]
        self.config = self.pgbr / "pgbackrest.conf"

    @property
    def backup(self) -> dict:
        """The node's newest localcloud backup."""
        nodes = self.engine.catalog.read()["groups"][self.group]["nodes"]
        return next(n for n in nodes if n["name"] == self.record["name"])["backups"][-1]

    def pgbackrest(self, *args: str, timeout: float = 3600) -> str:
        return self.pg.run(
            self.label, "pgbackrest", f"--config={self.config}", "--stanza=bench", *args,
            timeout=timeout,
        ).stdout  # fmt: skip

    def setup_pgbackrest(self) -> None:
        """A stanza on the running node, archiving beside localcloud's archive."""
        for sub in ("repo", "log", "lock", "spool"):
            self.pg.make_dir(self.pgbr / sub)
        self.pg.write_file(
            self.config,
            "[global]\n"
            f"repo1-path={self.pgbr / 'repo'}\n"
            f"log-path={self.pgbr / 'log'}\n"
            f"lock-path={self.pgbr / 'lock'}\n"
            f"spool-path={self.pgbr / 'spool'}\n"
            "log-level-console=warn\n"
            "log-level-file=off\n"
            "compress-type=zst\n"
            "compress-level=1\n"
            "process-max=2\n"
            "start-fast=y\n"
            "archive-timeout=3600\n"
            "archive-get-queue-max=256MB\n"
            "repo1-retention-full=9\n"
            # Recovery fetches ahead in the background (pushes stay synchronous).
            "\n[global:archive-get]\n"
            "archive-async=y\n"
            "\n[bench]\n"
            f"pg1-path={self.node.data}\n"
            f"pg1-port={self.node.port}\n"
            f"pg1-socket-path={self.node.socket_dir}\n"
            "pg1-user=postgres\n",
        )
        # Both archives from one command; in a file, as PostgreSQL cuts an archive
        # command at 1023 bytes.
        ours = archive.archive_command(
            self.engine.bin_dir, self.node.archive, self.record["compression"]
        )
        ours = ours.replace("%%", "\0").replace("%p", '"$1"').replace("%f", '"$2"')
        both = self.pgbr / "archive-both"
        push = (
            f'pgbackrest --config={shlex.quote(str(self.config))} --stanza=bench archive-push "$1"'
        )
        self.pg.write_file(both, f"set -e\n{ours.replace(chr(0), '%')}\n{push}\n")
        self.node.write_config(f"sh {shlex.quote(str(both))} %p %f")
        with self.node.connect() as conn:
            conn.execute("SELECT pg_reload_conf()")
        self.pgbackrest("stanza-create")

    # Scratch servers ---------------------------------------------------------------------

    def scratch(self, kind: str) -> Node:
        base = scratch_dir(self.engine, self.group) / f"{self.record['name']}-{kind}"
        self.pg.run(self.label, "rm", "-rf", "--", str(base))
        self.pg.make_dir(base.parent, 0o711)
        node = Node(self.pg, f"{self.label}-{kind}", base, self.scratch_port, self.node.socket_dir)
        self.pg.make_dir(node.dir)
        self.pg.make_dir(node.data)
        return node

    def own_settings(self, node: Node) -> None:
        """The scratch copy's own port and socket, no archiving, one syncfs at start."""
        settings = dict(BASE_SETTINGS)
        settings.update(
            port=str(node.port),
            unix_socket_directories=conf_quote(str(node.socket_dir)),
            archive_mode="off",
            recovery_init_sync_method="'syncfs'",
        )
        text = "".join(f"{key} = {value}\n" for key, value in settings.items())
        self.pg.write_file(node.data / CONF_FILE, text)

    def unpack(self, node: Node) -> None:
        files = backup.backup_dir(self.node, self.backup)
        self.pg.run(self.label, "tar", "-xf", str(files / "base.tar"), "-C", str(node.data))
        self.pg.run(
            self.label, "tar", "-xf", str(files / "pg_wal.tar"), "-C", str(node.data / "pg_wal")
        )
        self.pg.run(self.label, "sync", "-f", str(node.data))

    def limit(self, replay: bool) -> dict[str, float]:
        """tar -x + sync; with ``replay``, then recovery from a full pg_wal (untimed
        decompression between)."""
        node = self.scratch("limit")
        began = time.monotonic()
        self.unpack(node)
        figures = {"unpack": time.monotonic() - began}
        if replay:
            began = time.monotonic()
            start = self.backup["start_wal"]
            segments = sorted(
                str(path)
                for path in self.node.archive.iterdir()
                if walfeed.SEGMENT_NAME.match(path.name[:-4])
                and path.name.endswith(".zst")
                and path.name[:24] >= start
            )
            for chunk in range(0, len(segments), 200):
                self.pg.run(
                    self.label, "zstd", "-dqf", "--output-dir-flat", str(node.data / "pg_wal"),
                    *segments[chunk : chunk + 200],
                )  # fmt: skip
            self.pg.run(self.label, "sync", "-f", str(node.data))
            figures["decompress (untimed in the limit)"] = time.monotonic() - began
            self.own_settings(node)
            began = time.monotonic()
            node.start()
            node.wait_ready(timeout=3600)
            figures["replay"] = time.monotonic() - began
        node.remove()
        return figures

    def verification(self) -> float:
        """pg_verifybackup of an unpacked copy of the backup (its cost, alone)."""
        node = self.scratch("verify")
        self.unpack(node)
        began = time.monotonic()
        verify.check_unpacked(
            self.pg, self.label, backup.backup_dir(self.node, self.backup), node.data
        )
        took = time.monotonic() - began
        node.remove()
        return took

    def pgbackrest_restore(self) -> float:
        node = self.scratch("pgbackrest")
        began = time.monotonic()
        self.pgbackrest(f"--pg1-path={node.data}", "--archive-mode=off", "restore")
        self.own_settings(node)
        node.start()
        node.wait_ready(timeout=3600)
        took = time.monotonic() - began
        node.remove()
        return took


def load(engine: Engine, group: str, scale: int) -> list[Source]:
    """Create ``group`` ready for the bench: pgbench data on every node, a pgBackRest
    stanza beside each node's archive."""
    made = engine.get_group(group)
    record = engine.catalog.read()["groups"][group]
    pg = engine.pg_for(record)

    def fill(node) -> None:
        pg.run(
            f"{group}/{node.name}", "pgbench", "-i", "-q", "-s", str(scale),
            "-h", node.socket_dir, "-p", str(node.port), "-U", "postgres", made.database,
        )  # fmt: skip

    with ThreadPoolExecutor(len(made.nodes)) as pool:
        list(pool.map(fill, made.nodes))
    sources = []
    for index, node_record in enumerate(record["nodes"]):
        port = SCRATCH_PORT - 10 * len(engine.catalog.read()["groups"]) - index
        sources.append(Source(engine, group, node_record, port))
    for source in sources:
        source.setup_pgbackrest()
    return sources


def backups(engine: Engine, group: str, sources: list[Source]) -> None:
    """A localcloud backup, then a pgBackRest full backup of every node (once both
    archives caught up with the load's WAL)."""
    archived(sources)
    engine.backup_group(group)
    with ThreadPoolExecutor(len(sources)) as pool:
        list(pool.map(lambda source: source.pgbackrest("--type=full", "backup"), sources))


def write_wal(engine: Engine, group: str, megabytes: int) -> int:
    """pgbench updates on the coordinator until ``megabytes`` of WAL are written."""
    with engine.connect(group) as conn:
        start = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        step = 0
        while True:
            conn.execute(
                "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid %% 8 = %s",
                (step % 8,),
            )
            step += 1
            written = conn.execute("SELECT pg_current_wal_lsn() - %s::pg_lsn", (start,)).fetchone()[
                0
            ]
            if written >= megabytes * 1e6:
                return int(written)


def archived(sources: list[Source]) -> None:
    """Wait until both archives caught up with the WAL written (stop_group seals only
    after that, within its own short deadline)."""
    in_threads(sources, lambda source: archive.seal(source.node, timeout=3600))


def timed_restore(engine: Engine, group: str, name: str, estimates: list | None = None) -> float:
    """Seconds from the call to Ready; with ``estimates``, the estimate step 2 shows for
    this restore (from the rates of the restores measured before it) is appended."""
    if estimates is not None:
        estimates.append(estimate.estimate(engine, group, latest=True).seconds)
    subprocess.run(["sync"], check=True)
    began = time.monotonic()
    engine.restore(group, name, latest=True)
    took = time.monotonic() - began
    engine.delete_group(name)
    return took


def figure_estimate(rec, what: str, estimates: list[float], actual: list[float]) -> None:
    """The estimate before OK against the actual time, judged on the last round (the
    first one of a fresh engine root is made from the defaults alone)."""
    ratios = [guess / took for guess, took in zip(estimates, actual, strict=True)]
    rec.figure(
        f"{what}: estimate before OK / actual, last round "
        f"({', '.join(f'{ratio:.2f}' for ratio in ratios)} in rounds 1 to {len(ratios)})",
        round(ratios[-1], 2),
        "x",
        target="0.7 to 1.3 (within 30%)",
        met=0.7 <= ratios[-1] <= 1.3,
    )


def warm(sources: list[Source]) -> None:
    """Read, untimed, every file the restores read: each node's backups and archive and
    its pgBackRest repository. Every run then starts with its files in the page cache,
    whichever runs first (otherwise the first to read a backup pays for all)."""
    for source in sources:
        folders = (source.node.backups, source.node.archive, source.pgbr / "repo")
        source.pg.run(
            source.label, "sh", "-c", 'find "$@" -type f -exec cat {} + > /dev/null', "warm",
            *(str(folder) for folder in folders), timeout=3600,
        )  # fmt: skip


def in_turn(round_: int, *runs) -> None:
    """The round's runs, each going first in turn: whichever runs first reads the
    backups from a cold page cache (and the others warm), so no one is always first."""
    for index in range(len(runs)):
        runs[(round_ + index) % len(runs)]()


def in_threads(sources: list[Source], work) -> list:
    with ThreadPoolExecutor(len(sources)) as pool:
        return list(pool.map(work, sources))


def figure_pair(
    rec, what: str, localcloud: float, limit: float, limit_label: str, target: float, pgbr: float
) -> None:
    rec.figure(
        f"{what}: localcloud, call to Ready (median)",
        round(localcloud, 2),
        "s",
        baseline=round(limit, 2),
        baseline_label=limit_label,
        target=f"<= {target}x the limit",
        met=localcloud <= target * limit,
    )
    rec.figure(
        f"{what}: pgBackRest restore of the same backup to promotion (median)",
        round(pgbr, 2),
        "s",
        baseline=round(localcloud, 2),
        baseline_label="localcloud, same run",
        target=">= 1.5x localcloud",
        met=pgbr >= 1.5 * localcloud,
    )


def bench_wal_bound(rec, engine: Engine, scale: int, megabytes: int, rounds: int) -> None:
    group = "bench-wal"
    engine.create_group(group, workers=0)
    sources = load(engine, group, scale)
    backups(engine, group, sources)
    written = write_wal(engine, group, megabytes)
    archived(sources)
    engine.stop_group(group)
    source = sources[0]
    segments = sum(
        1
        for path in source.node.archive.iterdir()
        if walfeed.SEGMENT_NAME.match(path.name[:24])
        and path.name.endswith(".zst")
        and path.name[:24] >= source.backup["start_wal"]
        and len(path.name) == 28
    )
    warm(sources)
    ours, limits, pgbrs, estimates = [], [], [], []
    for round_ in range(rounds):
        in_turn(
            round_,
            lambda copy=f"bench-wal-copy-{round_}": ours.append(
                timed_restore(engine, group, copy, estimates)
            ),
            lambda: limits.append(source.limit(replay=True)),
            lambda: pgbrs.append(source.pgbackrest_restore()),
        )
        print(f"    round {round_ + 1}: localcloud {ours[-1]:.2f} s, limit {limits[-1]}, "
              f"pgBackRest {pgbrs[-1]:.2f} s", flush=True)  # fmt: skip
    unpack = statistics.median(f["unpack"] for f in limits)
    replay = statistics.median(f["replay"] for f in limits)
    limit = statistics.median(f["unpack"] + f["replay"] for f in limits)
    what = (
        f"WAL-bound restore, 1 node x {source.backup['size'] / 1e9:.2f} GB, "
        f"{written / 1e6:.0f} MB of WAL ({segments} segments) past the backup"
    )
    figure_pair(
        rec, what, statistics.median(ours), limit,
        f"limit: tar -x + sync {unpack:.2f} s, then replay with the WAL already in pg_wal "
        f"{replay:.2f} s", 1.5, statistics.median(pgbrs),
    )  # fmt: skip
    figure_estimate(rec, "WAL-bound", estimates, ours)
    rec.figure(
        "WAL-bound: limit's WAL decompression into pg_wal (not counted in the limit)",
        round(statistics.median(f["decompress (untimed in the limit)"] for f in limits), 2),
        "s",
    )
    original = walfeed.WORKERS
    walfeed.WORKERS = 0  # restore_command fetches every segment itself
    try:
        unfed = timed_restore(engine, group, "bench-wal-unfed")
    finally:
        walfeed.WORKERS = original
    rec.figure(
        "WAL-bound: localcloud with the feeder off (restore_command fetches each segment)",
        round(unfed, 2),
        "s",
        baseline=round(statistics.median(ours), 2),
        baseline_label="with the feeder",
    )
    engine.delete_group(group)


def bench_data_bound(rec, engine: Engine, scale: int, rounds: int) -> None:
    group = "bench-data"
    engine.create_group(group, workers=2)
    sources = load(engine, group, scale)
    backups(engine, group, sources)
    engine.stop_group(group)
    ours, limits, pgbrs, estimates = [], [], [], []

    def limit() -> None:
        subprocess.run(["sync"], check=True)
        began = time.monotonic()
        in_threads(sources, lambda source: source.limit(replay=False))
        limits.append(time.monotonic() - began)

    def pgbackrest() -> None:
        subprocess.run(["sync"], check=True)
        began = time.monotonic()
        in_threads(sources, lambda source: source.pgbackrest_restore())
        pgbrs.append(time.monotonic() - began)

    warm(sources)
    for round_ in range(rounds):
        in_turn(
            round_,
            lambda copy=f"bench-data-copy-{round_}": ours.append(
                timed_restore(engine, group, copy, estimates)
            ),
            limit,
            pgbackrest,
        )
        print(f"    round {round_ + 1}: localcloud {ours[-1]:.2f} s, limit {limits[-1]:.2f} s, "
              f"pgBackRest {pgbrs[-1]:.2f} s", flush=True)  # fmt: skip
    size = sum(source.backup["size"] for source in sources) / len(sources)
    figure_pair(
        rec, f"data-bound restore, 3 nodes x {size / 1e9:.2f} GB (pgbench -s {scale}), verified",
        statistics.median(ours), statistics.median(limits),
        "limit: parallel tar -x + sync of the same backups", 1.3, statistics.median(pgbrs),
    )  # fmt: skip
    figure_estimate(rec, "data-bound", estimates, ours)
    lock = threading.Lock()
    costs = []

    def cost(source: Source) -> None:
        took = source.verification()
        with lock:
            costs.append(took)

    in_threads(sources, cost)
    rec.figure(
        "data-bound: pg_verifybackup of the 3 unpacked backups at once (inside the restore)",
        round(max(costs), 2),
        "s",
    )
    engine.delete_group(group)


def run(rec) -> None:
    subprocess.run([str(ROOT / "scripts" / "ensure-pgbackrest")], check=True)
    scale = int(os.environ.get("BENCH_DATA_SCALE", "68"))
    megabytes = int(os.environ.get("BENCH_WAL_MB", "1000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    parts = os.environ.get("BENCH_PARTS", "wal data").split()
    with temporary_engine(base_port=BASE_PORT) as engine:
        try:
            if "wal" in parts:
                bench_wal_bound(rec, engine, scale, megabytes, rounds)
            if "data" in parts:
                bench_data_bound(rec, engine, scale, rounds)
        finally:
            for group in ("bench-wal", "bench-data"):
                shutil.rmtree(scratch_dir(engine, group), ignore_errors=True)
