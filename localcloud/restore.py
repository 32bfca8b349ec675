"""Point-in-time restore of a whole group into a new group.

The source is only read: its backups and archive are copied from, and its running
nodes are sealed (one commit and a WAL switch, which any restore needs).

Per node, in parallel: unpack the chosen backup straight into the data directory,
recover along the source's archive to T, promote, then give the new node its first
backup. That backup is adopted, not taken (``backup.adopt``): hard links to the
source backup restored from and to the archived WAL up to the switch to the new
timeline, so that the new group is restorable on its own from the moment it was
promoted, without copying every byte a second time.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable

from . import archive, backup, pgdata, rates, roles, verify, walfeed
from .catalog import group_record
from .errors import LocalCloudError, NodeFailed, RestoreCancelled, RestoreFailed
from .layout import Layout
from .model import format_time, parse_time, utcnow
from .node import Node, conf_quote
from .proc import in_parallel
from .progress import (
    CancelCheck,
    NodePhase,
    ProgressFn,
    ReplayWatch,
    Tracker,
    WatchFn,
    wal_to_replay,
)
from .records import BackupRecord, GroupStatus
from .window import chosen_backup, replays_to_end

log = logging.getLogger(__name__)

# Long enough for a large replay; the postmaster is watched all along, so a dead
# server is reported at once rather than at the deadline.
RECOVERY_TIMEOUT = 3600.0


class _Reporter:
    """Serialises progress from the node threads to the caller's callback."""

    def __init__(self, progress: ProgressFn):
        self.progress = progress
        self.lock = threading.Lock()

    def __call__(self, phase: str, node: str | None, percent: int) -> None:
        with self.lock:
            self.progress(phase, node, percent)


def restore_into(
    layout: Layout,
    target: str,
    progress: ProgressFn,
    watch: WatchFn | None = None,
    *,
    remove: Callable[[str], None],
) -> None:
    """Run the restore reserved for ``target`` (``Engine.begin_restore``); on failure or
    a cancel ``remove`` everything of it. ``watch`` receives every node's figures
    (``progress.Tracker``)."""
    report = _Reporter(progress)
    cancelled = CancelCheck(layout.catalog, target)
    try:
        _execute(layout, target, report, cancelled, watch)
    except BaseException as error:
        was_cancelled = cancelled(now=True)
        remove(target)
        if was_cancelled:
            raise cancelled.error() from error
        if isinstance(error, LocalCloudError) and not isinstance(
            error, RestoreFailed | RestoreCancelled
        ):
            raise RestoreFailed(
                f"The restore to '{target}' failed and was rolled back: {error}"
            ) from error
        raise


