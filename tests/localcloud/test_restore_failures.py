"""A restore that fails half-way leaves no group, no process, and the source as it was."""

from __future__ import annotations

import os
import signal
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import RestoreFailed
from localcloud.testing import processes_under


def assert_no_trace(engine, name: str) -> None:
    assert name not in engine.catalog.read()["groups"]
    assert not engine.group_dir(name).exists()
    assert processes_under(engine.group_dir(name)) == []


def test_port_already_bound_fails_naming_the_node_and_leaves_nothing(engine, unchanged_source):
    planned = engine.begin_restore("src", "port-clash", datetime.now(UTC) - timedelta(seconds=1))
    port = planned.nodes[1].port
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(RestoreFailed) as failure:
            engine.run_restore("port-clash")

    message = str(failure.value)
    assert "port-clash/worker-1" in message
    assert "FATAL" in message and "127.0.0.1" in message
    assert_no_trace(engine, "port-clash")


def test_killed_restoring_postmaster_fails_and_leaves_nothing(engine, unchanged_source):
    killed = []

    def kill_worker_2(phase: str, node: str | None, percent: int) -> None:
        if (phase, node, percent) != ("restoring", "worker-2", 50):
            return
        pid_file = engine.group_dir("mid-kill") / "worker-2" / "data" / "postmaster.pid"
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline, f"{pid_file} not written within 60 s"
            time.sleep(0.001)
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    with pytest.raises(RestoreFailed, match="mid-kill/worker-2: the server stopped"):
        engine.restore("src", "mid-kill", datetime.now(UTC) - timedelta(seconds=1), kill_worker_2)

    assert killed
    assert_no_trace(engine, "mid-kill")


def test_restore_whose_owner_died_is_resumed_from_scratch(engine, unchanged_source):
    engine.begin_restore("src", "resumed", datetime.now(UTC) - timedelta(seconds=1))
    with engine.catalog.change() as data:
        # What a worker killed mid-restore leaves: an owner that no longer runs.
        data["groups"]["resumed"]["owner"] = {"pid": 2**22 + 1, "start": "0", "host": "gone"}

    restored = engine.run_restore("resumed")

    assert restored.status == "Ready"
    engine.delete_group("resumed")


def test_abandon_removes_a_reserved_restore_but_never_a_ready_group(engine, unchanged_source):
    engine.begin_restore("src", "abandoned")
    assert "abandoned" in engine.abandon_restore("abandoned")
    assert_no_trace(engine, "abandoned")
    assert engine.abandon_restore("src") == ""
