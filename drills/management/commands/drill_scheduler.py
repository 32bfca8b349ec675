"""The drill scheduler loop (Procfile): queues due drills, runs queued ones, and
finishes drills whose process died. Stops cleanly on SIGTERM.

Drills run in threads of this process, never on the task worker real restores use;
none starts while a real restore is queued, and at most PORTAL_DRILLS_MAX_RUNNING run
in the whole portal. Several schedulers may run: every claim is a conditional update.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from drills import services

logger = logging.getLogger(__name__)


def run_one(drill_id: int) -> None:
    try:
        services.drill_run(drill_id=drill_id)
    finally:
        connection.close()


class Command(BaseCommand):
    help = "Start scheduled restore drills and run queued ones."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0)
        parser.add_argument(
            "--once", action="store_true", help="one pass; wait for the drills it started"
        )

    def handle(self, *args, interval: float, once: bool, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        threads: list[threading.Thread] = []
        while True:
            drill_id = None
            try:
                drill_id = self.one_pass(threads)
            except Exception:
                # One bad pass (a database that went away) must not end the loop: under
                # honcho a process that exits stops every other one.
                if once:
                    raise
                logger.exception("drill scheduler pass failed; trying again")
            threads = [thread for thread in threads if thread.is_alive()]
            close_old_connections()
            if once:
                for thread in threads:
                    thread.join()
                return
            if stop.wait(interval if drill_id is None else 0.2):
                # A drill in flight finishes its clean-up before the process exits.
                for thread in threads:
                    thread.join()
                return

    def one_pass(self, threads: list[threading.Thread]) -> int | None:
        """Recover, retry failed clean-ups, queue what is due, start the next runnable
        drill; its id or None."""
        for drill_id in services.drills_recover():
            self.stdout.write(f"Finished drill {drill_id}, whose process had stopped.")
        for drill_id in services.drills_cleanup_retry():
            self.stdout.write(f"Removed the scratch group of drill {drill_id} on a retry.")
        for drill_id in services.drills_schedule_due():
            self.stdout.write(f"Queued scheduled drill {drill_id}.")
        drill_id = services.drill_next_runnable()
        if drill_id is not None:
            self.stdout.write(f"Running drill {drill_id}.")
            thread = threading.Thread(target=run_one, args=(drill_id,), daemon=True)
            thread.start()
            threads.append(thread)
        return drill_id
