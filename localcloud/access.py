"""Firewall rules (allowed client IP ranges, as pg_hba entries) and server parameters.

A restore carries neither over, as in Azure: the new group starts with loopback admin
access only and default parameters; ``Engine.copy_settings`` copies them on request.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .errors import LocalCloudError


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: str
    needs_restart: bool = False
    description: str = ""


# The curated set a DBA may change through the portal; everything else is engine-owned.
PARAMETERS = {
    spec.name: spec
    for spec in (
        ParameterSpec("work_mem", "4MB", description="Memory per sort or hash before disk"),
        ParameterSpec("maintenance_work_mem", "16MB", description="Memory for VACUUM, indexes"),
        ParameterSpec("statement_timeout", "0", description="Abort statements after (ms)"),
        ParameterSpec("lock_timeout", "0", description="Abort lock waits after (ms)"),
        ParameterSpec(
            "idle_in_transaction_session_timeout", "0", description="End idle transactions"
        ),
        ParameterSpec("log_min_duration_statement", "-1", description="Log slow statements (ms)"),
        ParameterSpec("log_statement", "none", description="none, ddl, mod or all"),
        ParameterSpec("random_page_cost", "4", description="Planner cost of a random read"),
        ParameterSpec("effective_cache_size", "4GB", description="Planner's cache estimate"),
        ParameterSpec("default_transaction_isolation", "read committed"),
        ParameterSpec("max_connections", "20", needs_restart=True),
        ParameterSpec("shared_buffers", "16MB", needs_restart=True),
    )
}


def check_parameter(name: str) -> ParameterSpec:
    spec = PARAMETERS.get(name)
    if spec is None:
        allowed = ", ".join(sorted(PARAMETERS))
        raise LocalCloudError(
            f"'{name}' is not a parameter the portal manages. Allowed: {allowed}."
        )
    return spec


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


def hba_cidrs(rules: list[dict]) -> list[str]:
    cidrs: list[str] = []
    for rule in rules:
        cidrs += check_rule(rule["name"], rule["start_ip"], rule["end_ip"])
    return cidrs
