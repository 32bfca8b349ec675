"""``restore SOURCE (--earliest | --latest | --point ISO8601) --name NEW [--wait] [--as USER]
[--dry-run]``, ``restore --cancel OPERATION``.

A restore from the command line is a RestoreOperation like one from the portal's OK:
it shows in Restore operations, the operators' bell and the Activity log, started by
the OS user (or, with ``--as``, a portal user). The point and the name are checked and
the name reserved before the command returns. With --wait the restore runs in this
process, printing every node's progress, and the command ends when the new group is
Ready (or the restore failed or was cancelled, and was rolled back). Without it the
restore continues in a detached process; if that process dies, the watchdog hands the
operation to a task worker. --dry-run checks the point and the name, starts nothing, and
prints the estimate: per node the backup, the bytes to unpack, the WAL to replay and the
time (``--json``: the same under ``estimate``).

It lives in the restore wizard, not the portal, because it writes the wizard's records
(imports go one way: restore_wizard -> portal).
"""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from portal.backends import get_backend
from portal.backends.base import BackendError, GroupStatus, Progress, RestoreRequest
from portal.instants import parse_instant, utc_text
from portal.management.commands.servergroups import find_group, to_json
from restore_wizard import estimates
from restore_wizard.models import RestoreOperation
from restore_wizard.services.checks import (
    DRILL_NAME,
    RestoreRefused,
    restore_point_problem,
    restore_target_problem,
)
from restore_wizard.services.operations import restore_operation_cancel, restore_operation_record
from restore_wizard.services.runner import restore_operation_run
from restore_wizard.templatetags.restore_tags import duration

Status = RestoreOperation.Status


def parse_point(text: str) -> datetime:
    """The restore point as typed (portal.instants.parse_instant), refused in words."""
    try:
        return parse_instant(text, label="The restore point")
    except ValueError as error:
        raise CommandError(str(error)) from error


def progress_line(report: Progress) -> str:
    """``restoring: coordinator Replaying WAL 62% (27.0 MB of 42.0 MB WAL), ...; 3 s left``."""
    if not report.details:
        return f"{report.phase}: " + ", ".join(f"{n} {p}%" for n, p in report.nodes.items())
    parts = []
    for name, node in report.details.items():
        part = f"{name} {node.phase.label} {node.percent}%"
        if node.phase.value == "unpacking" and node.bytes_total:
            part += f" ({filesizeformat(node.bytes_done)} of {filesizeformat(node.bytes_total)})"
        elif node.phase.value == "replaying" and node.wal_total:
            part += f" ({filesizeformat(node.wal_done)} of {filesizeformat(node.wal_total)} WAL)"
        parts.append(part)
    left = f"; {duration(report.seconds_left)} left" if report.seconds_left is not None else ""
    return f"{report.phase}: " + ", ".join(parts) + left


