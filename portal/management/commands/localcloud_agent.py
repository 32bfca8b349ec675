"""The localcloud agent: keeps groups in their desired state, takes scheduled backups,
expires old ones and removes restores whose process died. Stops on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.backends import BackendError

from .servergroups import local_backend


class Command(BaseCommand):
    help = "Run the localcloud agent loop (or one pass with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=10.0, help="seconds between passes")
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--backend", default="local")
        parser.add_argument(
            "--stop-nodes-on-exit",
            action="store_true",
            help="stop every node when the agent stops (make run: Ctrl-C stops everything; "
            "the next start brings the nodes back)",
        )

    def handle(self, *args, **options) -> None:
        backend = local_backend(options["backend"])
        try:
            agent = backend.agent(interval=options["interval"])
        except BackendError as error:
            raise CommandError(error.message) from error
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
        try:
            agent.run(stop)
        finally:
            # A preview is a PostgreSQL instance with a copy of a group's data: none may
            # outlive the agent that sweeps them (make run's Ctrl-C ends here).
            closed = backend.close_all_previews()
            if closed:
                self.stdout.write(f"localcloud agent: closed {len(closed)} preview(s)")
        if options["stop_nodes_on_exit"]:
            backend.stop_all_nodes()
            self.stdout.write("localcloud agent: stopped every node")
        self.stdout.write("localcloud agent: stopped")