def _execute(
    layout: Layout,
    target: str,
    report: _Reporter,
    cancelled: CancelCheck,
    watch: WatchFn | None,
) -> None:
    data = layout.catalog.read()
    group = group_record(data, target)
    tracker = Tracker([record["name"] for record in group["nodes"]], watch)
    source = group_record(data, group["restored_from"])
    point = parse_time(group["restore_point"])
    # A previous attempt by a process that died may have left files behind.
    for node in layout.nodes(group):
        node.kill()
    shutil.rmtree(layout.group_dir(target), ignore_errors=True)
    layout.make_group_dirs(group)

    report("sealing", None, 0)
    source_nodes = layout.nodes(source)
    # "Latest": every commit made before now is archived once the nodes are sealed, and
    # recovery runs to the end of the archive (no target time at all).
    latest = bool(group.get("restore", {}).get("latest"))
    if latest:
        sealed_from = utcnow()
        if source["status"] == GroupStatus.READY:
            point = sealed_from

    def seal(node: Node) -> None:
        if node.is_running():
            archive.seal(node)

    in_parallel(source_nodes, seal)
    cancelled.stop_if_cancelled()
    feeders: dict[int, walfeed.Feeder] = {}

    def restore_node(index: int) -> BackupRecord:
        source_record = source["nodes"][index]
        record = group["nodes"][index]
        source_node = source_nodes[index]
        node = layout.node(group, record)
        pg = node.pg  # the new group's OS user, who reads the source's files as its lineage
        chosen = chosen_backup(source_record, point)
        name = record["name"]
        report("restoring", name, 5)
        for path in (node.dir, node.archive, node.backups):
            pg.make_dir(path, pg.share_mode)
        pg.make_dir(node.data)
        files = backup.backup_dir(source_node, chosen)
        # Every archived commit belongs in the restore: recover to the end.
        to_the_end = latest or replays_to_end(source, source_record, point)
        # The archived WAL is fed ahead of recovery from now on, while the backup unpacks.
        feeders[index] = feeder = walfeed.Feeder(
            pg,
            node.label,
            source_node.archive,
            source_record["compression"],
            node.dir / walfeed.STAGE,
            chosen["start_wal"],
            until=None if to_the_end else point,
        ).start()
        tracker.update(
            name,
            phase=NodePhase.UNPACKING,
            bytes_total=pgdata.backup_size(files),
            wal_total=wal_to_replay(source_node.archive, chosen),
        )
        # Server parameters are not carried over (as in Azure): ALTER SYSTEM's file starts
        # empty, and pg_hba is written from the new group's (empty) firewall rules.
        pgdata.unpack_backup(
            pg,
            node.label,
            files,
            node.data,
            unpacked=lambda done: tracker.update(name, bytes_done=done),
            check=cancelled.check,
        )
        note = verify.check_unpacked(pg, node.label, files, node.data)
        if note:
            log.warning("%s", note)
            tracker.update(name, note=note)
        report("restoring", name, 40)
        layout.configure(group, record, node)
        feeder.attach(node.data / "pg_wal")
        recovery = {
            "restore_command": conf_quote(
                archive.restore_command(
                    layout.bin_dir, source_node.archive, source_record["compression"], feeder.stage
                )
            ),
            "recovery_target_timeline": "'latest'",
            "recovery_target_action": "'promote'",
            # The unpacked backup is not on disk yet: one syncfs() rather than an
            # fsync() per file of the data directory before recovery starts.
            "recovery_init_sync_method": "'syncfs'",
        }
        if not to_the_end:
            recovery["recovery_target_time"] = conf_quote(format_time(point))
        node.write_recovery(recovery)
        cancelled.stop_if_cancelled()
        tracker.update(name, phase=NodePhase.REPLAYING, wal_done=0)
        node.start()
        report("restoring", name, 50)
        with ReplayWatch(
            node,
            archive.parse_lsn(chosen["start_lsn"]),
            lambda done: tracker.update(name, wal_done=done),
            cancelled,
        ):
            try:
                node.wait_ready(timeout=RECOVERY_TIMEOUT)
            except NodeFailed as error:
                raise feeder.explain(error) from error
        feeder.check_end(bool(to_the_end))
        feeder.close()
        promoted = utcnow()
        node.drop_recovery()
        # The source's roles came with its data, and it may predate the current rules.
        with node.connect(group["database"]) as conn:
            roles.secure(conn, group["admin_user"])
        cancelled.stop_if_cancelled()
        tracker.update(name, phase=NodePhase.BACKING_UP)
        report("backing up", name, 80)
        # The new timeline's history file and first segment reach the node's own archive.
        archive.seal(node)
        if record["compression"] == source_record["compression"]:
            try:
                taken = backup.adopt(pg, node, source_node, chosen, promoted, record["compression"])
            except FileNotFoundError as error:
                raise NodeFailed(
                    f"{node.label}: the source's backup or archived WAL disappeared during "
                    f"the restore (was the source deleted?): {error.filename}"
                ) from error
        else:  # the archives are not interchangeable: copy every byte once more
            taken = backup.take(pg, node)
        cancelled.stop_if_cancelled()
        report("backing up", name, 100)
        return taken

    def restore_node_fed(index: int) -> BackupRecord:
        try:
            return restore_node(index)
        finally:
            if index in feeders:  # its recovery ended, failed or was cancelled
                feeders.pop(index).close()

    records = in_parallel(list(range(len(group["nodes"]))), restore_node_fed)
    for index, node in enumerate(layout.nodes(group)):
        with node.connect() as conn:
            conn.execute("SELECT pg_reload_conf()")
        if not node.is_running():
            raise NodeFailed(f"{node.label}: stopped after promotion; see {node.log}.")
        group["nodes"][index]["backups"] = [records[index]]
    with layout.catalog.change() as data:
        stored = group_record(data, target)
        if (stored.get("restore") or {}).get("cancelled_at"):
            raise cancelled.error()
        for stored_node, record in zip(stored["nodes"], group["nodes"], strict=True):
            stored_node["backups"] = record["backups"]
        stored["status"] = GroupStatus.READY
        if latest and source["status"] == GroupStatus.READY:
            stored["restore_point"] = format_time(point)
        stored.pop("owner", None)
        stored.pop("restore", None)
    for name in tracker.nodes:
        tracker.update(name, phase=NodePhase.READY)
    rates.record_restore(layout.root, target, time.monotonic() - tracker.began, tracker.measured())
    report("ready", None, 100)
