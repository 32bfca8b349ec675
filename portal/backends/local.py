"""The portal's backend over localcloud: thin, so the engine keeps the logic and the
tests of the engine cover it. Engine errors reach the portal word for word."""

from __future__ import annotations

import contextlib
import json
import math
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from localcloud import Busy, Engine, Group, LocalCloudError, defaults, demo, estimate, names
from localcloud import NotFound as EngineNotFound
from localcloud import parameters as server_parameters
from localcloud.agent import Agent

from .base import (
    Backend,
    BackendError,
    BaseBackup,
    ConnectionInfo,
    CopyResult,
    FirewallRule,
    Node,
    NodeEstimate,
    NodeProgress,
    NotFound,
    Parameter,
    PreviewComparison,
    PreviewInfo,
    PreviewRows,
    PreviewStatus,
    PreviewTable,
    Progress,
    ProgressCallback,
    RestoreEstimate,
    RestorePhase,
    RestoreRequest,
    RestoreResult,
    RestoreWindow,
    ServerGroup,
    Timeline,
    TimelineEvent,
)

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "var" / "localcloud"


@contextlib.contextmanager
def engine_errors() -> Iterator[None]:
    try:
        yield
    except EngineNotFound as error:
        raise NotFound(error.message, code=error.code) from error
    except LocalCloudError as error:
        raise BackendError(
            error.message, permanent=not isinstance(error, Busy), code=error.code
        ) from error


