"""The local backend over a real localcloud: the contract of portal.backends.base."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.testing import create_ticks, processes_under, temporary_engine
from portal.backends.base import BackendError, NotFound, RestoreRequest, RestoreWindow
from portal.backends.local import LocalBackend
from tests.ports import shifted_port

BASE_PORT = shifted_port(27432)


@pytest.fixture(scope="module")
def backend():
    with temporary_engine(base_port=BASE_PORT) as engine:
        backend = LocalBackend("local", root=engine.root, base_port=BASE_PORT)
        backend.engine.create_group("itg-src", workers=1, setup=create_ticks)
        yield backend
    assert processes_under(engine.root) == []


def test_server_group_carries_nodes_and_restore_facts(backend):
    group = backend.get_server_group("itg-src")

    assert (group.backend, group.cloud, group.id, group.status) == (
        "local",
        "Local",
        "itg-src",
        "Ready",
    )
    assert [node.name for node in group.nodes] == ["coordinator", "worker-1"]
    assert group.coordinator_host == "127.0.0.1" and group.coordinator_port == group.nodes[0].port
    assert group.has_backup and group.earliest_restore is not None
    assert group.node_count == 2
    assert backend.restore_blocker(group) is None
    assert [g.id for g in backend.list_server_groups()] == ["itg-src"]


def test_restore_window_is_utc_and_ends_now(backend):
    before = datetime.now(UTC)
    window = backend.restore_window("itg-src")
    after = datetime.now(UTC)

    assert isinstance(window, RestoreWindow)
    assert window.earliest.tzinfo is not None
    assert before <= window.latest <= after  # now, to the microsecond: not rounded


def test_missing_group_is_not_found_with_the_engines_message(backend):
    with pytest.raises(NotFound) as failure:
        backend.get_server_group("nowhere")
    assert str(failure.value) == "Server group 'nowhere' does not exist."


def test_refused_restore_is_a_backend_error_word_for_word(backend):
    earliest = backend.restore_window("itg-src").earliest
    with pytest.raises(BackendError) as failure:
        backend.begin_restore(RestoreRequest("itg-src", "itg-early", earliest - timedelta(1)))
    assert failure.value.code == "OutsideWindow"
    assert failure.value.permanent
    assert str(failure.value).startswith("The restore point ")
    assert "before the earliest restore point of 'itg-src'" in str(failure.value)


def test_name_available_explains_why_not(backend):
    assert backend.name_available("itg-free") is None
    assert "already exists" in backend.name_available("itg-src")
    assert "not a valid server group name" in backend.name_available("-x")


def test_begin_then_wait_restores_with_progress(backend):
    token = backend.begin_restore(RestoreRequest("itg-src", "itg-copy", None))
    assert json.loads(token)["target"] == "itg-copy"
    assert backend.get_server_group("itg-copy").status == "Restoring"
    reports = []

    result = backend.wait_restore(token, reports.append)

    assert result.target_id == result.target_name == "itg-copy"
    assert result.point_in_time == backend.get_server_group("itg-src").earliest_restore
    assert reports[-1].phase == "ready"
    assert reports[-1].nodes == {"coordinator": 100, "worker-1": 100}
    restored = backend.get_server_group("itg-copy")
    assert restored.status == "Ready" and restored.restored_from == "itg-src"
    assert backend.wait_restore(token, reports.append).target_id == "itg-copy"
    backend.engine.delete_group("itg-copy")


def test_abandon_removes_what_begin_reserved(backend):
    token = backend.begin_restore(RestoreRequest("itg-src", "itg-gone", None))

    assert "itg-gone" in backend.abandon_restore(token)
    with pytest.raises(NotFound):
        backend.get_server_group("itg-gone")


def test_post_restore_tasks_copy_rules_and_parameters(backend):
    backend.engine.set_firewall_rule("itg-src", "vpn", "192.168.7.0", "192.168.7.255")
    backend.engine.set_parameter("itg-src", "work_mem", "16MB")
    token = backend.begin_restore(RestoreRequest("itg-src", "itg-post", None))
    backend.wait_restore(token, lambda report: None)
    assert backend.firewall_rules("itg-post") == [] and backend.parameters("itg-post") == []

    rules = backend.copy_firewall_rules("itg-src", "itg-post")
    parameters = backend.copy_parameters("itg-src", "itg-post")

    assert rules.firewall_rules == 1 and parameters.parameters == 1
    assert [rule.start_ip for rule in backend.firewall_rules("itg-post")] == ["192.168.7.0"]
    (work_mem,) = backend.parameters("itg-post")
    assert (work_mem.name, work_mem.value, work_mem.default) == ("work_mem", "16MB", "4MB")
    assert "citus" in backend.roles("itg-post")
    backend.engine.delete_group("itg-post")


def test_check_reports_no_problem_on_this_machine(backend):
    assert backend.check() == []
