"""Run one restore to its end, in the task worker (or the command line's process):
claim the row, begin and wait through the backend, beat the heartbeat, write progress."""

from __future__ import annotations

import logging
import threading
import time

from django.db import connection
from django.db.models import F
from django.utils import timezone

from portal.backends import BackendError, get_backend
from portal.backends.base import Backend, Progress, ProgressCallback, RestoreRequest

from .. import estimates
from ..models import RestoreOperation
from .outcomes import (
    restore_operation_end_in_error,
    restore_operation_fail,
    restore_operation_succeed,
)

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
CANCEL_CHECK_SECONDS = 1.0  # how soon a running restore sees a cancel asked elsewhere
Status = RestoreOperation.Status


def progress_json(progress: Progress) -> dict:
    return {
        "nodes": {name: figures.to_json() for name, figures in progress.details.items()},
        "seconds_left": progress.seconds_left,
        "coarse": progress.coarse,
        "message": progress.message,
    }


class ProgressWriter:
    """Writes a backend's progress to the row: every phase change, and at most twice a
    second; ``echo`` (the command line's --wait) sees every report.

    A backend reports from threads of its own (one per node, a replay watcher): a write
    from any thread but the writer's closes that thread's database connection after it,
    or each restore would leave one open per thread until the garbage collector ran."""

    def __init__(self, operation_id: int, echo: ProgressCallback | None = None):
        self.operation_id = operation_id
        self.echo = echo
        self.last_phase = ""
        self.last_message = ""
        self.last_write = 0.0
        self.nodes: dict[str, int] = {}
        self.figures: dict = {}
        self.owner = threading.current_thread()

    def __call__(self, progress: Progress) -> None:
        self.nodes.update(progress.nodes)
        if progress.details or progress.coarse or progress.message:
            self.figures = progress_json(progress)
        if self.echo is not None:
            self.echo(progress)
        now = time.monotonic()
        changed = progress.message and progress.message != self.last_message
        if progress.phase == self.last_phase and not changed and now - self.last_write < 0.5:
            return
        self.last_phase, self.last_write = progress.phase, now
        fields = {
            "phase": progress.phase[:100],
            "node_progress": dict(self.nodes),
            "heartbeat_at": timezone.now(),
        }
        if progress.message:
            self.last_message = fields["progress_message"] = progress.message
        try:
            RestoreOperation.objects.filter(pk=self.operation_id, status=Status.RUNNING).update(
                **fields, progress=self.figures
            )
        finally:
            if threading.current_thread() is not self.owner:
                connection.close()


class Heartbeat:
    """Marks the row alive while a long backend call blocks, so the watchdog leaves it,
    and passes a cancel asked for meanwhile on to the backend."""

    def __init__(self, operation_id: int, backend: Backend):
        self.operation_id = operation_id
        self.backend = backend
        self.token = ""
        self.cancel_sent = False
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.beat, daemon=True)

    def beat(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self.stop.wait(CANCEL_CHECK_SECONDS):
                rows = RestoreOperation.objects.filter(
                    pk=self.operation_id, status__in=[Status.RUNNING, Status.CANCELLING]
                )
                if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = time.monotonic()
                    rows.update(heartbeat_at=timezone.now())
                if rows.filter(status=Status.CANCELLING).exists():
                    self.pass_cancel_on()
        finally:
            connection.close()

    def pass_cancel_on(self) -> None:
        if self.cancel_sent or not self.token:
            return
        self.cancel_sent = True
        try:
            self.backend.cancel_restore(self.token)
        except BackendError as error:
            logger.info("restore operation %s: cancel: %s", self.operation_id, error.message)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def restore_operation_run(*, operation_id: int, echo: ProgressCallback | None = None) -> None:
    """Run (or resume) one restore to its end. Called by the task worker (and by the
    command line's restore, in its own process)."""
    now = timezone.now()
    claimed = RestoreOperation.objects.filter(pk=operation_id, status=Status.QUEUED).update(
        status=Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        logger.info("restore operation %s is not queued; nothing to do", operation_id)
        return
    operation = RestoreOperation.objects.get(pk=operation_id)
    try:
        backend = get_backend(operation.backend)
    except BackendError as error:
        restore_operation_fail(operation=operation, message=error.message, cleanup="")
        return
    token = operation.token
    try:
        with Heartbeat(operation_id, backend) as heartbeat:
            if not token:
                token = backend.begin_restore(
                    RestoreRequest(
                        source_id=operation.source_id,
                        target_name=operation.target_name,
                        point_in_time=operation.requested_point,
                        choice=operation.choice,
                    )
                )
                RestoreOperation.objects.filter(pk=operation_id).update(token=token)
            heartbeat.token = token
            estimates.operation_estimate_store(operation_id=operation_id, backend=backend)
            # A cancel that came before the token: the restore must not start.
            if RestoreOperation.objects.filter(pk=operation_id, status=Status.CANCELLING).exists():
                heartbeat.pass_cancel_on()
            result = backend.wait_restore(token, ProgressWriter(operation_id, echo))
    except BackendError as error:
        restore_operation_end_in_error(
            operation=operation, message=error.message, backend=backend, token=token
        )
        return
    except Exception as error:
        logger.exception("restore operation %s failed unexpectedly", operation_id)
        restore_operation_end_in_error(
            operation=operation,
            message=f"The restore stopped on an unexpected error: {error}",
            backend=backend,
            token=token,
        )
        return
    restore_operation_succeed(
        operation=operation, target_id=result.target_id, point=result.point_in_time
    )
