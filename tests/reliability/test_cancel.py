"""Cancel a restore at each phase, on real PostgreSQL: every process, port and folder of
the target goes, the source is unchanged and restores again; the operation ends
Cancelled with who and when, also when its worker is dead (the watchdog finishes it)."""

from __future__ import annotations

import threading

import pytest

from localcloud import RestoreCancelled
from portal.models import ActivityEvent
from restore_wizard.models import RestoreOperation
from restore_wizard.services.operations import restore_operation_cancel

from .conftest import (
    SOURCE,
    archiving_blocked,
    nothing_left_of,
    only_source_processes,
    processes_under,
    wait_for,
)
from .test_worker_killed import (
    finished,
    in_phase,
    row,
    start,
    still_restorable,
    target_ports,
    watchdog_later,
)

pytestmark = pytest.mark.slow
Status = RestoreOperation.Status


@pytest.mark.parametrize("phase", ["unpacking", "replaying", "backing up"])
def test_cancel_at_each_phase_leaves_nothing_and_the_source_restorable(
    engine, source, unchanged_source, phase
):
    target = "rel-cancel-" + phase.replace(" ", "-")
    reached, cancelled = threading.Event(), threading.Event()

    def watch(figures: dict[str, dict]) -> None:
        # The restore holds still in the phase (this runs in its threads) until cancelled.
        here = [f for f in figures.values() if f["phase"] == phase]
        if phase == "replaying":
            here = [f for f in here if f["wal_done"] > 0]
        if here and not reached.is_set():
            reached.set()
            assert cancelled.wait(120)

    engine.begin_restore(SOURCE, target, source["latest"])
    ports = target_ports(engine, target)
    errors: list[BaseException] = []

    def restore() -> None:
        try:
            engine.run_restore(target, None, watch)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    thread = threading.Thread(target=restore)
    thread.start()
    try:
        assert reached.wait(120), f"the restore never reached {phase}"
        engine.cancel_restore(target)
    finally:
        cancelled.set()
        thread.join(120)

    assert len(errors) == 1 and isinstance(errors[0], RestoreCancelled), errors
    assert "was cancelled" in str(errors[0])
    nothing_left_of(engine, target, ports)
    only_source_processes(engine)
    still_restorable(engine, source, target + "-again")


def test_operator_cancels_a_running_restore_and_the_worker_ends_it_cancelled(
    portal, engine, source, unchanged_source, operator
):
    operation = start(operator, "rel-cancel-live", source["latest"])
    portal.worker()
    with archiving_blocked(engine, SOURCE):
        # Held in the seal of the source, the worker is surely mid-restore.
        wait_for(lambda: in_phase(operation, "sealing"), what="the sealing phase")
        ports = target_ports(engine, "rel-cancel-live")
        cancelling = restore_operation_cancel(operation_id=operation.pk, user=operator)
        assert cancelling.status == Status.CANCELLING
    finished(operation)

    assert operation.status == Status.CANCELLED, operation.message
    assert operation.cancelled_by == operator and operation.cancel_requested_at is not None
    assert operation.message.startswith("Cancelled by olivia at ")
    assert ActivityEvent.objects.filter(
        action="cancel restore", actor=operator, target="rel-cancel-live", result="succeeded"
    ).exists()
    assert operator.notifications.filter(title__contains="cancelled").exists()
    nothing_left_of(engine, "rel-cancel-live", ports)
    only_source_processes(engine)
    # A second press (another tab, the CLI) changes nothing.
    again = restore_operation_cancel(operation_id=operation.pk, user=operator)
    assert again.status == Status.CANCELLED and again.finished_at == operation.finished_at


def test_cancel_while_the_worker_is_dead_is_finished_by_the_watchdog(
    portal, engine, source, unchanged_source, operator
):
    operation = start(operator, "rel-cancel-dead", source["latest"])
    target_dir = engine.group_dir("rel-cancel-dead")
    worker = portal.worker()
    wait_for(
        lambda: in_phase(operation, "restoring") and bool(processes_under(target_dir)),
        what="a restored node in recovery",
    )
    portal.kill(worker)
    ports = target_ports(engine, "rel-cancel-dead")

    cancelling = restore_operation_cancel(operation_id=operation.pk, user=operator)
    # Nobody runs it: the engine removed the target at once; the row waits for the
    # watchdog, which alone may decide that the worker is gone.
    assert cancelling.status == Status.CANCELLING
    nothing_left_of(engine, "rel-cancel-dead", ports)
    assert watchdog_later() == []

    assert row(operation).status == Status.CANCELLED
    assert operation.cancelled_by == operator and operation.finished_at is not None
    assert ActivityEvent.objects.filter(action="cancel restore", target="rel-cancel-dead").exists()
    only_source_processes(engine)
    still_restorable(engine, source, "rel-cancel-dead-again")
