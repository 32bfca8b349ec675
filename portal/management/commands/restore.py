"""``restore SOURCE (--earliest | --latest | --point ISO8601) --name NEW [--wait]``.

With --wait the restore runs in this process and the command ends when the new group
is Ready (or the restore failed and was rolled back). Without it the name is reserved
and the restore continues in a detached process, so the command returns at once; a
restore whose process dies is cleaned up by the agent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backends import get_backend
from portal.backends.base import BackendError, Progress, RestoreRequest
from portal.instants import utc_text

from .servergroups import find_group, to_json


def parse_point(text: str) -> datetime:
    """An ISO 8601 time with an offset or Z; a time without one is refused, never
    read as local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise CommandError(
            f"'{text}' is not an ISO 8601 time; write e.g. 2026-11-24T10:30:00Z."
        ) from error
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CommandError(
            f"The restore point '{text}' has no UTC offset; add Z or +00:00 "
            "(it is never read as local time)."
        )
    return moment


class Command(BaseCommand):
    help = "Restore a server group to a point in time into a new server group."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", nargs="?", help="the server group to restore")
        point = parser.add_mutually_exclusive_group()
        point.add_argument("--earliest", action="store_true", help="the earliest restore point")
        point.add_argument(
            "--latest",
            action="store_true",
            help="the latest restore point: everything committed before the restore runs",
        )
        point.add_argument("--point", help="ISO 8601 time with offset or Z, e.g. ...T10:30:00Z")
        parser.add_argument("--name", help="name of the new server group")
        parser.add_argument("--wait", action="store_true", help="run until the group is Ready")
        parser.add_argument("--backend", help="registry key of the source's backend")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--resume", metavar="TOKEN", help="(internal) finish a restore")

    def handle(self, *args, **options) -> None:
        try:
            if options["resume"]:
                self.resume(options["backend"] or "local", options["resume"], options["json"])
            else:
                self.start(options)
        except BackendError as error:
            raise CommandError(str(error)) from error

    def start(self, options: dict) -> None:
        if not options["source"]:
            raise CommandError("Name the server group to restore: restore SOURCE ...")
        if not options["earliest"] and not options["latest"] and not options["point"]:
            raise CommandError(
                "Choose --earliest, --latest or --point ISO8601 (with Z or an offset)."
            )
        if not options["name"]:
            raise CommandError("Name the new server group with --name NEW.")
        point = parse_point(options["point"]) if options["point"] else None
        choice = "latest" if options["latest"] else ("custom" if point else "earliest")
        backend, group = find_group(options["source"], options["backend"])
        if not backend.can_restore:
            raise CommandError(f"The {backend.label} backend cannot restore server groups.")
        if choice not in backend.restore_choices(group):
            raise CommandError(
                f"The {backend.label} backend offers no --{choice} restore for {group.name}."
            )
        token = backend.begin_restore(
            RestoreRequest(
                source_id=group.id,
                target_name=options["name"],
                point_in_time=point,
                choice=choice,
            )
        )
        if options["wait"]:
            self.resume(backend.key, token, options["json"])
            return
        subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py, no shell
            [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "restore",
                "--backend",
                backend.key,
                "--resume",
                token,
            ],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = {"target": options["name"], "status": "Restoring", "source": group.name}
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"The restore of '{group.name}' to '{options['name']}' has been initiated; "
                f"see: python manage.py servergroups show {options['name']}"
            )

    def resume(self, backend_key: str, token: str, as_json: bool) -> None:
        backend = get_backend(backend_key)
        last: list[str] = []

        def progress(report: Progress) -> None:
            line = f"{report.phase}: " + ", ".join(f"{n} {p}%" for n, p in report.nodes.items())
            if line != (last[-1] if last else None) and not as_json:
                self.stderr.write(line)
            last.append(line)

        result = backend.wait_restore(token, progress)
        group = backend.get_server_group(result.target_id)
        if as_json:
            self.stdout.write(to_json(group))
        else:
            point = utc_text(result.point_in_time, empty="the earliest restore point")
            self.stdout.write(
                f"Restored '{group.restored_from}' at {point} to '{group.name}': {group.status}."
            )