class LocalBackend(Backend):
    key = "local"
    label = "Local"
    can_restore = True
    can_cancel = True
    has_timeline = True
    can_preview = True
    can_delete = True
    can_edit_settings = True
    restores_cost_money = False

    def __init__(
        self,
        key: str = "local",
        *,
        root: str | Path | None = None,
        subscription: str = defaults.SUBSCRIPTION,
        resource_group: str = defaults.RESOURCE_GROUP,
        location: str = defaults.LOCATION,
        base_port: int = 15432,
        retention_days: float = 7,
        backup_interval_hours: float = 24,
        pg_bin: str | Path | None = None,
        large_change_rows: int = 1000,
        preview_minutes: float = 15,
        **options,
    ):
        super().__init__(key, **options)
        self.large_change_rows = int(large_change_rows)
        self.preview_minutes = float(preview_minutes)
        self.engine = Engine(
            Path(root) if root else DEFAULT_ROOT,
            subscription=subscription,
            resource_group=resource_group,
            location=location,
            base_port=int(base_port),
            retention=timedelta(days=float(retention_days)),
            backup_interval=timedelta(hours=float(backup_interval_hours)),
            large_change_rows=int(large_change_rows),
            preview_ttl=timedelta(minutes=float(preview_minutes)),
            **({"pg_bin": pg_bin} if pg_bin else {}),
        )

    def _server_group(self, group: Group) -> ServerGroup:
        return ServerGroup(
            backend=self.key,
            cloud=self.label,
            id=group.name,
            name=group.name,
            status=group.status,
            subscription=group.subscription,
            resource_group=group.resource_group,
            location=group.location,
            postgresql_version=group.postgresql_version,
            coordinator_host=group.coordinator.host,
            coordinator_port=group.coordinator.port,
            database=group.database,
            admin_user=group.admin_user,
            node_count=len(group.nodes),
            nodes=tuple(
                Node(
                    name=node.name,
                    role=node.role,
                    host=node.host,
                    port=node.port,
                    database=node.database,
                    user=node.user,
                    status=node.status,
                )
                for node in group.nodes
            ),
            earliest_restore=group.earliest_restore,
            restored_from=group.restored_from,
            uid=group.uid,
            restored_from_uid=group.restored_from_uid,
            restore_point=group.restore_point,
            created_at=group.created_at,
            has_backup=group.has_backup,
            tags=group.tags,
        )

    # Reads

    def list_server_groups(self) -> list[ServerGroup]:
        with engine_errors():
            return [self._server_group(group) for group in self.engine.list_groups()]

    def get_server_group(self, group_id: str) -> ServerGroup:
        with engine_errors():
            return self._server_group(self.engine.get_group(group_id))

    def find_server_group(self, name: str) -> ServerGroup:
        # A local group's id is its name: one catalog read, not a listing.
        return self.get_server_group(name)

    def admin_password(self, group_id: str) -> str:
        """The generated admin password (not part of ServerGroup, so it is never shown
        by accident)."""
        with engine_errors():
            return self.engine.get_group(group_id).admin_password

    def restore_window(self, group_id: str) -> RestoreWindow:
        with engine_errors():
            earliest, latest = self.engine.restore_window(group_id)
        return RestoreWindow(earliest=earliest, latest=latest)

    def restore_choices(self, group: ServerGroup) -> tuple[str, ...]:
        return ("earliest", "custom", "latest")

    # localcloud's rule for names is the engine's own, which checks every new name too.
    name_max_length = names.NAME_MAX_LENGTH
    name_rule_text = names.NAME_RULE_TEXT

    def name_problem(self, name: str) -> str | None:
        return names.name_problem(name)

    def name_available(self, name: str) -> str | None:
        with engine_errors():
            return self.engine.name_available(name)

    # Restores

    def restore_estimate(
        self, group_id: str, choice: str, point: datetime | None
    ) -> RestoreEstimate | None:
        """From the backups and the archive of ``group_id`` and the rates this machine's
        past restores measured (``localcloud.estimate``)."""
        with engine_errors():
            found = estimate.estimate(
                self.engine,
                group_id,
                point if choice not in ("earliest", "latest") else None,
                latest=choice == "latest",
            )
        return RestoreEstimate(
            seconds=found.seconds,
            nodes=tuple(
                NodeEstimate(
                    node=node.node,
                    backup=node.backup_id,
                    backup_end=node.backup_end,
                    unpack_bytes=node.unpack_bytes,
                    wal_bytes=node.wal_bytes,
                    to_archive_end=node.to_archive_end,
                    seconds=node.seconds,
                )
                for node in found.nodes
            ),
            basis=found.basis,
            point=found.point,
        )

    def begin_restore(self, request: RestoreRequest) -> str:
        with engine_errors():
            group = self.engine.begin_restore(
                request.source_id,
                request.target_name,
                request.point_in_time,
                latest=request.choice == "latest",
            )
        return json.dumps({"target": group.name, "source": request.source_id})

    @staticmethod
    def _restore_target(token: str) -> str:
        """The target named by a token of ``begin_restore``; anything else is refused."""
        try:
            target = json.loads(token)["target"]
        except (ValueError, TypeError, KeyError):
            target = None
        if not isinstance(target, str):
            raise BackendError(f"'{token}' is not a restore token of localcloud.")
        return target

    def wait_restore(self, token: str, progress: ProgressCallback) -> RestoreResult:
        target = self._restore_target(token)
        state: dict = {"phase": "", "nodes": {}, "details": {}, "message": ""}
        lock = threading.Lock()

        def send() -> None:
            details = state["details"]
            left = [d.seconds_left for d in details.values() if d.seconds_left is not None]
            progress(
                Progress(
                    phase=state["phase"],
                    nodes=dict(state["nodes"]),
                    details=dict(details),
                    message=state["message"],
                    # Nodes restore in parallel: the group is done with its slowest node.
                    seconds_left=max(left) if left else None,
                )
            )

        def report(phase: str, node: str | None, percent: int) -> None:
            with lock:
                state["phase"] = phase
                if node is not None and node not in state["details"]:
                    state["nodes"][node] = percent
                elif phase == RestorePhase.READY:
                    state["nodes"].update(dict.fromkeys(state["nodes"], 100))
                send()

        def watch(figures: dict[str, dict]) -> None:
            with lock:
                state["details"] = {
                    name: NodeProgress.from_json(data) for name, data in figures.items()
                }
                state["nodes"].update({name: d.percent for name, d in state["details"].items()})
                # What a DBA should know, e.g. that a backup could not be verified.
                state["message"] = " ".join(d["note"] for d in figures.values() if d.get("note"))
                if state["phase"]:
                    send()

        with engine_errors():
            group = self.engine.run_restore(target, report, watch)
        return RestoreResult(
            target_id=group.name, target_name=group.name, point_in_time=group.restore_point
        )

    def abandon_restore(self, token: str) -> str:
        with engine_errors():
            return self.engine.abandon_restore(self._restore_target(token))

    def cancel_restore(self, token: str) -> str:
        with engine_errors():
            return self.engine.cancel_restore(self._restore_target(token))

    # Finding the right moment

    def restore_timeline(self, group_id: str, window: RestoreWindow) -> Timeline:
        with engine_errors():
            group = self.engine.get_group(group_id)
            # About as many activity buckets as the timeline draws bars.
            minutes = max(
                1, math.ceil((window.latest - window.earliest).total_seconds() / 60 / 240)
            )
            index = self.engine.events(
                group_id, window.earliest, window.latest, timedelta(minutes=minutes)
            )
        known = list(index.indexed_until.values())
        return Timeline(
            backups=tuple(
                (node.name, backup.end_time) for node in group.nodes for backup in node.backups
            ),
            events=tuple(
                TimelineEvent(
                    node=event.node,
                    kind=event.kind,
                    commit_time=event.commit_time,
                    before=event.before,
                    database=event.database,
                    relations=event.relations,
                    rows=event.rows,
                )
                for event in index.events
            ),
            activity=tuple((row.minute, row.commits) for row in index.activity),
            indexed_until=None if not known or None in known else min(known),
        )

    def refresh_timeline(self, group_id: str) -> None:
        with engine_errors():
            # The agent indexes what the archiver has archived; "now" includes the WAL
            # not archived yet, so switch to a new segment on every node first.
            self.engine.seal_group(group_id)
            self.engine.index_events(group_id)

    def timeline_refresh_start(self, group_id: str) -> str:
        with engine_errors():
            return self.engine.index_events_soon(group_id)

    def timeline_refresh_state(self, group_id: str, token: str) -> tuple[bool, str]:
        with engine_errors():
            return self.engine.index_pass_state(group_id, token)

    @staticmethod
    def _preview(preview) -> PreviewInfo:
        return PreviewInfo(
            id=preview.id,
            node=preview.node,
            point=preview.point,
            status=PreviewStatus(preview.status),
            expires_at=preview.expires_at,
            message=preview.message,
        )

    def preview_start(self, group_id: str, point, node: str) -> PreviewInfo:
        with engine_errors():
            return self._preview(self.engine.preview_start(group_id, point, node))

    def preview_status(self, preview_id: str) -> PreviewInfo:
        with engine_errors():
            return self._preview(self.engine.preview_status(preview_id))

    @staticmethod
    def _table(table) -> PreviewTable | None:
        if table is None:
            return None
        return PreviewTable(
            table.schema, table.name, table.rows, table.exact, table.size, table.note
        )

    def preview_tables(self, preview_id: str) -> list[PreviewTable]:
        with engine_errors():
            return [self._table(table) for table in self.engine.preview_tables(preview_id)]

    def preview_compare(self, preview_id: str) -> list[PreviewComparison]:
        with engine_errors():
            return [
                PreviewComparison(
                    row.schema, row.name, self._table(row.at_point), self._table(row.now)
                )
                for row in self.engine.preview_compare(preview_id)
            ]

    def preview_query(self, preview_id: str, sql: str, *, limit: int, timeout: float):
        with engine_errors():
            result = self.engine.preview_query(preview_id, sql, limit=limit, timeout=timeout)
        return PreviewRows(
            columns=result.columns,
            rows=result.rows,
            truncated=result.truncated,
            elapsed_ms=result.elapsed_ms,
            message=result.message,
        )

    def preview_close(self, preview_id: str) -> bool:
        with engine_errors():
            return self.engine.preview_close(preview_id)

    # Post-restore tasks

    def firewall_rules(self, group_id: str) -> list[FirewallRule]:
        with engine_errors():
            group = self.engine.get_group(group_id)
        return [FirewallRule(r.name, r.start_ip, r.end_ip) for r in group.firewall_rules]

    def parameters(self, group_id: str) -> list[Parameter]:
        with engine_errors():
            group = self.engine.get_group(group_id)
        return [
            Parameter(
                name=spec.name, value=value, default=spec.default, needs_restart=spec.needs_restart
            )
            for spec, value in server_parameters.changed(group.parameters)
        ]

    def roles(self, group_id: str) -> list[str]:
        with engine_errors():
            return self.engine.role_names(group_id)

    def copy_firewall_rules(self, source_id: str, target_id: str) -> CopyResult:
        with engine_errors():
            return CopyResult(firewall_rules=self.engine.copy_firewall_rules(source_id, target_id))

    def copy_parameters(self, source_id: str, target_id: str) -> CopyResult:
        with engine_errors():
            count, restart = self.engine.copy_parameters(source_id, target_id)
        return CopyResult(parameters=count, needs_restart=restart)

    # A group's blade

    def delete_server_group(self, group_id: str) -> None:
        # The engine refuses (Busy) while a live process still restores or creates it.
        with engine_errors():
            self.engine.delete_group(group_id)

    def backups(self, group_id: str) -> list[BaseBackup]:
        with engine_errors():
            group = self.engine.get_group(group_id)
        found = [
            BaseBackup(
                node=node.name,
                id=backup.id,
                start_time=backup.start_time,
                end_time=backup.end_time,
                size=backup.size,
                start_lsn=backup.start_lsn,
            )
            for node in group.nodes
            for backup in node.backups
        ]
        return sorted(found, key=lambda backup: (backup.end_time, backup.node))

    def connection_info(self, group_id: str) -> ConnectionInfo:
        with engine_errors():
            group = self.engine.get_group(group_id)
        coordinator = group.coordinator
        # The nodes listen on loopback without TLS: "disable" is what works here.
        return ConnectionInfo(
            host=coordinator.host,
            port=coordinator.port,
            database=group.database,
            user=group.admin_user,
            sslmode="disable",
        )

    def parameter_catalog(self, group_id: str) -> list[Parameter]:
        with engine_errors():
            group = self.engine.get_group(group_id)
        return [
            Parameter(
                name=spec.name, value=value, default=spec.default, needs_restart=spec.needs_restart
            )
            for spec, value in server_parameters.every(group.parameters)
        ]

    def set_firewall_rule(self, group_id: str, rule: FirewallRule) -> None:
        with engine_errors():
            self.engine.set_firewall_rule(group_id, rule.name, rule.start_ip, rule.end_ip)

    def delete_firewall_rule(self, group_id: str, name: str) -> None:
        with engine_errors():
            if name not in {rule.name for rule in self.engine.get_group(group_id).firewall_rules}:
                raise NotFound(f"Server group '{group_id}' has no firewall rule '{name}'.")
            self.engine.delete_firewall_rule(group_id, name)

    def set_parameter(self, group_id: str, name: str, value: str) -> bool:
        with engine_errors():
            return self.engine.set_parameter(group_id, name, value)

    @contextlib.contextmanager
    def check_connection(self, group_id: str, node: str, *, superuser: bool = False):
        if superuser:
            with engine_errors(), self.engine.connect(group_id, node) as conn:
                yield conn
            return
        with (
            engine_errors(),
            self.engine.connect_as_admin(group_id, node, application_name="restore drill") as conn,
        ):
            yield conn

    def check(self) -> list[str]:
        return self.engine.check()

    # This machine's engine on the command line (servergroups, localcloud_agent,
    # localcloud_demo): a group's lifecycle, the agent and the demo. Failures are
    # BackendErrors, as everywhere else.

    def create_server_group(self, name: str, *, workers: int) -> None:
        with engine_errors():
            self.engine.create_group(name, workers)

    def start_server_group(self, group_id: str) -> None:
        with engine_errors():
            self.engine.start_group(group_id)

    def stop_server_group(self, group_id: str) -> None:
        with engine_errors():
            self.engine.stop_group(group_id)

    def backup_server_group(self, group_id: str) -> None:
        with engine_errors():
            self.engine.backup_group(group_id)

    def agent(self, *, interval: float) -> Agent:
        """The agent over this engine, once the start-up check passed: the root holds
        admin passwords and every group's data."""
        with engine_errors():
            self.engine.prepare()
        return Agent(self.engine, interval=interval)

    def close_all_previews(self) -> list[str]:
        """Close every preview (none may outlive the agent); returns their ids."""
        with engine_errors():
            return self.engine.close_all_previews()

    def stop_all_nodes(self) -> None:
        with engine_errors():
            self.engine.stop_all()

    demo_name = demo.DEMO

    def demo_ensure(self) -> bool:
        """Create the demo group once; False when it exists already."""
        with engine_errors():
            return demo.ensure_demo(self.engine)

    def demo_write(self, stop: threading.Event, every: float) -> None:
        """Write a row on every node of the demo group every ``every`` s until ``stop``."""
        demo.writer(self.engine, stop, every)
