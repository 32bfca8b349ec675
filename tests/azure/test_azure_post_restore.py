import pytest

from portal.backends.base import BackendError, CopyResult, FirewallRule, Parameter
from tests.fakes.azure_arm import SUB_A


def restored_copy(arm, source):
    return arm.add_cluster(
        SUB_A, "rg-prod", "orders-r", source_resource_id=source.id, source_location="westeurope"
    )


def test_firewall_rules_are_listed(make_backend, orders):
    orders.firewall_rules = {
        "office": ("203.0.113.0", "203.0.113.255"),
        "vpn": ("198.51.100.7", "198.51.100.7"),
    }

    assert make_backend().firewall_rules(orders.id) == [
        FirewallRule("office", "203.0.113.0", "203.0.113.255"),
        FirewallRule("vpn", "198.51.100.7", "198.51.100.7"),
    ]


def test_copying_firewall_rules_creates_the_missing_ones(arm, make_backend, orders):
    orders.firewall_rules = {
        "office": ("203.0.113.0", "203.0.113.255"),
        "vpn": ("198.51.100.7", "198.51.100.7"),
    }
    target = restored_copy(arm, orders)
    target.firewall_rules = {"vpn": ("198.51.100.7", "198.51.100.7")}

    result = make_backend().copy_firewall_rules(orders.id, target.id)

    assert result == CopyResult(firewall_rules=1)
    (put,) = arm.requests_to("PUT", "/firewallRules/")
    assert put.path.endswith("/serverGroupsv2/orders-r/firewallRules/office")
    assert put.json == {
        "properties": {"startIpAddress": "203.0.113.0", "endIpAddress": "203.0.113.255"}
    }
    assert put.status == 201  # FirewallRuleCreate.json
    assert target.firewall_rules == orders.firewall_rules


def test_parameters_show_only_values_that_differ_from_defaults(make_backend, orders):
    orders.parameters = {"max_connections": {"coordinator": "500"}, "work_mem": {"worker": "8192"}}

    assert make_backend().parameters(orders.id) == [
        Parameter("max_connections", "500", "300", needs_restart=True, scope="coordinator"),
        Parameter("work_mem", "8192", "115712", needs_restart=False, scope="worker"),
    ]


def test_restart_flags_come_from_postgresqls_context_when_arm_sends_none(make_backend, orders):
    # ConfigurationListByCluster.json carries no requiresRestart: shared_buffers and
    # max_connections are postmaster parameters in PostgreSQL, work_mem is not.
    orders.parameters = {
        "shared_buffers": {"worker": "262144"},
        "work_mem": {"coordinator": "65536"},
    }

    flags = {p.name: p.needs_restart for p in make_backend().parameters(orders.id)}

    assert flags == {"shared_buffers": True, "work_mem": False}


def test_arms_documented_requires_restart_wins_when_it_is_sent(arm, make_backend, orders):
    orders.parameters = {"max_connections": {"coordinator": "500"}, "work_mem": {"worker": "8192"}}
    arm.reported_restart = {"max_connections": False, "work_mem": True}

    flags = {p.name: p.needs_restart for p in make_backend().parameters(orders.id)}

    assert flags == {"max_connections": False, "work_mem": True}


def test_copying_parameters_follows_the_202_of_a_worker_update_to_its_end(
    arm, make_backend, orders
):
    orders.parameters = {"max_connections": {"coordinator": "500"}, "work_mem": {"worker": "8192"}}
    target = restored_copy(arm, orders)

    result = make_backend().copy_parameters(orders.id, target.id)

    assert result == CopyResult(parameters=2, needs_restart=True)
    (coordinator,) = arm.requests_to("PUT", "/coordinatorConfigurations/")
    assert coordinator.path.endswith("/orders-r/coordinatorConfigurations/max_connections")
    assert coordinator.json == {"properties": {"value": "500"}}
    assert coordinator.status == 201  # ConfigurationUpdateCoordinator.json
    (worker,) = arm.requests_to("PUT", "/nodeConfigurations/")
    assert worker.path.endswith("/orders-r/nodeConfigurations/work_mem")
    assert worker.json == {"properties": {"value": "8192"}}
    assert worker.status == 202  # ConfigurationUpdateNode.json
    polls = arm.requests_to("GET", "azureAsyncOperation")
    assert len(polls) == 2 and {p.status for p in polls} == {200}
    assert arm.requests_to("GET", "/orders-r/nodeConfigurations/work_mem$")
    assert target.parameters == orders.parameters


@pytest.mark.parametrize("coordinator, node", [(201, 202), (202, 201), (202, 202), (200, 200)])
def test_copying_parameters_works_with_every_answer_azure_documents(
    arm, make_backend, orders, coordinator, node
):
    arm.update_status = {"coordinator": coordinator, "node": node}
    orders.parameters = {"work_mem": {"coordinator": "65536", "worker": "32768"}}
    target = restored_copy(arm, orders)

    result = make_backend().copy_parameters(orders.id, target.id)

    assert result == CopyResult(parameters=2)
    assert [r.status for r in arm.requests_to("PUT", "Configurations/")] == [coordinator, node]
    assert target.parameters == orders.parameters


def test_a_refused_parameter_reports_arms_own_words(arm, make_backend, orders):
    orders.parameters = {"work_mem": {"worker": "8192"}}
    arm.refused_settings["work_mem"] = (
        "InvalidParameterValue",
        "Invalid value given for parameter work_mem. Specify a valid parameter value.",
    )
    target = restored_copy(arm, orders)

    with pytest.raises(BackendError) as caught:
        make_backend().copy_parameters(orders.id, target.id)

    assert caught.value.message == (
        "Could not set work_mem on the worker nodes of orders-r: Azure reported "
        "InvalidParameterValue: Invalid value given for parameter work_mem. "
        "Specify a valid parameter value."
    )
    assert caught.value.code == "InvalidParameterValue"
    assert target.parameters == {}


def test_copying_parameters_again_changes_nothing(arm, make_backend, orders):
    orders.parameters = {"max_connections": {"coordinator": "500"}}
    target = restored_copy(arm, orders)
    backend = make_backend()
    backend.copy_parameters(orders.id, target.id)

    assert backend.copy_parameters(orders.id, target.id) == CopyResult()
    assert len(arm.requests_to("PUT", "Configurations/")) == 1


def test_roles_are_listed(make_backend, orders):
    orders.roles = ["reporting", "app_writer"]

    assert make_backend().roles(orders.id) == ["app_writer", "reporting"]
