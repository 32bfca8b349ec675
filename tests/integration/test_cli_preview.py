"""``servergroups preview NAME --point T [--node] [--query SQL] [--json]`` over a real
localcloud: the data just before a DROP, compared with now, and the preview removed when
the command ends, also on an error and on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from localcloud import Engine
from localcloud.preview import previews_dir
from localcloud.testing import processes_under, temporary_engine
from tests.integration.cli import run
from tests.local_portal import serve_engine
from tests.localcloud.test_preview_truth import ROWS, drop_in_a_busy_transaction, invoices
from tests.ports import shifted_port

BASE_PORT = shifted_port(28932)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("cli-pv", workers=1, setup=invoices)
        yield engine
        engine.delete_group("cli-pv")
    assert processes_under(engine.root) == []


@pytest.fixture(scope="module")
def dropped(engine: Engine):
    """The instant just before ``invoices`` was dropped on worker-1."""
    point, _ = drop_in_a_busy_transaction(engine, "cli-pv")
    return point


@pytest.fixture(autouse=True)
def local_only(settings, engine):
    serve_engine(settings, engine)


def no_preview_left(engine: Engine) -> None:
    assert engine.list_previews() == []
    directory = previews_dir(engine)
    assert not directory.exists() or list(directory.iterdir()) == []
    assert processes_under(directory) == []


def test_preview_just_before_a_drop_as_json(engine, dropped):
    found = json.loads(
        run(
            "servergroups",
            "preview",
            "cli-pv",
            "--point",
            dropped.isoformat(),
            "--node",
            "worker-1",
            "--query",
            "SELECT count(*) FROM invoices",
            "--json",
        )  # fmt: skip
    )

    tables = {table["name"]: table for table in found["tables"]}
    assert tables["invoices"]["at_point"] == {"rows": ROWS, "exact": True, "bytes": tables[
        "invoices"]["at_point"]["bytes"], "note": ""}  # fmt: skip
    assert tables["invoices"]["now"] is None
    assert tables["invoices"]["change"] == "Dropped since T"
    assert tables["invoices"]["difference"] == -ROWS
    assert tables["items"]["at_point"]["rows"] == 3 and tables["items"]["now"]["rows"] == 4
    assert tables["items"]["change"] == "1 more row now"
    assert found["query"]["columns"] == ["count"]
    assert found["query"]["rows"] == [[str(ROWS)]]
    assert (found["node"], found["removed"]) == ("worker-1", True)
    no_preview_left(engine)


def test_preview_as_text_names_the_dropped_table(engine, dropped):
    text = run("servergroups", "preview", "cli-pv", "--point", dropped.isoformat(), "--node",
               "worker-1")  # fmt: skip

    line = next(line for line in text.splitlines() if line.startswith("public.invoices"))
    assert f"{ROWS:,}" in line and "no such table" in line and "Dropped since T" in line
    assert "ROWS NOW" in text and "The preview was removed." in text
    no_preview_left(engine)


def test_bad_point_node_or_sql_says_why_and_leaves_nothing(engine, dropped):
    point = dropped.isoformat()
    with pytest.raises(CommandError, match="before the earliest restore point"):
        run("servergroups", "preview", "cli-pv", "--point", "2001-01-01T00:00:00Z")
    with pytest.raises(CommandError, match="no UTC offset"):
        run("servergroups", "preview", "cli-pv", "--point", "2026-11-24T10:00:00")
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        run("servergroups", "preview", "cli-pv", "--point", "yesterday")
    with pytest.raises(CommandError, match="has no node 'worker-9'"):
        run("servergroups", "preview", "cli-pv", "--point", point, "--node", "worker-9")
    with pytest.raises(CommandError, match="does not exist"):
        run("servergroups", "preview", "no-such-group", "--point", point)
    with pytest.raises(CommandError, match="The query did not run: Syntax error"):
        run("servergroups", "preview", "cli-pv", "--point", point, "--query", "SELECT FROM WHERE")
    with pytest.raises(CommandError, match="The query did not run: Only one read-only query"):
        run("servergroups", "preview", "cli-pv", "--point", point, "--query", "DROP TABLE items")
    no_preview_left(engine)


def ctrl_c_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_removes_the_preview(engine, dropped):
    env = dict(
        os.environ,
        LOCALCLOUD_ROOT=str(engine.root),
        LOCALCLOUD_BASE_PORT=str(BASE_PORT),
        PORTAL_BACKENDS="local",
        # The query outlasts any wait of this test: Ctrl-C always meets a running command.
        PORTAL_PREVIEW_TIMEOUT_SECONDS="60",
    )
    command = [
        sys.executable, "manage.py", "servergroups", "preview", "cli-pv", "--point",
        dropped.isoformat(), "--query", "SELECT pg_sleep(55)",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A DBA's terminal delivers Ctrl-C; a test run started in the background by a
        # shell without job control inherits SIGINT ignored, and so would the command.
        preexec_fn=ctrl_c_as_at_a_terminal,
    )
    try:
        deadline = time.monotonic() + 120
        # Interrupted once its preview is ready (it then compares, or runs its query).
        while not any(p.status == "Ready" for p in engine.list_previews()):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the preview was not ready in 120 s"
            for preview in engine.list_previews():
                engine.preview_status(preview.id)  # the command polls too; either may see it
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert "Interrupted; the preview was removed." in process.stderr.read()
    no_preview_left(engine)
