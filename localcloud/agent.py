"""The loop that keeps groups in their desired state, backs them up and expires backups."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from .engine import Engine
from .errors import LocalCloudError

log = logging.getLogger("localcloud.agent")


class Agent:
    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = 10.0,
        stale_grace: timedelta = timedelta(minutes=2),
    ):
        self.engine = engine
        self.interval = interval
        self.stale_grace = stale_grace

    def run_once(self) -> list[str]:
        """One pass over every group; returns what it did, one line per action.

        A failure in one group is logged and does not stop the others.
        """
        done = []
        for name in self.engine.clean_stale(self.stale_grace):
            done.append(f"{name}: removed an unfinished restore or creation whose process died")
        for preview_id in self.engine.sweep_previews():
            done.append(f"preview {preview_id}: removed at the end of its time-to-live")
        for group in self.engine.list_groups():
            try:
                if self.engine.ensure_running(group.name):
                    done.append(f"{group.name}: started nodes that were down")
                if self.engine.secure_group(group.name):
                    done.append(f"{group.name}: applied the current security rules")
                if self.engine.backup_due(group.name):
                    self.engine.backup_group(group.name)
                    done.append(f"{group.name}: took a scheduled backup")
                expired = self.engine.expire(group.name)
                if expired:
                    done.append(f"{group.name}: expired {expired} backup(s)")
                if group.status in ("Ready", "Stopped"):
                    self.engine.index_events(group.name)
            except LocalCloudError as error:
                done.append(f"{group.name}: {error}")
                log.warning("%s", error)
        for line in done:
            log.info("%s", line)
        return done

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; the wait between passes ends at once when it is."""
        while not stop.is_set():
            self.run_once()
            stop.wait(self.interval)
