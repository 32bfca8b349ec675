"""Backends over generated server groups: a read-only one for list and paging tests and
the 1,000-group benchmark, where creating real groups would take an hour, and one with
previews for the portal's limits on them."""

import secrets
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from portal.backends.base import (
    Backend,
    BackendError,
    Node,
    NotFound,
    PreviewInfo,
    PreviewRows,
    PreviewTable,
    RestoreWindow,
    ServerGroup,
    Timeline,
    TimelineEvent,
)

STATUSES = ["Ready", "Ready", "Ready", "Stopped", "Provisioning"]


class ListBackend(Backend):
    label = "Listed"
    can_restore = False

    def __init__(self, key: str, count: int = 0, prefix: str = "group"):
        super().__init__(key)
        base = datetime(2026, 11, 1, tzinfo=UTC)
        self.groups = [
            ServerGroup(
                backend=key,
                cloud=self.label,
                id=f"{prefix}-{i:04d}",
                name=f"{prefix}-{i:04d}",
                status=STATUSES[i % len(STATUSES)],
                subscription=f"sub-{i % 3}",
                resource_group=f"rg-{(i * 7) % 5}",
                location=["westeurope", "eastus", "northeurope"][i % 3],
                postgresql_version="15",
                coordinator_host=f"c.{prefix}-{i:04d}.example.test",
                coordinator_port=5432,
                node_count=1 + i % 4,
                earliest_restore=base + timedelta(hours=i),
                created_at=base,
                has_backup=True,
            )
            for i in range(count)
        ]
        self.by_name = {group.name: group for group in self.groups}

    def list_server_groups(self):
        return list(self.groups)

    def get_server_group(self, group_id):
        try:
            return self.by_name[group_id]
        except KeyError:
            raise NotFound(f"There is no server group named '{group_id}'.") from None

    find_server_group = get_server_group


class PreviewBackend(ListBackend):
    """Previews without PostgreSQL, for the portal's own limits on them: a preview is
    ready at once, and a query whose SQL starts with ``hang`` blocks, as a function
    trapping cancels held a web thread, until its preview is closed."""

    label = "Previews"
    can_restore = True
    can_preview = True
    preview_minutes = 15

    def __init__(self, key: str, count: int = 3, prefix: str = "group", max_previews: int = 8):
        super().__init__(key, count=count, prefix=prefix)
        coordinator = Node("coordinator", "coordinator", "localhost", 5432, "citus", "citus")
        self.groups = [
            replace(group, status="Ready", has_backup=True, nodes=(coordinator,))
            for group in self.groups
        ]
        self.by_name = {group.name: group for group in self.groups}
        self.max_previews = max_previews
        self.previews: dict[str, PreviewInfo] = {}
        self.stop_events: dict[str, threading.Event] = {}
        self.closed: list[str] = []
        self.lock = threading.Lock()

    def restore_window(self, group_id):
        now = datetime.now(UTC)
        return RestoreWindow(earliest=now - timedelta(days=1), latest=now)

    def name_available(self, name):
        return None

    def preview_start(self, group_id, point, node):
        with self.lock:
            if len(self.previews) >= self.max_previews:
                raise BackendError(f"{len(self.previews)} previews are open, the most at once.")
            preview = PreviewInfo(
                id=secrets.token_hex(6),
                node=node,
                point=point,
                status="Ready",
                expires_at=datetime.now(UTC) + timedelta(minutes=self.preview_minutes),
            )
            self.previews[preview.id] = preview
            self.stop_events[preview.id] = threading.Event()
        return preview

    def preview_status(self, preview_id):
        with self.lock:
            if preview_id not in self.previews:
                raise NotFound(f"There is no preview '{preview_id}'.")
            return self.previews[preview_id]

    def preview_tables(self, preview_id):
        self.preview_status(preview_id)
        return [PreviewTable("public", "orders", 3)]

    def preview_query(self, preview_id, sql, *, limit, timeout):
        stop = self.stop_events.get(preview_id)
        if stop is None:
            raise NotFound(f"There is no preview '{preview_id}'.")
        if sql.startswith("hang"):
            # Past any deadline the portal may set, unless the preview is closed.
            stop.wait(120)
            raise BackendError("The preview's server stopped while the query ran.")
        return PreviewRows(columns=("answer",), rows=(("42",),), truncated=False, elapsed_ms=0.1)

    def preview_close(self, preview_id):
        with self.lock:
            found = self.previews.pop(preview_id, None) is not None
            stop = self.stop_events.pop(preview_id, None)
            if found:
                self.closed.append(preview_id)
        if stop is not None:
            stop.set()
        return found


class TimelineBackend(PreviewBackend):
    """A day-long restore window with two DROP TABLEs one second apart, for pointing at
    and zooming the chart in a browser: a real group's window is only as old as the
    group, too short for one second to be lost in it. The events themselves are found
    in real WAL by the localcloud tests."""

    label = "Timeline"
    has_timeline = True

    def __init__(self, key: str, count: int = 1, prefix: str = "ledger"):
        super().__init__(key, count=count, prefix=prefix)
        self.latest = datetime.now(UTC).replace(microsecond=0)
        self.earliest = self.latest - timedelta(days=1)
        self.first_drop = self.latest - timedelta(hours=6, microseconds=250_000)

    def restore_window(self, group_id):
        return RestoreWindow(earliest=self.earliest, latest=self.latest)

    def timeline_refresh_start(self, group_id):
        return "indexed"  # nothing new to index: the pass is over at once

    def timeline_refresh_state(self, group_id, token):
        return True, ""

    def restore_timeline(self, group_id, window):
        drops = tuple(
            TimelineEvent(
                node="coordinator",
                kind="DROP TABLE",
                commit_time=self.first_drop + timedelta(seconds=index),
                before=self.first_drop + timedelta(seconds=index, milliseconds=-200),
                database="citus",
                relations=(table,),
            )
            for index, table in enumerate(("public.invoices", "public.orders"))
        )
        busy = tuple(
            (self.earliest + timedelta(minutes=minute), 10 + minute % 7)
            for minute in range(0, 24 * 60, 30)
        )
        return Timeline(
            backups=(("coordinator", self.earliest + timedelta(hours=1)),),
            events=drops,
            activity=busy,
            indexed_until=self.latest,
        )


class UnreachableWindowBackend(TimelineBackend):
    """A cloud whose restore window cannot be read: every wizard page says why (502)."""

    def restore_window(self, group_id):
        raise BackendError("The restore window could not be read: the cloud timed out.")
