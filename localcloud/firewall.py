"""Firewall rules: the client IPv4 ranges allowed to connect to a group over TCP, kept
in the group's catalog record and written as its nodes' ``pg_hba.conf`` entries.

A group starts with none (loopback admin access only), and a restore carries none over,
as in Azure; ``Engine.copy_settings`` copies them from the source on request.
"""

from __future__ import annotations

import ipaddress

from .errors import LocalCloudError
from .node import Node
from .records import FirewallRuleRecord


def check_rule(name: str, start_ip: str, end_ip: str) -> list[str]:
    """The pg_hba CIDRs of one firewall rule; raises with a clear message when invalid."""
    if not name or len(name) > 128:
        raise LocalCloudError("A firewall rule needs a name of 1 to 128 characters.")
    try:
        start = ipaddress.IPv4Address(start_ip)
        end = ipaddress.IPv4Address(end_ip)
    except ValueError as error:
        raise LocalCloudError(f"Firewall rule '{name}': {error}.") from error
    if end < start:
        raise LocalCloudError(
            f"Firewall rule '{name}': the end address {end} is before the start address {start}."
        )
    return [str(net) for net in ipaddress.summarize_address_range(start, end)]


def hba_cidrs(rules: list[FirewallRuleRecord]) -> list[str]:
    """The pg_hba CIDRs of every rule in ``rules`` (a group record's ``firewall_rules``)."""
    cidrs: list[str] = []
    for rule in rules:
        cidrs += check_rule(rule["name"], rule["start_ip"], rule["end_ip"])
    return cidrs


def with_rule(
    rules: list[FirewallRuleRecord], name: str, start_ip: str, end_ip: str
) -> list[FirewallRuleRecord]:
    """``rules`` with the rule ``name`` added or replaced; raises when it is invalid."""
    check_rule(name, start_ip, end_ip)
    kept = [rule for rule in rules if rule["name"] != name]
    return [*kept, {"name": name, "start_ip": start_ip, "end_ip": end_ip}]


def without_rule(rules: list[FirewallRuleRecord], name: str) -> list[FirewallRuleRecord]:
    return [rule for rule in rules if rule["name"] != name]


def apply(nodes: list[Node], rules: list[FirewallRuleRecord]) -> None:
    """Write ``rules`` into every node's pg_hba.conf; a running node reloads it."""
    cidrs = hba_cidrs(rules)
    for node in nodes:
        node.write_hba(cidrs)
        if node.is_running():
            with node.connect() as conn:
                conn.execute("SELECT pg_reload_conf()")
