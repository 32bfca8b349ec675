"""kill -9 of the task worker (a real ``manage.py db_worker``) in each phase of a local
restore. The watchdog hands the restore to a new worker, which finishes it, or gives up
after ``MAX_ATTEMPTS`` and cleans up. Either way nothing half-made is left and the source
is unchanged and still restorable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from portal.backends import get_backend
from portal.models import ActivityEvent, Notification
from restore_wizard.models import RestoreOperation
from restore_wizard.services.operations import (
    MAX_ATTEMPTS,
    STALE_AFTER,
    restore_operation_start,
    restore_operations_recover,
)

from .conftest import (
    SOURCE,
    archiving_blocked,
    fingerprint,
    nothing_left_of,
    only_source_processes,
    processes_under,
    wait_for,
)

pytestmark = pytest.mark.slow
Status = RestoreOperation.Status
NODES = ("coordinator", "worker-1")


def start(operator, target: str, point=None) -> RestoreOperation:
    backend = get_backend("local")
    operation, created = restore_operation_start(
        user=operator,
        backend=backend,
        group=backend.get_server_group(SOURCE),
        choice="custom" if point else "earliest",
        point=point,
        target_name=target,
        idempotency_key=uuid.uuid4(),
    )
    assert created
    return operation


def row(operation: RestoreOperation) -> RestoreOperation:
    operation.refresh_from_db()
    return operation


def in_phase(operation: RestoreOperation, phase: str) -> bool:
    row(operation)
    assert operation.status in RestoreOperation.ACTIVE, operation.message
    return operation.phase == phase


def watchdog_later() -> list[int]:
    """The watchdog, as it runs once the dead worker's heartbeat has gone stale."""
    return restore_operations_recover(now=timezone.now() + STALE_AFTER + timedelta(seconds=1))


def finished(operation: RestoreOperation, timeout: float = 300) -> RestoreOperation:
    wait_for(lambda: row(operation).status not in RestoreOperation.ACTIVE, timeout, "the end")
    return operation


