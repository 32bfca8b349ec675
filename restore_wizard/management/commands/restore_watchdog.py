"""Hands restores whose task worker died back to a worker; stops cleanly on SIGTERM."""

import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from restore_wizard.services.operations import restore_operations_recover


class Command(BaseCommand):
    help = "Watch running restores and resume those whose worker stopped."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=10.0)
        parser.add_argument("--once", action="store_true", help="Check once and exit.")

    def handle(self, *args, interval: float, once: bool, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        while True:
            for operation_id in restore_operations_recover():
                self.stdout.write(f"Handed restore operation {operation_id} back to a worker.")
            # Connections are this long-running loop's business, not the service's: closing
            # them inside the service would end a caller's transaction.
            close_old_connections()
            if once or stop.wait(interval):
                return
