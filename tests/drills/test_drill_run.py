"""A drill on real PostgreSQL: restore into a scratch group, check, record, remove."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from drills import services
from drills.models import Drill, DrillPlan
from portal.models import ActivityEvent, Notification

from .conftest import make_orders, nothing_left, scratch_ports, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def shop(engine):
    """A coordinator and two workers with rows, an index, and a later commit."""
    engine.create_group("shop", workers=2, setup=make_orders)
    for node in engine.get_group("shop").nodes:
        with engine.connect("shop", node.name) as conn:
            conn.execute("INSERT INTO orders (node, total) VALUES (%s, 7)", (node.name,))
    return "shop"


def remember_ports(engine, name):
    """The ports a scratch group takes, seen while the drill runs (it is gone after)."""
    seen: list[int] = []
    original = services.checks.run_all

    def spy(backend, drill, evidence, plan):
        record = engine.catalog.read()["groups"][name]
        seen.extend(node["port"] for node in record["nodes"])
        return original(backend, drill, evidence, plan)

    return seen, spy


def test_a_drill_of_a_three_node_group_passes_and_leaves_nothing_behind(
    local_cloud, shop, operator, monkeypatch
):
    drill = services.drill_start(
        backend_key="local", group_name=shop, trigger=Drill.Trigger.USER, user=operator
    )
    assert drill.scratch_name == f"shop-drill-{drill.pk}"
    ports, spy = remember_ports(local_cloud, drill.scratch_name)
    monkeypatch.setattr(services.checks, "run_all", spy)

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.PASSED, (drill.message, drill.checks)
    assert drill.started_by_name == "olivia"
    assert drill.rto_seconds > 0 and drill.ready_at and drill.finished_at
    assert set(drill.nodes) == {"coordinator", "worker-1", "worker-2"}
    for info in drill.nodes.values():
        assert info["backup"] and info["bytes_restored"] > 0 and info["wal_bytes"] > 0
    kinds = {(check["node"], check["check"]) for check in drill.checks}
    for node in drill.nodes:
        for check in (
            "reachable and out of recovery",
            "no commit after T",
            "last commit at or before T present",
            "amcheck bt_index_check",
        ):
            assert (node, check) in kinds
    assert all(check["passed"] for check in drill.checks), drill.checks
    assert drill.row_counts["worker-2"]["public.orders"] == 501
    names = [phase["name"] for phase in drill.phases]
    assert names[0] == "choose the point" and "checks" in names and names[-1] == "clean-up"
    assert drill.cleaned_up and "Deleted the scratch server group" in drill.cleanup
    assert len(ports) == 3
    nothing_left(local_cloud, drill.scratch_name, ports)
    event = ActivityEvent.objects.get(action="restore drill")
    assert (event.result, event.target, event.actor) == ("succeeded", "shop", operator)
    # The drill's restore ran as any restore runs: a RestoreOperation with its progress.
    operation = drill.operation
    assert (operation.status, operation.target_name) == ("succeeded", drill.scratch_name)
    assert operation.started_by == f"restore drill {drill.pk}"
    assert operation.origin == "drill"
    assert set(operation.progress["nodes"]) == {"coordinator", "worker-1", "worker-2"}
    assert operation.percent == 100


def test_a_drill_cancelled_while_it_restores_ends_cancelled_and_leaves_nothing(
    local_cloud, shop, operator
):
    drill = services.drill_start(backend_key="local", group_name=shop, trigger="cli")
    ran = threading.Thread(target=run_and_close, args=(drill.pk,))
    ran.start()
    # Cancel only once the restore runs (not before it, by luck of timing).
    wait_for(
        lambda: Drill.objects.filter(
            pk=drill.pk, operation__isnull=False, phase__startswith="restore: "
        ).exists(),
        timeout=120,
        what="the drill to be restoring",
    )
    ports = scratch_ports(local_cloud, drill.scratch_name)

    said = services.drill_cancel(drill_id=drill.pk, user=operator)
    ran.join(timeout=180)

    # The drill's thread has ended: nothing of it runs on into the next test.
    assert not ran.is_alive(), "the cancelled drill did not end"
    assert "being cancelled" in said
    drill.refresh_from_db()
    assert drill.status == Drill.Status.CANCELLED, drill.message
    assert drill.message.startswith("Cancelled by olivia at ") and drill.cleaned_up
    assert drill.checks == []  # no check ran after the cancel
    assert drill.operation.status == "cancelled"
    nothing_left(local_cloud, drill.scratch_name, ports)
    assert not Notification.objects.filter(title__contains="failed").exists()
    event = ActivityEvent.objects.get(action="cancel restore drill")
    assert (event.actor_name, event.target) == ("olivia", "shop")


def run_and_close(drill_id: int) -> None:
    try:
        services.drill_run(drill_id=drill_id)
    finally:
        connection.close()


def test_a_failing_assertion_is_recorded_with_its_text_and_the_scratch_group_removed(
    local_cloud, shop, operator
):
    DrillPlan.objects.create(
        backend="local",
        group_name=shop,
        assertions="select count(*) > 0 from orders\nselect count(*) > 100000 from orders",
    )
    drill = services.drill_start(
        backend_key="local", group_name=shop, point_choice="random", trigger=Drill.Trigger.CLI
    )

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.FAILED
    assert "select count(*) > 100000 from orders" in drill.message
    by_name = {check["check"]: check for check in drill.checks if check["node"] == "coordinator"}
    assert by_name["assertion: select count(*) > 0 from orders"]["passed"] is True
    failed = by_name["assertion: select count(*) > 100000 from orders"]
    assert failed["passed"] is False and failed["detail"] == "returned False"
    assert drill.cleaned_up
    nothing_left(local_cloud, drill.scratch_name, [])
    event = ActivityEvent.objects.get(action="restore drill")
    assert event.result == "failed" and "100000" in event.message
    bell = Notification.objects.get(user=operator)
    assert bell.title == "Restore drill of shop failed" and "100000" in bell.body


def test_an_assertion_that_writes_is_refused_by_the_read_only_transaction(local_cloud, shop):
    DrillPlan.objects.create(
        backend="local", group_name=shop, assertions="delete from orders returning true"
    )
    drill = services.drill_start(backend_key="local", group_name=shop, trigger="cli")

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.FAILED
    assert "read-only transaction" in drill.message
    with local_cloud.connect(shop) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 501


def corrupt_in_backup(engine, group: str, index: str) -> None:
    """Write garbage over block 1 of ``index``'s file inside the newest backup of the
    coordinator: a new tar replaces the old one, so hard-linked copies stay intact.

    The manifest is rewritten to match, as if the index was already damaged on the source
    when the backup was taken: the backup's own check (pg_verifybackup) then has nothing
    to say, and only amcheck can find it."""
    with engine.connect(group) as conn:
        path = conn.execute("SELECT pg_relation_filepath(%s)", (index,)).fetchone()[0]
    record = engine.catalog.read()["groups"][group]["nodes"][0]
    newest = max(record["backups"], key=lambda backup: backup["end_time"])
    node = engine.node(group, record)
    archive = node.backups / newest["id"] / "base.tar"
    stat = archive.stat()
    rewritten = archive.with_name("base.tar.new")
    with tarfile.open(archive) as old, tarfile.open(rewritten, "w") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read() if member.isfile() else None
            if member.name.lstrip("./") == path:
                data = data[:8192] + b"\xde\xad\xbe\xef" * 2048 + data[16384:]
            new.addfile(member, io.BytesIO(data) if data is not None else None)
    os.chown(rewritten, stat.st_uid, stat.st_gid)
    rewritten.chmod(stat.st_mode)
    os.replace(rewritten, archive)
    forget_checksum(archive.with_name("backup_manifest"), path)


def forget_checksum(manifest: Path, path: str) -> None:
    """Drop ``path``'s checksum from a backup manifest (its size is unchanged) and seal the
    manifest again: its own SHA-256 covers every byte before the line that holds it."""
    stat = manifest.stat()
    lines = manifest.read_bytes().decode().splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.startswith('{ "Path": ') and json.loads(line.rstrip(",\n"))["Path"] == path:
            entry = json.loads(line.rstrip(",\n"))
            entry.pop("Checksum-Algorithm", None)
            entry.pop("Checksum", None)
            lines[number] = json.dumps(entry) + line[len(line.rstrip(",\n")) :]
            break
    else:
        raise AssertionError(f"{path} is not in {manifest}")
    body = "".join(lines[:-1])
    sealed = body + '"Manifest-Checksum": "' + hashlib.sha256(body.encode()).hexdigest() + '"}\n'
    manifest.write_text(sealed)
    os.chown(manifest, stat.st_uid, stat.st_gid)


def test_an_index_corrupted_in_a_backup_is_caught_by_amcheck(local_cloud, operator):
    engine = local_cloud
    engine.create_group("ledger", workers=1, setup=make_orders)
    try:
        with engine.connect("ledger") as conn:
            conn.execute(
                "INSERT INTO orders (node, total) SELECT 'c', g FROM generate_series(1, 3000) g"
            )
            conn.execute("CHECKPOINT")
        engine.backup_group("ledger")
        corrupt_in_backup(engine, "ledger", "orders_total")

        drill = services.drill_start(backend_key="local", group_name="ledger", trigger="cli")
        drill = services.drill_run(drill_id=drill.pk)
    finally:
        engine.delete_group("ledger")

    assert drill.status == Drill.Status.FAILED, drill.checks
    amcheck = {c["node"]: c for c in drill.checks if c["check"] == "amcheck bt_index_check"}
    assert amcheck["coordinator"]["passed"] is False
    assert "orders_total" in amcheck["coordinator"]["detail"]
    assert amcheck["worker-1"]["passed"] is True
    assert "amcheck" in drill.message and drill.cleaned_up
    nothing_left(engine, drill.scratch_name, [])


def test_the_recovered_point_is_checked_against_commit_timestamps(local_cloud, shop):
    drill = services.drill_start(
        backend_key="local", group_name=shop, point_choice="earliest", trigger="cli"
    )

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.PASSED, drill.message
    assert drill.point < datetime.now(UTC)
    for node, info in drill.nodes.items():
        assert datetime.fromisoformat(info["last_commit"]) <= drill.point, node
    # The row committed after the first backup is not in a restore to the earliest point.
    assert drill.row_counts["coordinator"]["public.orders"] == 500


def test_the_drill_command_runs_a_drill_and_answers_in_json(local_cloud, shop, capsys):
    call_command("drill", shop, "--point", "latest", "--wait", "--json")
    record = json.loads(capsys.readouterr().out)

    assert (record["group"], record["status"], record["trigger"]) == (shop, "passed", "cli")
    assert record["restore_operation"] and record["cancelled_by"] == ""
    assert record["time_to_ready_s"] > 0 and record["cleaned_up"] is True
    assert {check["node"] for check in record["checks"]} == {"coordinator", "worker-1", "worker-2"}
    nothing_left(local_cloud, record["scratch_group"], [])

    call_command("drill", shop, "--point", "earliest")
    queued = Drill.objects.get(status="queued")
    assert "queued for the scheduler" in capsys.readouterr().out
    assert queued.point_choice == "earliest" and queued.scratch_name == f"shop-drill-{queued.pk}"