def stopped(pid: int) -> bool:
    """Every thread of ``pid`` is stopped (SIGSTOP has landed everywhere)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "Tt":
            return False
    return True


def kill_when(portal, worker: subprocess.Popen, state: Callable[[], bool], what: str) -> None:
    """kill -9 ``worker`` at a moment when ``state()`` holds.

    The worker is paused (SIGSTOP) while the test looks and resumed when the state does
    not hold yet, so the restore cannot move on between the look and the kill: a phase
    that lasts a fraction of a second is caught as surely as a long one. ``state`` must
    not wait for anything the paused worker may hold (the catalog's lock).
    """

    def paused_in_state() -> bool:
        os.kill(worker.pid, signal.SIGSTOP)
        wait_for(lambda: stopped(worker.pid), timeout=30, what="the worker to pause")
        if state():
            return True
        os.kill(worker.pid, signal.SIGCONT)
        return False

    wait_for(paused_in_state, timeout=120, what=what)
    portal.kill(worker)


def catalog_on_disk(engine) -> dict:
    """The catalog without its lock (a paused worker may hold it): a write replaces the
    file in one rename, so what is read is one whole version."""
    return json.loads(engine.catalog.path.read_text())


def target_ports(engine, target: str) -> list[int]:
    return [node["port"] for node in engine.catalog.read()["groups"][target]["nodes"]]


def still_restorable(engine, source, name: str) -> None:
    """The source restores again, to its latest point, with every row."""
    engine.restore(SOURCE, name, source["latest"])
    try:
        assert fingerprint(engine, name) == source["fingerprint"]
    finally:
        engine.delete_group(name)


def test_worker_killed_before_the_seal_is_resumed_by_a_new_worker(
    portal, engine, source, unchanged_source, operator
):
    operation = start(operator, "rel-seal")
    first = portal.worker()
    with archiving_blocked(engine, SOURCE):
        wait_for(lambda: in_phase(operation, "sealing"), what="the sealing phase")
        ports = target_ports(engine, "rel-seal")
        portal.kill(first)
    assert row(operation).status == Status.RUNNING
    assert engine.catalog.read()["groups"]["rel-seal"]["status"] == "Restoring"

    assert watchdog_later() == [operation.pk]
    portal.worker()
    finished(operation)

    assert operation.status == Status.SUCCEEDED, operation.message
    assert operation.attempts == 2
    restored = engine.get_group("rel-seal")
    assert restored.status == "Ready" and restored.restored_from == SOURCE
    engine.delete_group("rel-seal")
    nothing_left_of(engine, "rel-seal", ports)
    only_source_processes(engine)
    still_restorable(engine, source, "rel-seal-again")


def test_worker_killed_during_recovery_is_resumed_and_restores_every_row(
    portal, engine, source, unchanged_source, operator
):
    operation = start(operator, "rel-recover", source["latest"])
    target_dir = engine.group_dir("rel-recover")
    first = portal.worker()

    def recovering() -> bool:
        return (
            in_phase(operation, "restoring")
            and bool(processes_under(target_dir))
            and any((target_dir / node / "data" / "recovery.signal").exists() for node in NODES)
        )

    kill_when(portal, first, recovering, "a restored node in recovery")
    ports = target_ports(engine, "rel-recover")
    assert row(operation).status == Status.RUNNING and operation.phase == "restoring"

    assert watchdog_later() == [operation.pk]
    portal.worker()
    finished(operation)

    assert operation.status == Status.SUCCEEDED, operation.message
    assert fingerprint(engine, "rel-recover") == source["fingerprint"]
    engine.delete_group("rel-recover")
    nothing_left_of(engine, "rel-recover", ports)
    only_source_processes(engine)


def test_worker_killed_during_the_fresh_backup_is_resumed_and_completes(
    portal, engine, source, unchanged_source, operator
):
    operation = start(operator, "rel-backup", source["latest"])
    first = portal.worker()

    def backing_up() -> bool:
        # Not Ready in the catalog yet: the worker dies in the phase, not after it.
        if not in_phase(operation, "backing up"):
            return False
        return catalog_on_disk(engine)["groups"]["rel-backup"]["status"] == "Restoring"

    kill_when(portal, first, backing_up, "the backup phase")
    ports = target_ports(engine, "rel-backup")
    assert row(operation).status == Status.RUNNING and operation.phase == "backing up"

    assert watchdog_later() == [operation.pk]
    portal.worker()
    finished(operation)

    assert operation.status == Status.SUCCEEDED, operation.message
    restored = engine.get_group("rel-backup")
    assert restored.has_backup and all(len(node.backups) == 1 for node in restored.nodes)
    assert fingerprint(engine, "rel-backup") == source["fingerprint"]
    engine.delete_group("rel-backup")
    nothing_left_of(engine, "rel-backup", ports)
    only_source_processes(engine)
    still_restorable(engine, source, "rel-backup-again")


def test_worker_killed_every_time_ends_failed_with_a_reason_and_nothing_left(
    portal, engine, source, unchanged_source, operator
):
    operation = start(operator, "rel-doomed")
    with archiving_blocked(engine, SOURCE):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            worker = portal.worker()
            wait_for(lambda: in_phase(operation, "sealing"), what=f"sealing, attempt {attempt}")
            ports = target_ports(engine, "rel-doomed")
            portal.kill(worker)
            handed_back = watchdog_later()
            assert handed_back == ([operation.pk] if attempt < MAX_ATTEMPTS else [])

    row(operation)
    assert operation.status == Status.FAILED
    assert operation.message == (
        f"The task worker stopped {MAX_ATTEMPTS} times during this restore; the portal gave up."
    )
    assert operation.cleanup == (
        "Removed the unfinished server group 'rel-doomed' and stopped its nodes."
    )
    failure = Notification.objects.get(user=operator, level=Notification.Level.ERROR)
    assert failure.body == operation.message
    assert ActivityEvent.objects.filter(target="rel-doomed", result="failed").count() == 1
    nothing_left_of(engine, "rel-doomed", ports)
    only_source_processes(engine)
    still_restorable(engine, source, "rel-doomed-again")
    assert "Traceback" not in portal.log()
