"""The CLI over a real localcloud: servergroups, restore, the demo and the agent."""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from localcloud.testing import processes_under, temporary_engine
from portal.models import ActivityEvent
from tests.integration.cli import run
from tests.ports import shifted_port

BASE_PORT = shifted_port(28432)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def root():
    with temporary_engine(base_port=BASE_PORT) as engine:
        yield engine.root
    assert processes_under(engine.root) == []


@pytest.fixture(autouse=True)
def local_only(settings, root):
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(root), "base_port": BASE_PORT},
        }
    }


def manage(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, LOCALCLOUD_ROOT=str(root), PORTAL_BACKENDS="local")
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


# `show` reads the lineage the portal recorded for a restored group.
@pytest.mark.django_db
def test_create_show_stop_start_backup_delete(root):
    created = json.loads(run("servergroups", "create", "cli-life", "--workers", "1", "--json"))
    assert created["status"] == "Ready" and created["node_count"] == 2

    shown = json.loads(run("servergroups", "show", "cli-life", "--json"))
    assert {"host", "port", "database", "user"} <= set(shown["nodes"][0])
    assert "admin_password" not in shown
    secret = json.loads(run("servergroups", "show", "cli-life", "--json", "--show-password"))
    assert len(secret["admin_password"]) >= 20
    assert "port=" in run("servergroups", "show", "cli-life")

    assert json.loads(run("servergroups", "stop", "cli-life", "--json"))["status"] == "Stopped"
    assert json.loads(run("servergroups", "start", "cli-life", "--json"))["status"] == "Ready"
    backed = json.loads(run("servergroups", "backup", "cli-life", "--json"))
    assert backed["status"] == "Ready"
    names = [g["name"] for g in json.loads(run("servergroups", "list", "--json"))]
    assert "cli-life" in names

    assert json.loads(run("servergroups", "delete", "cli-life", "--json"))["deleted"] is True
    with pytest.raises(CommandError, match="'cli-life' does not exist"):
        run("servergroups", "show", "cli-life")


@pytest.mark.django_db(transaction=True)
def test_demo_is_created_once_and_restore_waits_until_ready(root):
    assert json.loads(run("localcloud_demo", "--json")) == {"name": "citus-demo", "created": True}
    assert json.loads(run("localcloud_demo", "--json"))["created"] is False

    restored = json.loads(
        run("restore", "citus-demo", "--earliest", "--name", "demo-copy", "--wait", "--json")
    )

    assert restored["status"] == "Ready" and restored["restored_from"] == "citus-demo"
    run("servergroups", "delete", "demo-copy")


@pytest.mark.django_db(transaction=True)
def test_restore_latest_keeps_what_was_committed_before_the_command(root):
    from localcloud import Engine

    engine = Engine(root, base_port=BASE_PORT)
    for node in engine.get_group("citus-demo").nodes:
        with engine.connect("citus-demo", node.name) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS before_ok (node text)")
            conn.execute("INSERT INTO before_ok VALUES (%s)", (node.name,))
            conn.commit()

    restored = json.loads(
        run("restore", "citus-demo", "--latest", "--name", "demo-latest", "--wait", "--json")
    )

    assert restored["status"] == "Ready" and restored["restored_from"] == "citus-demo"
    for node in engine.get_group("demo-latest").nodes:
        with engine.connect("demo-latest", node.name) as conn:
            rows = conn.execute("SELECT node FROM before_ok").fetchall()
        assert (node.name,) in rows, node.name
    run("servergroups", "delete", "demo-latest")


