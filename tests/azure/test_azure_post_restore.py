from portal.backends.base import CopyResult, FirewallRule, Parameter
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
    assert target.firewall_rules == orders.firewall_rules


def test_parameters_show_only_values_that_differ_from_defaults(make_backend, orders):
    orders.parameters = {"max_connections": {"coordinator": "500"}, "work_mem": {"worker": "8192"}}

    assert make_backend().parameters(orders.id) == [
        Parameter("max_connections", "500", "300", needs_restart=True, scope="coordinator"),
        Parameter("work_mem", "8192", "4096", needs_restart=False, scope="worker"),
    ]


def test_copying_parameters_updates_coordinator_and_worker_groups(arm, make_backend, orders):
    orders.parameters = {"max_connections": {"coordinator": "500"}, "work_mem": {"worker": "8192"}}
    target = restored_copy(arm, orders)

    result = make_backend().copy_parameters(orders.id, target.id)

    assert result == CopyResult(parameters=2, needs_restart=True)
    (coordinator,) = arm.requests_to("PUT", "/coordinatorConfigurations/")
    assert coordinator.path.endswith("/orders-r/coordinatorConfigurations/max_connections")
    assert coordinator.json == {"properties": {"value": "500"}}
    (worker,) = arm.requests_to("PUT", "/nodeConfigurations/")
    assert worker.path.endswith("/orders-r/nodeConfigurations/work_mem")
    assert worker.json == {"properties": {"value": "8192"}}
    assert target.parameters == orders.parameters


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
