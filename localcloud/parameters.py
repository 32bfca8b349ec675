"""Server parameters: the curated set a DBA may change through the portal, their
defaults, and setting one on a group's nodes (``ALTER SYSTEM``). Every other setting is
the engine's (node.BASE_SETTINGS).

A group's record keeps the values that differ from the default. A restore carries none
over, as in Azure (``pgdata`` empties ``postgresql.auto.conf``); ``Engine.copy_settings``
copies them from the source on request.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from .errors import LocalCloudError, NotReady
from .node import Node


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: str
    needs_restart: bool = False
    description: str = ""


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
    """The spec of ``name``; raises when the portal does not manage that parameter."""
    spec = PARAMETERS.get(name)
    if spec is None:
        allowed = ", ".join(sorted(PARAMETERS))
        raise LocalCloudError(
            f"'{name}' is not a parameter the portal manages. Allowed: {allowed}."
        )
    return spec


def every(values: dict[str, str]) -> list[tuple[ParameterSpec, str]]:
    """Every managed parameter by name, with its value in a group whose record keeps
    ``values`` (its ``parameters``)."""
    return [(spec, values.get(name, spec.default)) for name, spec in sorted(PARAMETERS.items())]


def changed(values: dict[str, str]) -> list[tuple[ParameterSpec, str]]:
    """The parameters a group has away from their defaults, by name."""
    return [(PARAMETERS[name], value) for name, value in sorted(values.items())]


def apply(nodes: list[Node], label: str, name: str, value: str) -> ParameterSpec:
    """ALTER SYSTEM on every node of the group ``label`` (each must run), then a reload;
    returns the spec (``needs_restart``: whether the value waits for a restart)."""
    spec = check_parameter(name)
    for node in nodes:
        if not node.is_running():
            raise NotReady(f"Server group '{label}' must run to change parameters.")
        with node.connect() as conn:
            try:
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
            except psycopg.Error as error:
                raise LocalCloudError(f"{node.label}: {error.diag.message_primary}") from error
            conn.execute("SELECT pg_reload_conf()")
    return spec


def store(values: dict[str, str], spec: ParameterSpec, value: str) -> None:
    """Record ``value`` in a group's ``parameters`` (a default is not kept)."""
    if value == spec.default:
        values.pop(spec.name, None)
    else:
        values[spec.name] = value
