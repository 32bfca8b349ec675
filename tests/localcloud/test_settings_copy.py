"""Firewall rules and parameters are not carried over by a restore; copy_settings does."""

from __future__ import annotations

import pytest

from localcloud import LocalCloudError


def show(engine, group: str, node: str, parameter: str) -> str:
    with engine.connect(group, node) as conn:
        return conn.execute(f"SHOW {parameter}").fetchone()[0]


def hba(engine, group: str, node: str) -> str:
    with engine.connect(group, node) as conn:
        path = conn.execute("SHOW hba_file").fetchone()[0]
    with open(path) as handle:
        return handle.read()


@pytest.fixture(scope="module")
def configured(engine):
    engine.create_group("configured", workers=1)
    engine.set_firewall_rule("configured", "office", "10.1.0.0", "10.1.0.255")
    engine.set_parameter("configured", "work_mem", "8MB")
    engine.set_parameter("configured", "statement_timeout", "30s")
    yield "configured"
    engine.delete_group("configured")


def test_firewall_rule_becomes_a_pg_hba_entry_on_every_node(engine, configured):
    for node in ("coordinator", "worker-1"):
        assert "host all all 10.1.0.0/24 scram-sha-256" in hba(engine, configured, node)
        assert "host all all 127.0.0.1/32 scram-sha-256" in hba(engine, configured, node)


def test_parameter_is_applied_with_alter_system(engine, configured):
    assert show(engine, configured, "worker-1", "work_mem") == "8MB"
    assert engine.get_group(configured).parameters == {
        "work_mem": "8MB",
        "statement_timeout": "30s",
    }


def test_restart_parameters_are_flagged(engine, configured):
    assert engine.set_parameter(configured, "max_connections", "25") is True
    assert engine.set_parameter(configured, "max_connections", "20") is True
    assert engine.set_parameter(configured, "lock_timeout", "0") is False


def test_unmanaged_parameter_and_bad_value_are_refused_clearly(engine, configured):
    with pytest.raises(LocalCloudError, match="not a parameter the portal manages"):
        engine.set_parameter(configured, "archive_command", "true")
    with pytest.raises(LocalCloudError, match="work_mem"):
        engine.set_parameter(configured, "work_mem", "lots")


def test_restore_does_not_copy_rules_or_parameters_and_copy_settings_does(engine, configured):
    restored = engine.restore(configured, "configured-copy")
    assert restored.firewall_rules == () and restored.parameters == {}
    for node in ("coordinator", "worker-1"):
        assert "10.1.0.0/24" not in hba(engine, "configured-copy", node)
        assert "127.0.0.1/32" in hba(engine, "configured-copy", node)
        assert show(engine, "configured-copy", node, "work_mem") == "4MB"

    copied = engine.copy_settings(configured, "configured-copy")

    assert copied == {"firewall_rules": 1, "parameters": 2, "needs_restart": False}
    assert engine.get_group("configured-copy").parameters == engine.get_group(configured).parameters
    for node in ("coordinator", "worker-1"):
        assert "host all all 10.1.0.0/24 scram-sha-256" in hba(engine, "configured-copy", node)
        assert show(engine, "configured-copy", node, "work_mem") == "8MB"
        assert show(engine, "configured-copy", node, "statement_timeout") == "30s"
    engine.delete_group("configured-copy")