@pytest.mark.django_db(transaction=True)
def test_cli_restore_is_one_operation_in_the_list_and_the_activity_log(
    root, operator, client, django_user_model
):
    from restore_wizard.models import RestoreOperation

    run("servergroups", "create", "cli-rec-src", "--workers", "1")
    progress = StringIO()
    call_command(
        "restore", "cli-rec-src", "--earliest", "--name", "cli-rec-os", "--wait",
        stdout=StringIO(), stderr=progress,
    )  # fmt: skip
    as_operator = json.loads(
        run("restore", "cli-rec-src", "--earliest", "--name", "cli-rec-as", "--wait", "--json",
            "--as", operator.username)
    )  # fmt: skip

    by_os = RestoreOperation.objects.get(target_name="cli-rec-os")
    by_operator = RestoreOperation.objects.get(target_name="cli-rec-as")
    assert by_os.status == by_operator.status == "succeeded"
    assert by_os.origin == "cli" and by_os.created_by is None
    assert by_os.started_by == getpass.getuser()
    assert by_operator.created_by == operator and as_operator["restored_from"] == "cli-rec-src"
    # --wait printed every node's phase and figures as they came.
    lines = progress.getvalue()
    assert "coordinator Unpacking the backup" in lines and "worker-1" in lines
    assert "left" in lines
    # The Activity log and Restore operations show both, as for a restore from OK.
    events = ActivityEvent.objects.filter(action="restore", target="cli-rec-os")
    assert sorted(events.values_list("result", flat=True)) == ["started", "succeeded"]
    assert set(events.values_list("actor_name", flat=True)) == {getpass.getuser()}
    client.force_login(operator)
    listed = client.get(reverse("operation_list")).content.decode()
    assert "cli-rec-os" in listed and "cli-rec-as" in listed and "(command line)" in listed
    # Nobody signed in started it: the Activity log shows it to administrators.
    client.force_login(django_user_model.objects.create_superuser("ada", password="x" * 20))
    log = client.get(reverse("activity_log")).content.decode()
    assert "cli-rec-os" in log and getpass.getuser() in log
    blade_log = client.get(reverse("servergroup_activity", args=["local", "cli-rec-src"]))
    assert "cli-rec-os" in blade_log.content.decode()
    # The restorer was told, as after OK.
    assert operator.notifications.filter(title__contains="cli-rec-as is ready").exists()
    for name in ("cli-rec-os", "cli-rec-as", "cli-rec-src"):
        run("servergroups", "delete", name)


def test_point_without_offset_is_refused(root):
    with pytest.raises(CommandError, match="has no UTC offset"):
        run("restore", "citus-demo", "--point", "2026-11-24T10:00:00", "--name", "naive-x")
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        run("restore", "citus-demo", "--point", "yesterday", "--name", "naive-y")


@pytest.mark.django_db
def test_cancel_from_the_command_line_names_who_and_refuses_what_has_ended(root):
    from restore_wizard.models import RestoreOperation

    queued = RestoreOperation.objects.create(
        backend="local", source_id="x", source_name="x", target_name="x-r", choice="earliest",
        subscription="s", resource_group="r", location="l", started_by_name="someone",
        origin="cli",
    )  # fmt: skip

    cancelled = json.loads(run("restore", "--cancel", str(queued.pk), "--json"))

    assert cancelled["status"] == "Cancelled" and cancelled["operation"] == queued.pk
    assert cancelled["cancelled_by"] == getpass.getuser()
    assert ActivityEvent.objects.get(action="cancel restore").actor_name == getpass.getuser()
    queued.pk, queued.status, queued.idempotency_key = None, "succeeded", uuid.uuid4()
    queued.cancel_requested_at = None
    queued.save()
    with pytest.raises(CommandError, match="already ended"):
        run("restore", "--cancel", str(queued.pk))
    with pytest.raises(CommandError, match="no restore operation #999999"):
        run("restore", "--cancel", "999999")


@pytest.mark.django_db(transaction=True)
def test_refusals_exit_non_zero_with_a_message_and_no_traceback(root):
    # A group of its own: the tests that use the database may run in any order.
    run("servergroups", "create", "cli-refuse", "--workers", "1")
    naive = manage(root, "restore", "cli-refuse", "--point", "2026-11-24T10:00", "--name", "n-1")
    taken = manage(root, "restore", "cli-refuse", "--earliest", "--name", "cli-refuse")
    missing = manage(root, "restore", "nowhere", "--earliest", "--name", "n-2")
    run("servergroups", "delete", "cli-refuse")

    for done, words in (
        (naive, "has no UTC offset"),
        (taken, "already exists"),
        (missing, "'nowhere' does not exist"),
    ):
        assert done.returncode != 0
        assert words in done.stderr
        assert "Traceback" not in done.stderr


def test_agent_and_writer_stop_cleanly_on_sigterm(root):
    env = dict(os.environ, LOCALCLOUD_ROOT=str(root), PORTAL_BACKENDS="local")
    commands = [
        ["localcloud_agent", "--interval", "0.2"],
        ["localcloud_demo", "--writer", "--every", "0.2"],
    ]
    for command in commands:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", *command],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = process.stdout.readline()
        assert first, process.stderr.read()
        process.send_signal(signal.SIGTERM)
        # It finishes the pass it is in (a backup, an index pass) first: give it time.
        assert process.wait(timeout=120) == 0
        assert "Traceback" not in process.stderr.read()
