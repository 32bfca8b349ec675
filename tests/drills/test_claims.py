"""The portal's limit of drills running at once holds when two schedulers claim two
different drills at the same moment (the per-group claim is the unique constraint)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from drills import services
from drills.models import Drill

pytestmark = pytest.mark.django_db(transaction=True)


def queued(group: str) -> Drill:
    return Drill.objects.create(
        backend="cloud",
        group_name=group,
        source_id=group,
        scratch_name=f"{group}-drill-1",
        trigger="schedule",
    )


def test_two_schedulers_claiming_at_once_never_exceed_the_limit(settings, monkeypatch):
    settings.PORTAL_DRILLS_MAX_RUNNING = 1
    first, second = queued("group-0000"), queued("group-0001")
    counted = services.drills_running
    arrived = threading.Barrier(2)

    def count_then_wait_for_the_other():
        # Each scheduler counts, then waits (at most 2 s) for the other to have counted
        # too: without a lock both would see 0 running and both start a drill.
        running = counted()
        try:
            arrived.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return running

    monkeypatch.setattr(services, "drills_running", count_then_wait_for_the_other)
    claimed: dict[int, bool] = {}

    def claim(drill: Drill) -> None:
        try:
            claimed[drill.pk] = services.drill_claim(drill.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(drill,)) for drill in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Both claims ended: no thread holds a connection into the next test.
    assert not any(thread.is_alive() for thread in threads)

    assert sorted(claimed.values()) == [False, True]
    assert Drill.objects.filter(status="running").count() == 1
    assert Drill.objects.filter(status="queued").count() == 1


def test_a_claim_waits_for_a_free_place_and_takes_it_once_one_ends(settings):
    settings.PORTAL_DRILLS_MAX_RUNNING = 1
    first, second = queued("group-0000"), queued("group-0001")
    assert services.drill_claim(first.pk)
    assert not services.drill_claim(second.pk)
    Drill.objects.filter(pk=first.pk).update(status="passed")
    assert services.drill_claim(second.pk)
    assert not services.drill_claim(second.pk)  # claimed once only


def test_the_restore_watchdog_leaves_a_drills_restore_to_the_drill_scheduler(operator):
    from datetime import timedelta

    from django.utils import timezone

    from restore_wizard.models import RestoreOperation
    from restore_wizard.services.operations import restore_operations_recover

    old = timezone.now() - timedelta(minutes=5)
    drills_own = RestoreOperation.objects.create(
        backend="cloud", source_id="g", source_name="g", target_name="g-drill-4",
        status="running", heartbeat_at=old,
    )  # fmt: skip
    assert restore_operations_recover() == []
    drills_own.refresh_from_db()
    assert drills_own.status == "running"


def test_a_drills_own_queued_restore_does_not_hold_back_other_drills(operator):
    from restore_wizard.models import RestoreOperation

    drill = queued("group-0000")
    own = RestoreOperation.objects.create(
        backend="cloud", source_id="g", source_name="g", target_name="g-drill-4"
    )
    Drill.objects.filter(pk=drill.pk).update(operation=own)
    assert not services.real_restores_waiting()
    RestoreOperation.objects.create(
        backend="cloud", source_id="g", source_name="g", target_name="new", created_by=operator
    )
    assert services.real_restores_waiting()
