from portal.backends.base import FirewallRule, RestoreRequest


def restored(backend, source, name="sales-r"):
    token = backend.begin_restore(RestoreRequest(source.id, name, None, choice="latest"))
    return backend.wait_restore(token, lambda progress: None).target_id


def test_firewall_rules_are_copied_from_the_source(arm, backend, sales):
    target = restored(backend, sales)

    result = backend.copy_firewall_rules(sales.id, target)

    assert result.firewall_rules == 2
    assert backend.firewall_rules(target) == [
        FirewallRule("office", "203.0.113.0", "203.0.113.255"),
        FirewallRule("vpn", "198.51.100.7", "198.51.100.7"),
    ]
    puts = arm.requests_to("PUT", "/firewallRules/")
    assert [p.status for p in puts] == [202, 202]  # FirewallRulesCreateOrUpdate.json
    assert puts[0].json == {
        "properties": {"startIpAddress": "203.0.113.0", "endIpAddress": "203.0.113.255"}
    }
    assert backend.copy_firewall_rules(sales.id, target).firewall_rules == 0


def test_changed_parameters_are_copied_and_a_restart_flagged(arm, backend, sales):
    target = restored(backend, sales)
    assert [(p.name, p.value, p.needs_restart) for p in backend.parameters(sales.id)] == [
        ("max_connections", "500", True),
        ("work_mem", "65536", False),
    ]

    result = backend.copy_parameters(sales.id, target)

    assert result.parameters == 2 and result.needs_restart
    assert {p.name: p.value for p in backend.parameters(target)} == {
        "max_connections": "500", "work_mem": "65536",
    }  # fmt: skip
    patches = arm.requests_to("PATCH", "/configurations/")
    assert [p.status for p in patches] == [202, 202]  # ConfigurationsUpdate.json
    assert patches[0].json == {"properties": {"value": "500", "source": "user-override"}}


def test_read_only_parameters_azure_set_are_not_copied(arm, backend, sales):
    sales.parameters["authentication_timeout"] = "30"  # read-only, as in the example

    assert "authentication_timeout" not in {p.name for p in backend.parameters(sales.id)}
