"""The localcloud agent: keeps groups in their desired state, takes scheduled backups,
expires old ones and removes restores whose process died. Stops on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandParser

from localcloud.agent import Agent

from .servergroups import local_engine


class Command(BaseCommand):
    help = "Run the localcloud agent loop (or one pass with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=10.0, help="seconds between passes")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--backend", default="local")

    def handle(self, *args, **options) -> None:
        agent = Agent(local_engine(options["backend"]), interval=options["interval"])
        if options["once"]:
            for line in agent.run_once():
                self.stdout.write(line)
            return
        stop = threading.Event()

        def request_stop(signum, frame) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"localcloud agent: a pass every {options['interval']:g} s")
        agent.run(stop)
        self.stdout.write("localcloud agent: stopped")
