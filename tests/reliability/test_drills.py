"""Restore drills under real processes: kill -9 of the process running a drill, and two
schedulers racing for one due drill while a DBA's real restore is queued."""

from __future__ import annotations

import sys
import uuid
from datetime import time, timedelta

import pytest
from django.utils import timezone

from drills.models import Drill, DrillPlan
from drills.services import STALE_AFTER, drills_recover
from portal.backends import get_backend
from restore_wizard.models import RestoreOperation
from restore_wizard.services.operations import restore_operation_start

from .conftest import SOURCE, nothing_left_of, only_source_processes, wait_for

pytestmark = pytest.mark.slow


def drill_row(**filters) -> Drill | None:
    return Drill.objects.filter(**filters).first()


def test_kill_9_of_the_process_running_a_drill_leaves_nothing_after_the_scheduler(
    portal, engine, source, unchanged_source
):
    process = portal.spawn([sys.executable, "manage.py", "drill", SOURCE, "--wait"])
    drill = wait_for(
        lambda: drill_row(status="running", phase__startswith="restore: restoring"),
        timeout=120,
        what="the drill to be restoring",
    )
    scratch = drill.scratch_name
    wait_for(lambda: scratch in engine.catalog.read()["groups"], what="the scratch group")
    ports = [node["port"] for node in engine.catalog.read()["groups"][scratch]["nodes"]]

    portal.kill(process)
    assert scratch in engine.catalog.read()["groups"]
    # The scheduler, once the dead process's heartbeat has gone stale.
    assert drills_recover(now=timezone.now() + STALE_AFTER + timedelta(seconds=1)) == [drill.pk]

    drill.refresh_from_db()
    assert drill.status == Drill.Status.FAILED
    assert "stopped before the drill ended" in drill.message
    assert drill.cleaned_up and scratch in drill.cleanup
    # The drill's restore operation ends with it (the restore watchdog leaves it alone).
    assert drill.operation.status == "failed" and "drill stopped" in drill.operation.message
    nothing_left_of(engine, scratch, ports)
    only_source_processes(engine)


def scheduler(portal):
    return portal.spawn([sys.executable, "manage.py", "drill_scheduler", "--once"])


def test_a_due_drill_starts_once_with_two_schedulers_and_waits_for_a_queued_restore(
    portal, engine, source, unchanged_source, operator
):
    now = timezone.now()
    DrillPlan.objects.create(
        backend="local",
        group_name=SOURCE,
        frequency="daily",
        time_utc=time(3, 0),
        next_run_at=now - timedelta(seconds=1),
    )
    backend = get_backend("local")
    operation, _ = restore_operation_start(
        user=operator,
        backend=backend,
        group=backend.get_server_group(SOURCE),
        choice="earliest",
        point=None,
        target_name="rel-real",
        idempotency_key=uuid.uuid4(),
    )

    first, second = scheduler(portal), scheduler(portal)
    assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0, portal.log()[-3000:]

    # One drill queued for the due moment, and not started while a real restore waits.
    drill = Drill.objects.get()
    assert (drill.trigger, drill.status, drill.attempts) == ("schedule", "queued", 0)
    assert DrillPlan.objects.get().next_run_at > now

    portal.worker()
    wait_for(
        lambda: RestoreOperation.objects.get(pk=operation.pk).status == "succeeded",
        timeout=120,
        what="the real restore",
    )
    first, second = scheduler(portal), scheduler(portal)
    assert first.wait(timeout=300) == 0 and second.wait(timeout=300) == 0, portal.log()[-3000:]

    drill.refresh_from_db()
    operation.refresh_from_db()
    assert drill.status == Drill.Status.PASSED, (drill.message, drill.checks)
    assert drill.attempts == 1 and Drill.objects.count() == 1
    assert operation.started_at < drill.started_at
    nothing_left_of(engine, drill.scratch_name, [])
    backend.delete_server_group("rel-real")
