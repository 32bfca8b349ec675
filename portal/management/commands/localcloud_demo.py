"""Ensure the demo group ``citus-demo`` exists (once; quick when it does), or with
--writer write a few rows a minute on every node until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import threading

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backends import BackendError

from .servergroups import local_backend


class Command(BaseCommand):
    help = "Create the demo server group citus-demo once, or run its gentle writer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--writer", action="store_true", help="run the demo writer loop")
        parser.add_argument("--every", type=float, default=15.0, help="writer: seconds per row")
        parser.add_argument("--backend", default="local")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        backend = local_backend(options["backend"])
        demo = backend.demo_name
        if options["writer"]:
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
            signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
            self.stdout.write(
                f"demo writer: a row on every node of {demo} every {options['every']:g} s"
            )
            backend.demo_write(stop, options["every"])
            return
        try:
            created = backend.demo_ensure()
        except BackendError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps({"name": demo, "created": created}))
        else:
            self.stdout.write(f"{demo}: {'created' if created else 'already exists'}")