class Command(BaseCommand):
    help = "Restore a server group to a point in time into a new server group, or cancel one."

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
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the point and the name and print the estimate; start nothing",
        )
        parser.add_argument("--backend", help="registry key of the source's backend")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--as",
            dest="as_user",
            metavar="USERNAME",
            help="a portal user to record",
        )
        parser.add_argument(
            "--cancel", metavar="OPERATION", type=int, help="stop a running restore operation"
        )
        parser.add_argument("--resume", metavar="TOKEN", help="(internal) finish a restore")
        parser.add_argument(
            "--run-operation", metavar="ID", type=int, help="(internal) run a recorded restore"
        )

    def handle(self, *args, **options) -> None:
        try:
            if options["cancel"] is not None:
                self.cancel(options)
            elif options["run_operation"] is not None:
                restore_operation_run(operation_id=options["run_operation"])
            elif options["resume"]:
                self.resume(options["backend"] or "local", options["resume"], options["json"])
            else:
                self.start(options)
        except BackendError as error:
            raise CommandError(str(error)) from error

    def portal_user(self, username: str | None):
        if username is None:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no portal user '{username}'; --as names a portal user.")
        return user

    def start(self, options: dict) -> None:
        if not options["source"]:
            raise CommandError("Name the server group to restore: restore SOURCE ...")
        if not options["earliest"] and not options["latest"] and not options["point"]:
            raise CommandError(
                "Choose --earliest, --latest or --point ISO8601 (with Z or an offset)."
            )
        if not options["name"]:
            raise CommandError("Name the new server group with --name NEW.")
        if DRILL_NAME.fullmatch(options["name"]):
            raise CommandError(
                f"Names ending in '-drill-' and a number, like '{options['name']}', are "
                "reserved for restore drills' scratch groups. Choose another name."
            )
        point = parse_point(options["point"]) if options["point"] else None
        choice = "latest" if options["latest"] else ("custom" if point else "earliest")
        user = self.portal_user(options["as_user"])
        backend, group = find_group(options["source"], options["backend"])
        if not backend.can_restore:
            raise CommandError(f"The {backend.label} backend cannot restore server groups.")
        if choice not in backend.restore_choices(group):
            raise CommandError(
                f"The {backend.label} backend offers no --{choice} restore for {group.name}."
            )
        if options["dry_run"]:
            self.dry_run(backend, group, choice, point, options)
            return
        token = backend.begin_restore(
            RestoreRequest(
                source_id=group.id,
                target_name=options["name"],
                point_in_time=point,
                choice=choice,
            )
        )
        try:
            operation = restore_operation_record(
                backend=backend,
                group=group,
                choice=choice,
                point=point,
                target_name=options["name"],
                token=token,
                user=user,
                started_by_name="" if user else getpass.getuser(),
            )
        except Exception:
            backend.abandon_restore(token)
            raise
        if options["wait"]:
            self.run_and_report(operation.pk, options["json"])
            return
        subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py, no shell
            [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "restore",
                "--run-operation",
                str(operation.pk),
            ],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        result = {
            "target": options["name"],
            "status": GroupStatus.RESTORING,
            "source": group.name,
            "operation": operation.pk,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"The restore of '{group.name}' to '{options['name']}' has been initiated "
                f"(operation #{operation.pk}); see: python manage.py servergroups show "
                f"{options['name']}"
            )

    def dry_run(self, backend, group, choice: str, point, options: dict) -> None:
        """What ``restore`` would do, and how long it would take; nothing is started."""
        problem = restore_target_problem(backend=backend, group=group, target_name=options["name"])
        if problem:
            raise CommandError(problem)
        if point is not None:
            window = backend.restore_window(group.id)
            problem = restore_point_problem(point=point, window=window, now=timezone.now())
            if problem:
                raise CommandError(problem)
        estimate = backend.restore_estimate(group.id, choice, point)
        if options["json"]:
            result = {
                "target": options["name"],
                "status": "Dry run",
                "source": group.name,
                "choice": choice,
                "point": point.isoformat() if point else None,
                "estimate": estimate.to_json() if estimate else None,
            }
            self.stdout.write(json.dumps(result))
            return
        where = utc_text(estimate.point) if estimate and estimate.point else choice
        lines = [f"Dry run, nothing was started: restoring '{group.name}' to {where} "]
        lines[0] += f"into '{options['name']}'."
        if estimate is None:
            lines.append(f"The {backend.label} backend gives no estimate.")
        else:
            lines.append(estimates.summary(estimate) + ".")
            lines += [f"  {estimates.node_words(node)}" for node in estimate.nodes]
            if estimate.basis:
                lines.append(f"From {estimate.basis}.")
        self.stdout.write("\n".join(lines))

    def echo(self, as_json: bool):
        last: list[str] = []

        def progress(report: Progress) -> None:
            line = progress_line(report)
            if line != (last[-1] if last else None) and not as_json:
                self.stderr.write(line)
            last.append(line)

        return progress

    def run_and_report(self, operation_id: int, as_json: bool) -> None:
        restore_operation_run(operation_id=operation_id, echo=self.echo(as_json))
        operation = RestoreOperation.objects.get(pk=operation_id)
        if operation.status != Status.SUCCEEDED:
            detail = f" {operation.cleanup}" if operation.cleanup else ""
            raise CommandError(f"{operation.message}{detail}")
        backend = get_backend(operation.backend)
        group = backend.get_server_group(operation.target_id)
        if as_json:
            self.stdout.write(to_json(group))
        else:
            point = utc_text(operation.restored_point, empty="the earliest restore point")
            self.stdout.write(
                f"Restored '{group.restored_from}' at {point} to '{group.name}': {group.status}."
            )

    def cancel(self, options: dict) -> None:
        user = self.portal_user(options["as_user"])
        if not RestoreOperation.objects.filter(pk=options["cancel"]).exists():
            raise CommandError(f"There is no restore operation #{options['cancel']}.")
        try:
            operation = restore_operation_cancel(
                operation_id=options["cancel"], user=user, actor_name=getpass.getuser()
            )
        except RestoreRefused as error:
            raise CommandError(error.message) from error
        while options["wait"] and operation.status == Status.CANCELLING:
            time.sleep(0.2)
            operation.refresh_from_db()
        result = {
            "operation": operation.pk,
            "target": operation.target_name,
            "status": operation.get_status_display(),
            "cancelled_by": operation.cancelled_by_name,
            "cleanup": operation.cleanup,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"Restore operation #{operation.pk} to '{operation.target_name}': "
                f"{result['status']}. {operation.cleanup}".rstrip()
            )

    def resume(self, backend_key: str, token: str, as_json: bool) -> None:
        backend = get_backend(backend_key)
        result = backend.wait_restore(token, self.echo(as_json))
        group = backend.get_server_group(result.target_id)
        if as_json:
            self.stdout.write(to_json(group))
        else:
            point = utc_text(result.point_in_time, empty="the earliest restore point")
            self.stdout.write(
                f"Restored '{group.restored_from}' at {point} to '{group.name}': {group.status}."
            )
