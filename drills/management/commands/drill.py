"""``drill GROUP [--point latest|random|earliest] [--wait] [--json]``.

With --wait the drill runs in this process and the command ends with its evidence
(exit status 1 when the drill failed). Without it the drill is queued for the
scheduler (``manage.py drill_scheduler``) and the command returns at once.
"""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from drills import selectors, services
from drills.models import Drill
from portal.backends import get_backends


class Command(BaseCommand):
    help = "Restore a server group into a scratch group, check it, record the evidence, remove it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("group", help="the server group to drill")
        parser.add_argument("--point", choices=Drill.Point.values, default=Drill.Point.LATEST)
        parser.add_argument("--wait", action="store_true", help="run the drill here, to its end")
        parser.add_argument("--backend", help="registry key of the group's backend")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, group: str, point: str, wait: bool, backend, **options) -> None:
        keys = [backend] if backend else list(get_backends())
        if not keys:
            raise CommandError("No cloud is configured (PORTAL_BACKENDS).")
        refusals = []
        for key in keys:
            try:
                drill = services.drill_start(
                    backend_key=key, group_name=group, point_choice=point, trigger=Drill.Trigger.CLI
                )
                break
            except services.DrillRefused as refused:
                refusals.append(refused.message)
        else:
            raise CommandError(" ".join(refusals))
        if wait:
            drill = self.run_to_end(drill.pk)
        if options["json"]:
            self.stdout.write(json.dumps(selectors.drill_record(drill)))
        elif not wait:
            self.stdout.write(
                f"Drill {drill.pk} of '{group}' is queued for the scheduler; it restores into "
                f"'{drill.scratch_name}'."
            )
        else:
            for check in drill.checks:
                mark = {True: "ok", False: "FAILED", None: "not run"}[check["passed"]]
                self.stdout.write(f"{check['node']}: {check['check']}: {mark} ({check['detail']})")
            rto = f"{drill.rto_seconds:.2f} s" if drill.rto_seconds is not None else "-"
            outcome = drill.get_status_display().lower()
            self.stdout.write(
                f"Drill {drill.pk} of '{group}' {outcome}: time to Ready {rto}. "
                f"{drill.message} Clean-up: {drill.cleanup}".replace("  ", " ")
            )
        if wait and drill.status == Drill.Status.FAILED:
            raise SystemExit(1)

    def run_to_end(self, drill_id: int) -> Drill:
        """Run the drill here once the portal's limit of running drills lets it start (a
        scheduler may also take it: then wait for its end)."""
        said = False
        while True:
            drill = services.drill_run(drill_id=drill_id)
            if drill.status not in Drill.ACTIVE:
                return drill
            if not said and drill.status == Drill.Status.QUEUED:
                self.stderr.write(
                    f"Waiting: {services.drills_running()} drill(s) run already, the "
                    "portal's limit (PORTAL_DRILLS_MAX_RUNNING)."
                )
                said = True
            time.sleep(1)
