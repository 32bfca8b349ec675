"""The localcloud engine: server groups of PostgreSQL 15 instances on this machine.

The engine is the one public entry (``Engine``) and composes the parts, none of which
imports it back: the group layout it is (``layout``), the catalog and its records
(``catalog``, ``records``), processes and ports (``proc``), the restore window
(``window``), WAL archiving and sealing (``archive``), base backups (``backup``), the
whole-group restore (``restore``), firewall rules (``firewall``), server parameters
(``parameters``), the WAL event index (``walindex``) and previews (``preview``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from . import (
    archive,
    backup,
    defaults,
    firewall,
    osusers,
    parameters,
    preview,
    roles,
    walindex,
    window,
)
from .catalog import group_record
from .errors import (
    Busy,
    InvalidName,
    LocalCloudError,
    NameTaken,
    NodeFailed,
    NotFound,
    NotReady,
    RestoreFailed,
)
from .layout import PG_BIN, Layout
from .model import (
    Backup,
    EventIndex,
    FirewallRule,
    Group,
    NodeInfo,
    Preview,
    PreviewTable,
    QueryResult,
    TableComparison,
    format_time,
    parse_time,
    utcnow,
)
from .names import name_problem
from .node import Node
from .proc import HOST, free_ports, in_parallel, owner_alive, owner_record
from .progress import ProgressFn, WatchFn
from .records import (
    UNFINISHED,
    BackupRecord,
    CatalogData,
    GroupRecord,
    GroupStatus,
    NodeRecord,
)
from .restore import restore_into


class Engine(Layout):
    """Server groups under ``root``: catalog, data directories, archives and backups.

    Several processes (the web process, the task worker, the agent) may use the same
    root at once; the catalog serialises their changes.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        subscription: str = defaults.SUBSCRIPTION,
        resource_group: str = defaults.RESOURCE_GROUP,
        location: str = defaults.LOCATION,
        base_port: int = 15432,
        retention: timedelta = timedelta(days=7),
        backup_interval: timedelta = timedelta(hours=24),
        pg_bin: str | Path = PG_BIN,
        os_user: str = "postgres",
        large_change_rows: int = 1000,
        preview_ttl: timedelta = timedelta(minutes=15),
    ):
        super().__init__(root, base_port=base_port, pg_bin=pg_bin, os_user=os_user)
        self.subscription = subscription
        self.resource_group = resource_group
        self.location = location
        self.retention = retention
        self.backup_interval = backup_interval
        # A DELETE or UPDATE of more rows than this in one transaction is an event.
        self.large_change_rows = large_change_rows
        self.preview_ttl = preview_ttl

    # Reads ---------------------------------------------------------------------------

    def _view(self, group: GroupRecord) -> Group:
        nodes = []
        live = []
        for record in group["nodes"]:
            node = self.node(group, record)
            running = node.is_running()
            live.append(running)
            nodes.append(
                NodeInfo(
                    name=record["name"],
                    role=record["role"],
                    host=HOST,
                    port=record["port"],
                    database=group["database"],
                    user=group["admin_user"],
                    running=running,
                    data_dir=str(node.data),
                    socket_dir=str(node.socket_dir),
                    backups=tuple(Backup.from_record(b) for b in record.get("backups", [])),
                )
            )
        status = group["status"]
        if status == GroupStatus.READY and not all(live):
            status = GroupStatus.UNAVAILABLE
        return Group(
            name=group["name"],
            status=status,
            subscription=group["subscription"],
            resource_group=group["resource_group"],
            location=group["location"],
            database=group["database"],
            admin_user=group["admin_user"],
            admin_password=group["admin_password"],
            created_at=parse_time(group["created_at"]),
            desired=group["desired"],
            nodes=tuple(nodes),
            tags=dict(group.get("tags", {})),
            restored_from=group.get("restored_from", ""),
            restore_point=parse_time(group.get("restore_point")),
            firewall_rules=tuple(FirewallRule(**rule) for rule in group.get("firewall_rules", [])),
            parameters=dict(group.get("parameters", {})),
            uid=group["uid"],
            restored_from_uid=group.get("restored_from_uid") or "",
            earliest_restore=window.earliest_point(group),
        )

    def list_groups(self) -> list[Group]:
        data = self.catalog.read()
        return [self._view(group) for _, group in sorted(data["groups"].items())]

    def get_group(self, name: str) -> Group:
        return self._view(self.catalog.group(name))

    def name_available(self, name: str) -> str | None:
        problem = name_problem(name)
        if problem:
            return problem
        if name in self.catalog.read()["groups"]:
            return f"A server group named '{name}' already exists."
        return None

    def _check_new_name(self, data: CatalogData, name: str) -> None:
        problem = name_problem(name)
        if problem:
            raise InvalidName(problem)
        if name in data["groups"]:
            raise NameTaken(f"A server group named '{name}' already exists.")

    def _new_record(self, data: CatalogData, name: str, workers: int, **fields) -> GroupRecord:
        taken = {node["port"] for group in data["groups"].values() for node in group["nodes"]}
        ports = free_ports(workers + 1, above=self.base_port, taken=taken)
        names = ["coordinator"] + [f"worker-{i}" for i in range(1, workers + 1)]
        uid = str(uuid.uuid4())
        record = {
            "name": name,
            "uid": uid,
            # As root, the group's nodes run as an OS user of its own (osusers.py); a
            # restore joins its source's lineage group (begin_restore).
            "os_user": osusers.user_name(uid) if os.geteuid() == 0 else None,
            "os_group": osusers.lineage_name(uid) if os.geteuid() == 0 else None,
            "security": roles.VERSION,
            "subscription": fields.get("subscription") or self.subscription,
            "resource_group": fields.get("resource_group") or self.resource_group,
            "location": fields.get("location") or self.location,
            "database": fields.get("database") or "citus",
            "admin_user": fields.get("admin_user") or "citus",
            "admin_password": secrets.token_urlsafe(18),
            "tags": dict(fields.get("tags") or {}),
            "created_at": format_time(utcnow()),
            "desired": "running",
            "status": fields.get("status", GroupStatus.PROVISIONING),
            "owner": owner_record(),
            "firewall_rules": [],
            "parameters": {},
            "nodes": [
                {
                    "name": node_name,
                    "role": "coordinator" if index == 0 else "worker",
                    "port": port,
                    "compression": archive.compression(),
                    "backups": [],
                    "last_commit": None,
                }
                for index, (node_name, port) in enumerate(zip(names, ports, strict=True))
            ],
        }
        data["groups"][name] = record
        return record

    # Lifecycle -----------------------------------------------------------------------

    def create_group(
        self,
        name: str,
        workers: int = 2,
        *,
        tags: dict[str, str] | None = None,
        database: str = "citus",
        admin_user: str = "citus",
        subscription: str = "",
        resource_group: str = "",
        location: str = "",
        setup: Callable[[str, psycopg.Connection], None] | None = None,
    ) -> Group:
        """Create, start and back up a new group; on failure nothing of it remains.

        ``setup(node_name, connection)`` runs on every node, connected to the group's
        database, before the first backup, so that the earliest restore point has it.
        """
        if not isinstance(workers, int) or workers < 0 or workers > 32:
            raise LocalCloudError("A server group has 0 to 32 worker nodes.")
        for label, value in (("database", database), ("admin user", admin_user)):
            if not value.isidentifier() or value.lower() != value:
                raise LocalCloudError(f"The {label} name '{value}' must be a lowercase identifier.")
        self.prepare()
        with self.catalog.change() as data:
            self._check_new_name(data, name)
            group = self._new_record(
                data,
                name,
                workers,
                tags=tags,
                database=database,
                admin_user=admin_user,
                subscription=subscription,
                resource_group=resource_group,
                location=location,
            )
        try:
            self.make_group_dirs(group)

            def build(record: NodeRecord) -> BackupRecord:
                node = self.node(group, record)
                node.initdb()
                self.configure(group, record, node)
                node.start()
                node.wait_ready()
                with node.connect() as conn:
                    conn.execute(
                        # No CREATEROLE: see roles.py for how the admin role manages roles.
                        sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                            sql.Identifier(group["admin_user"]),
                            sql.Literal(group["admin_password"]),
                        )
                    )
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(group["database"]), sql.Identifier(group["admin_user"])
                        )
                    )
                with node.connect(group["database"]) as conn:
                    roles.secure(conn, group["admin_user"])
                if setup is not None:
                    with node.connect(group["database"]) as conn:
                        # As the group's admin role, as a DBA would: the tables are then
                        # theirs (and readable in a preview, which never runs as superuser).
                        conn.execute(
                            sql.SQL("SET ROLE {}").format(sql.Identifier(group["admin_user"]))
                        )
                        setup(record["name"], conn)
                return backup.take(node.pg, node)

            records = in_parallel(group["nodes"], build)
        except BaseException:
            self.remove_group(name)
            raise
        with self.catalog.change() as data:
            stored = group_record(data, name)
            for node_record, backup_record in zip(stored["nodes"], records, strict=True):
                node_record["backups"] = [backup_record]
            stored["status"] = GroupStatus.READY
            stored.pop("owner", None)
        return self.get_group(name)

    def remove_group(self, name: str) -> None:
        """Stop every node of ``name``, delete its files and its catalog entry (and its
        previews and WAL index entries)."""
        preview.close_for_group(self, name)
        walindex.forget(self.root, name)
        data = self.catalog.read()
        group = data["groups"].get(name)
        if group is not None:
            in_parallel(self.nodes(group), lambda node: node.kill())
        shutil.rmtree(self.group_dir(name), ignore_errors=True)
        with self.catalog.change() as data:
            data["groups"].pop(name, None)
            lineage_left = group is not None and any(
                other.get("os_group") == group.get("os_group") for other in data["groups"].values()
            )
        if group is not None and group.get("os_user"):
            shutil.rmtree(self.group_socket_dir(group), ignore_errors=True)
            if not lineage_left:
                osusers.remove_lineage(group["os_group"])

    def delete_group(self, name: str) -> None:
        with self.catalog.change() as data:
            group = group_record(data, name)
            if group["status"] in (GroupStatus.RESTORING, GroupStatus.PROVISIONING) and owner_alive(
                group.get("owner")
            ):
                raise Busy(
                    f"Server group '{name}' is still being {group['status'].lower()[:-3]}ed "
                    f"by process {group['owner']['pid']}; try again when it has finished."
                )
            group["status"] = GroupStatus.DELETING
        self.remove_group(name)

    def start_group(self, name: str) -> Group:
        with self.catalog.change() as data:
            group = group_record(data, name)
            if group["status"] not in (GroupStatus.READY, GroupStatus.STOPPED):
                raise NotReady(f"Server group '{name}' is {group['status'].lower()}.")
            group["desired"] = "running"
        self._bring_up(group)
        with self.catalog.change() as data:
            group = group_record(data, name)
            group["status"] = GroupStatus.READY
            for record in group["nodes"]:
                record["last_commit"] = None
        self.secure_group(name)
        return self.get_group(name)

    def _bring_up(self, group: GroupRecord) -> None:
        def up(node: Node) -> None:
            if not node.is_running():
                node.start()
                node.wait_ready()

        in_parallel(self.nodes(group), up)

    def secure_group(self, name: str) -> bool:
        """Bring a group made before the current security rules up to them (pg_hba
        without trust, the admin role without CREATEROLE, see roles.py); True when it
        did. Needs every node running; a no-op for a group already secured."""
        group = self.catalog.group(name)
        if group.get("security", 0) >= roles.VERSION or group["status"] != GroupStatus.READY:
            return False
        nodes = self.nodes(group)
        if not all(node.is_running() for node in nodes):
            return False
        cidrs = firewall.hba_cidrs(group.get("firewall_rules", []))
        for node in nodes:
            node.write_hba(cidrs)
            with node.connect(group["database"]) as conn:
                conn.execute("SELECT pg_reload_conf()")
                roles.secure(conn, group["admin_user"])
        with self.catalog.change() as data:
            stored = data["groups"].get(name)
            if stored is not None and stored["uid"] == group["uid"]:
                stored["security"] = roles.VERSION
        return True

    def ensure_running(self, name: str) -> bool:
        """Start the nodes of a group meant to run that are down; True when it did."""
        group = self.catalog.group(name)
        if group["status"] != GroupStatus.READY or group["desired"] != "running":
            return False
        if all(node.is_running() for node in self.nodes(group)):
            return False
        self._bring_up(group)
        return True

    def stop_group(self, name: str) -> Group:
        """Seal and stop every node; the archive then holds every commit, whose last
        time (per node) bounds the restore window of a stopped group."""
        group = self.catalog.group(name)
        if group["status"] not in (GroupStatus.READY, GroupStatus.STOPPED):
            raise NotReady(f"Server group '{name}' is {group['status'].lower()}.")
        with self.catalog.change() as data:
            group_record(data, name)["desired"] = "stopped"

        def down(node: Node) -> str | None:
            if not node.is_running():
                return None
            archive.seal(node)
            with node.connect() as conn:
                last = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
            node.stop()
            return format_time(last) if last else None

        lasts = in_parallel(self.nodes(group), down)
        with self.catalog.change() as data:
            stored = group_record(data, name)
            stored["status"] = GroupStatus.STOPPED
            for record, last in zip(stored["nodes"], lasts, strict=True):
                if last is not None:
                    record["last_commit"] = last
        return self.get_group(name)

    def stop_all(self) -> None:
        """Stop every node (without sealing), e.g. when tearing down a test root."""
        for group in self.catalog.read()["groups"].values():
            in_parallel(self.nodes(group), lambda node: node.stop())

    # Backups -------------------------------------------------------------------------

    def backup_group(self, name: str) -> Group:
        group = self.catalog.group(name)
        if self.get_group(name).status != GroupStatus.READY:
            raise NotReady(f"Server group '{name}' is not running; start it to back it up.")
        records = in_parallel(self.nodes(group), lambda node: backup.take(node.pg, node))
        with self.catalog.change() as data:
            stored = data["groups"].get(name)
            if stored is not None:
                for node_record, backup_record in zip(stored["nodes"], records, strict=True):
                    node_record["backups"].append(backup_record)
        return self.get_group(name)

    def expire(self, name: str, now: datetime | None = None) -> int:
        """Apply retention to one group; returns how many backups were deleted."""
        now = now or utcnow()
        plans = []
        with self.catalog.change() as data:
            group = group_record(data, name)
            for record in group["nodes"]:
                dropped = backup.expired(record["backups"], self.retention, now)
                ids = {b["id"] for b in dropped}
                record["backups"] = [b for b in record["backups"] if b["id"] not in ids]
                plans.append((record, list(record["backups"]), dropped))
        for record, kept, dropped in plans:
            node = self.node(group, record)
            backup.expire(node.pg, node, kept, dropped, record["compression"])
        return sum(len(dropped) for _, _, dropped in plans)

    def backup_due(self, name: str, now: datetime | None = None) -> bool:
        group = self.get_group(name)
        if group.status != GroupStatus.READY:
            return False
        backups = [b for node in group.nodes for b in node.backups]
        if backups and all(b.adopted for b in backups):
            # A restore made the group Ready on an adopted backup, to be quick; the
            # agent's next pass takes one of its own, without delaying the restore.
            return True
        ends = [b.end_time for b in backups]
        return not ends or (now or utcnow()) - max(ends) >= self.backup_interval

    # Restore -------------------------------------------------------------------------

    def restore_window(self, name: str) -> tuple[datetime, datetime]:
        """(earliest, latest) restore point of ``name``, UTC, both inclusive."""
        return window.restore_window(self.catalog.group(name))

    def restore(
        self,
        source: str,
        target: str,
        point_in_time: datetime | None = None,
        progress: ProgressFn | None = None,
        *,
        latest: bool = False,
    ) -> Group:
        """Restore ``source`` as it was at ``point_in_time`` (None: the earliest point;
        ``latest``: everything committed before the restore starts) into a new group
        ``target``; returns the new group, Ready."""
        self.begin_restore(source, target, point_in_time, latest=latest)
        return self.run_restore(target, progress)

    def begin_restore(
        self,
        source: str,
        target: str,
        point_in_time: datetime | None = None,
        *,
        latest: bool = False,
    ) -> Group:
        """Validate, then reserve ``target`` in the catalog (status Restoring).

        With ``latest`` the restore seals the source when it runs and recovers to the end
        of the archive; its restore point is then when the sealing began.
        Of two concurrent calls for one target name exactly one succeeds. Nothing is
        created on disk yet; ``run_restore`` does the work.
        """
        problem = name_problem(target)
        if problem:
            raise InvalidName(problem)
        source_record = self.catalog.group(source)
        if latest:
            point = window.restore_window(source_record)[1]
        else:
            point = window.check_point(source_record, point_in_time)
        self.prepare()
        with self.catalog.change() as data:
            self._check_new_name(data, target)
            source_record = group_record(data, source)
            group = self._new_record(
                data,
                target,
                len(source_record["nodes"]) - 1,
                status=GroupStatus.RESTORING,
                subscription=source_record["subscription"],
                resource_group=source_record["resource_group"],
                location=source_record["location"],
                database=source_record["database"],
                admin_user=source_record["admin_user"],
                tags=source_record.get("tags"),
            )
            # The data (and so the admin role's password) comes from the source.
            group["admin_password"] = source_record["admin_password"]
            group["owner"] = None
            group["restored_from"] = source
            group["restored_from_uid"] = source_record["uid"]
            if source_record.get("os_user") and group["os_user"]:
                group["os_group"] = source_record["os_group"]
            else:  # from a group made before OS users: its files are the engine user's
                group["os_user"] = group["os_group"] = None
            group["restore_point"] = format_time(point)
            group["restore"] = {"began_at": format_time(utcnow()), "latest": latest}
        return self._view(group)

    def run_restore(
        self, target: str, progress: ProgressFn | None = None, watch: WatchFn | None = None
    ) -> Group:
        """Do (or finish) the restore reserved by ``begin_restore``.

        Safe to call again after the calling process died: a restore whose owner is gone
        starts over from a clean slate. While another live process owns it, this waits.
        """
        self.prepare()
        while True:
            with self.catalog.change() as data:
                group = group_record(data, target)
                if not group.get("restored_from"):
                    raise NotReady(
                        f"Server group '{target}' was not restored; no restore to finish."
                    )
                if group["status"] != GroupStatus.RESTORING:
                    if group["status"] == GroupStatus.READY:
                        return self._view(group)
                    raise NotReady(f"Server group '{target}' is {group['status'].lower()}.")
                if not owner_alive(group.get("owner")):
                    group["owner"] = owner_record()
                    break
            time.sleep(0.2)
        try:
            restore_into(
                self,
                target,
                progress or (lambda phase, node, percent: None),
                watch,
                remove=self.remove_group,
            )
        except OSError as error:
            # A file the restore reads or writes went away (the source deleted meanwhile)
            # or could not be written; restore_into() has already removed the target.
            raise RestoreFailed(
                f"The restore to '{target}' failed and was rolled back: "
                f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")
            ) from error
        return self.get_group(target)

    def cancel_restore(self, target: str) -> str:
        """Stop the restore into ``target`` at whatever step it is; returns what was done.

        The flag in the catalog stops the restoring process at its next check (tar and
        recovery are watched); the target's servers are killed at once. When no live
        process owns the restore, its leftovers are removed here. The source is only read
        by a restore, so nothing of it needs undoing.
        """
        with self.catalog.change() as data:
            group = data["groups"].get(target)
            if group is None or not group.get("restored_from"):
                raise NotFound(f"There is no restore into '{target}' to cancel.")
            if group["status"] != GroupStatus.RESTORING:
                raise NotReady(
                    f"The restore into '{target}' has already finished: the group is "
                    f"{group['status'].lower()}. Delete the group if it is not wanted."
                )
            group.setdefault("restore", {})["cancelled_at"] = format_time(utcnow())
            owner = group.get("owner")
        in_parallel(self.nodes(group), lambda node: node.kill())
        if owner_alive(owner):
            return f"Stopping the restore into '{target}'; its process removes what it made."
        self.remove_group(target)
        return f"Removed the unfinished server group '{target}' and stopped its nodes."

    def abandon_restore(self, target: str) -> str:
        """Remove what an unfinished restore of ``target`` left; a Ready group stays."""
        group = self.catalog.read()["groups"].get(target)
        if group is None or group["status"] not in UNFINISHED:
            return ""
        self.remove_group(target)
        return f"Removed the unfinished server group '{target}' and stopped its nodes."

    def clean_stale(self, grace: timedelta = timedelta(minutes=2)) -> list[str]:
        """Remove groups left Restoring/Provisioning/Deleting by a process that died."""
        cleaned = []
        now = utcnow()
        for name, group in self.catalog.read()["groups"].items():
            if group["status"] not in UNFINISHED:
                continue
            if owner_alive(group.get("owner")):
                continue
            began = parse_time(group.get("restore", {}).get("began_at")) or parse_time(
                group["created_at"]
            )
            if now - began < grace:
                continue
            self.remove_group(name)
            cleaned.append(name)
        return cleaned

    # The WAL event index (walindex/) ---------------------------------------------------

    def index_events(self, name: str) -> int:
        """Read the archived WAL of ``name`` not indexed yet; returns how many WAL
        records were read. Incremental: each call starts where the last one stopped."""
        group = self.catalog.group(name)
        if group["status"] not in ("Ready", "Stopped"):
            return 0

        def still_wanted() -> bool:
            found = self.catalog.read()["groups"].get(name)
            return found is not None and found["status"] in ("Ready", "Stopped")

        def earliest() -> datetime | None:
            try:
                return self.restore_window(name)[0]
            except NotReady:
                return None

        nodes = [
            walindex.ArchivedNode(record["name"], self.node(group, record), record["compression"])
            for record in group["nodes"]
        ]
        return walindex.index_group(
            self.root,
            name,
            nodes,
            threshold=self.large_change_rows,
            still_wanted=still_wanted,
            earliest=earliest,
        )

    def index_events_soon(self, name: str) -> str:
        """Seal ``name`` (when Ready) and index its WAL in the background; returns at
        once with a token for ``index_pass_state``. Raises NotFound."""
        self.catalog.group(name)

        def work() -> None:
            if self.catalog.group(name)["status"] == "Ready":
                self.seal_group(name)
            self.index_events(name)

        return walindex.background.start(self.root, name, work)

    def index_pass_state(self, name: str, token: str) -> tuple[bool, str]:
        """(finished, why it failed) of the pass ``index_events_soon`` returned
        ``token`` for."""
        return walindex.background.state(self.root, name, token)

    def seal_group(self, name: str) -> None:
        """Make every commit so far on the running nodes of ``name`` archived (and so
        indexable and restorable): one commit and a WAL switch per node."""
        group = self.catalog.group(name)
        running = [node for node in self.nodes(group) if node.is_running()]
        in_parallel(running, archive.seal)

    def events(
        self,
        name: str,
        start: datetime | None = None,
        end: datetime | None = None,
        step: timedelta | None = None,
    ) -> EventIndex:
        """The indexed events and activity of ``name`` between ``start`` and ``end``
        (both inclusive, None: unbounded); with ``step``, activity summed over nodes in
        buckets of that width. Reads the index only: fast."""
        group = self.catalog.read()["groups"].get(name)
        nodes = [record["name"] for record in group["nodes"]] if group else []
        return walindex.read_group(self.root, name, nodes, start, end, step)

    # Previews (preview/) ---------------------------------------------------------------

    def preview_start(
        self, name: str, point: datetime, node: str = "coordinator", ttl: timedelta | None = None
    ) -> Preview:
        """Start a read-only recovery of one node of ``name`` paused at ``point``;
        returns at once with status Starting (``preview_status`` tells when it is Ready)."""
        return preview.start(self, name, point, node, ttl or self.preview_ttl)

    def preview_status(self, preview_id: str) -> Preview:
        return preview.status(self, preview_id)

    def preview_tables(self, preview_id: str) -> list[PreviewTable]:
        return preview.table_rows(self, preview_id)

    def preview_query(
        self, preview_id: str, query: str, *, limit: int = 100, timeout: float = 5.0
    ) -> QueryResult:
        return preview.run_query(self, preview_id, query, limit=limit, timeout=timeout)

    def preview_compare(self, preview_id: str) -> list[TableComparison]:
        """The preview's tables at T beside the same node's tables now."""
        return preview.compare_with_now(self, preview_id)

    def preview_close(self, preview_id: str) -> bool:
        """Stop and remove a preview; False when there was none (closed or expired)."""
        return preview.close(self, preview_id)

    def list_previews(self) -> list[Preview]:
        return preview.list_all(self)

    def close_all_previews(self) -> list[str]:
        """Stop and remove every preview (the agent stops); returns their ids."""
        return preview.close_all(self)

    def sweep_previews(self, now: datetime | None = None) -> list[str]:
        """Remove previews past their time-to-live; returns their ids."""
        return preview.sweep(self, now or utcnow())

    # Firewall rules and parameters ---------------------------------------------------

    def _apply_hba(self, name: str) -> None:
        group = self.catalog.group(name)
        firewall.apply(self.nodes(group), group["firewall_rules"])

    def set_firewall_rule(self, name: str, rule: str, start_ip: str, end_ip: str) -> None:
        firewall.check_rule(rule, start_ip, end_ip)
        with self.catalog.change() as data:
            group = group_record(data, name)
            group["firewall_rules"] = firewall.with_rule(
                group["firewall_rules"], rule, start_ip, end_ip
            )
        self._apply_hba(name)

    def delete_firewall_rule(self, name: str, rule: str) -> None:
        with self.catalog.change() as data:
            group = group_record(data, name)
            group["firewall_rules"] = firewall.without_rule(group["firewall_rules"], rule)
        self._apply_hba(name)

    def set_parameter(self, name: str, parameter: str, value: str) -> bool:
        """ALTER SYSTEM on every node; returns True when a restart is needed to apply."""
        spec = parameters.apply(self.nodes(self.catalog.group(name)), name, parameter, value)
        with self.catalog.change() as data:
            parameters.store(group_record(data, name)["parameters"], spec, value)
        return spec.needs_restart

    def _lineage(self, data: CatalogData, source: str, target: str) -> GroupRecord:
        """The record of ``source`` when ``target`` was restored from that very group
        (by id, not by name); raises with why not."""
        record = group_record(data, target)
        wanted = record.get("restored_from_uid")
        if not record.get("restored_from"):
            raise NotReady(f"Server group '{target}' was not restored from another group.")
        found = data["groups"].get(source)
        if found is None or found["uid"] != wanted:
            if source != record["restored_from"]:
                what = f"'{target}' was restored from '{record['restored_from']}', not '{source}'"
            elif found is None:
                what = f"its source '{source}' has been deleted"
            else:
                what = (
                    f"the group now named '{source}' is not the one it was restored from "
                    "(that group was deleted and another created under its name)"
                )
            raise NotFound(
                f"Settings cannot be copied into '{target}': {what}. Set its firewall rules "
                "and parameters by hand."
            )
        return found

    def copy_firewall_rules(self, source: str, target: str) -> int:
        """Copy the firewall rules of the group ``target`` was restored from."""
        with self.catalog.change() as data:
            rules = self._lineage(data, source, target)["firewall_rules"]
            group_record(data, target)["firewall_rules"] = [dict(rule) for rule in rules]
        self._apply_hba(target)
        return len(rules)

    def copy_parameters(self, source: str, target: str) -> tuple[int, bool]:
        """Copy the curated parameters of the group ``target`` was restored from;
        returns (count, whether a restart is needed)."""
        values = self._lineage(self.catalog.read(), source, target)["parameters"]
        restart = False
        for parameter, value in values.items():
            restart = self.set_parameter(target, parameter, value) or restart
        return len(values), restart

    def copy_settings(self, source: str, target: str) -> dict:
        """The post-restore task: copy firewall rules and parameters from source to target."""
        rules = self.copy_firewall_rules(source, target)
        count, restart = self.copy_parameters(source, target)
        return {"firewall_rules": rules, "parameters": count, "needs_restart": restart}

    # Access ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def connect(
        self, name: str, node: str = "coordinator", dbname: str | None = None
    ) -> Iterator[psycopg.Connection]:
        """A superuser connection through the engine's private socket."""
        group = self.catalog.group(name)
        handle = self._node_named(group, node)
        try:
            conn = handle.connect(dbname or group["database"])
        except psycopg.OperationalError as error:
            raise NodeFailed(f"{handle.label}: cannot connect: {error}") from error
        with conn:
            yield conn

    @contextlib.contextmanager
    def connect_as_admin(
        self, name: str, node: str = "coordinator", *, application_name: str = "localcloud"
    ) -> Iterator[psycopg.Connection]:
        """A connection as the group's admin role with its password, as a DBA's client
        connects (no superuser rights), to the group's database; autocommit."""
        group = self.catalog.group(name)
        handle = self._node_named(group, node)
        try:
            conn = psycopg.connect(
                host=str(handle.socket_dir),
                port=handle.port,
                user=group["admin_user"],
                password=group["admin_password"],
                dbname=group["database"],
                autocommit=True,
                connect_timeout=5,
                application_name=application_name,
            )
        except psycopg.OperationalError as error:
            raise NodeFailed(
                f"{handle.label}: cannot connect as the admin role: {error}"
            ) from error
        with conn:
            yield conn

    def _node_named(self, group: GroupRecord, node: str) -> Node:
        records = [record for record in group["nodes"] if record["name"] == node]
        if not records:
            raise NotFound(f"Server group '{group['name']}' has no node '{node}'.")
        return self.node(group, records[0])

    def role_names(self, name: str) -> list[str]:
        """The roles of ``name`` a DBA made (not PostgreSQL's own ``pg_*``), by name."""
        with self.connect(name) as conn:
            return roles.names(conn)

    def check(self) -> list[str]:
        problems = archive.check_tools() + self.private_problems()
        if not (Path(self.pg.bin_dir) / "postgres").exists():
            problems.append(f"PostgreSQL 15 binaries not found in {self.pg.bin_dir}.")
        return problems
