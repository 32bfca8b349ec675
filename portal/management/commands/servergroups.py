"""``servergroups list | show | create | delete | start | stop | backup | events |
preview``, each with --json.

Reads go through every configured backend; lifecycle actions exist in localcloud only.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal import selectors
from portal.backends import get_backend, get_backends
from portal.backends.base import Backend, BackendError, NotFound, ServerGroup
from portal.backends.local import LocalBackend
from portal.instants import utc_iso, utc_text
from portal.management import events_listing, preview_session


def to_json(value) -> str:
    def default(item):
        if isinstance(item, datetime):
            return utc_iso(item)
        raise TypeError(f"{type(item).__name__} is not JSON serialisable")

    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    return json.dumps(value, default=default, indent=2)


def local_backend(backend_key: str = "local") -> LocalBackend:
    """The configured localcloud backend named ``backend_key``, or a clear error."""
    try:
        backend = get_backend(backend_key)
    except BackendError as error:
        raise CommandError(str(error)) from error
    if not isinstance(backend, LocalBackend):
        raise CommandError(
            f"This action exists for localcloud server groups only; the '{backend_key}' "
            "backend is not localcloud."
        )
    return backend


def find_group(name: str, backend_key: str | None = None) -> tuple[Backend, ServerGroup]:
    """The group ``name`` (an id or a name) in the given backend, else in any backend."""
    backends = get_backends()
    if backend_key is not None:
        if backend_key not in backends:
            raise CommandError(f"No backend named '{backend_key}' is configured.")
        backends = {backend_key: backends[backend_key]}
    problems = []
    for backend in backends.values():
        try:
            return backend, backend.get_server_group(name)
        except NotFound:
            continue
        except BackendError as error:
            problems.append(f"{backend.label}: {error}")
    detail = f" ({'; '.join(problems)})" if problems else ""
    raise CommandError(f"Server group '{name}' does not exist{detail}.")


def describe(group: ServerGroup) -> str:
    lines = [
        f"{group.name}  [{group.cloud}]  {group.status}",
        f"  Subscription:   {group.subscription}",
        f"  Resource group: {group.resource_group}",
        f"  Location:       {group.location}",
        f"  Database:       {group.database}   Admin user: {group.admin_user}",
        f"  Created:        {utc_text(group.created_at, empty='-')}",
        f"  Earliest restore point: {utc_text(group.earliest_restore, empty='-')}",
    ]
    if group.restored_from:
        point = utc_text(group.restore_point, empty="the earliest restore point")
        lines.append(f"  Restored from:  {group.restored_from} at {point}")
    if group.tags:
        lines.append("  Tags:           " + ", ".join(f"{k}={v}" for k, v in group.tags.items()))
    lines.append("  Nodes:")
    for node in group.nodes:
        lines.append(
            f"    {node.name:<12} {node.role:<11} host={node.host} port={node.port} "
            f"database={node.database} user={node.user} {node.status}"
        )
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "List, show, create, delete, start, stop and back up server groups, list their WAL "
        "events, and preview their data at a point."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)

        def action(name: str, help_text: str, *, named: bool = True) -> CommandParser:
            sub = actions.add_parser(name, help=help_text)
            if named:
                sub.add_argument("name")
            sub.add_argument("--json", action="store_true", help="machine-readable output")
            sub.add_argument("--backend", help="registry key of the backend (default: any)")
            return sub

        action("list", "every server group of every backend", named=False)
        show = action("show", "one server group with its nodes")
        show.add_argument("--show-password", action="store_true")
        create = action("create", "create a localcloud server group")
        create.add_argument("--workers", type=int, default=2)
        action("delete", "delete a localcloud server group and its backups")
        action("start", "start every node of a localcloud server group")
        action("stop", "stop every node of a localcloud server group")
        action("backup", "take a base backup of every node now")
        events = action("events", "the WAL's events (DROP, TRUNCATE, large DELETE/UPDATE)")
        events.add_argument("--since", help="ISO 8601 time with offset or Z, e.g. ...T10:30:00Z")
        preview = action("preview", "the data at a point, read-only; removed when this ends")
        preview.add_argument(
            "--point", required=True, help="ISO 8601 time with offset or Z, e.g. ...T10:30:00Z"
        )
        preview.add_argument("--node", default="coordinator", help="the node (coordinator)")
        preview.add_argument("--query", help="one read-only SELECT to run in the preview")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        as_json = options["json"]
        try:
            if action == "list":
                self.list(as_json, options["backend"])
            elif action == "show":
                self.show(options["name"], options["backend"], as_json, options["show_password"])
            elif action == "events":
                self.events(options["name"], options["backend"], as_json, options["since"])
            elif action == "preview":
                self.preview(options)
            else:
                self.local_action(action, options)
        except BackendError as error:
            raise CommandError(str(error)) from error

    def list(self, as_json: bool, backend_key: str | None) -> None:
        groups: list[ServerGroup] = []
        if backend_key is not None and backend_key not in get_backends():
            raise CommandError(f"No backend named '{backend_key}' is configured.")
        for key, backend in get_backends().items():
            if backend_key and key != backend_key:
                continue
            try:
                groups += backend.list_server_groups()
            except BackendError as error:
                self.stderr.write(f"{backend.label}: {error}")
        if as_json:
            self.stdout.write(to_json([dataclasses.asdict(group) for group in groups]))
            return
        if not groups:
            self.stdout.write("No server groups.")
            return
        self.stdout.write(f"{'NAME':<28} {'CLOUD':<7} {'STATUS':<12} {'NODES':>5}  COORDINATOR")
        for group in groups:
            where = f"{group.coordinator_host}:{group.coordinator_port or ''}"
            self.stdout.write(
                f"{group.name:<28} {group.cloud:<7} {group.status:<12} {group.node_count:>5}  "
                f"{where}"
            )

    def show(self, name: str, backend_key: str | None, as_json: bool, password: bool) -> None:
        backend, group = find_group(name, backend_key)
        group = selectors.servergroup_with_lineage(group)
        # A backend that cannot reveal it raises BackendError, which handle() reports.
        secret = backend.admin_password(group.id) if password else None
        if as_json:
            data = dataclasses.asdict(group)
            if secret is not None:
                data["admin_password"] = secret
            self.stdout.write(to_json(data))
            return
        self.stdout.write(describe(group))
        if secret is not None:
            self.stdout.write(f"  Admin password: {secret}")

    def events(self, name: str, backend_key: str | None, as_json: bool, since: str | None) -> None:
        moment = events_listing.parse_since(since) if since is not None else None
        backend, group = find_group(name, backend_key)
        found = events_listing.group_events(backend, group, moment)
        if as_json:
            self.stdout.write(to_json(events_listing.as_json(group, *found)))
        else:
            self.stdout.write(events_listing.as_text(group, *found))

    def preview(self, options: dict) -> None:
        point = preview_session.parse_point(options["point"])
        backend, group = find_group(options["name"], options["backend"])
        try:
            found = preview_session.run(
                backend, group, point, options["node"], options["query"], self.stderr.write
            )
        except KeyboardInterrupt:
            raise CommandError("Interrupted; the preview was removed.") from None
        if options["json"]:
            self.stdout.write(to_json(found))
        else:
            self.stdout.write(preview_session.as_text(found))

    def local_action(self, action: str, options: dict) -> None:
        backend = local_backend(options["backend"] or "local")
        name = options["name"]
        try:
            if action == "create":
                backend.create_server_group(name, workers=options["workers"])
                message = f"Created server group '{name}'."
            elif action == "delete":
                backend.delete_server_group(name)
                message = f"Deleted server group '{name}'."
            elif action == "start":
                backend.start_server_group(name)
                message = f"Started server group '{name}'."
            elif action == "stop":
                backend.stop_server_group(name)
                message = f"Stopped server group '{name}'."
            else:
                backend.backup_server_group(name)
                message = f"Backed up server group '{name}'."
        except BackendError as error:
            raise CommandError(str(error)) from error
        if action == "delete":
            payload = {"name": name, "deleted": True}
            self.stdout.write(to_json(payload) if options["json"] else message)
            return
        backend, group = find_group(name, options["backend"] or "local")
        self.stdout.write(to_json(group) if options["json"] else f"{message}\n{describe(group)}")
