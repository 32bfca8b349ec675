"""Azure Cosmos DB for PostgreSQL clusters (Hyperscale (Citus) server groups).

Talks to ARM through the official SDK (``azure-mgmt-cosmosdbforpostgresql``, API
2022-11-08, resource type ``Microsoft.DBforPostgreSQL/serverGroupsv2``). Credentials
come from ``azure-identity``'s ``DefaultAzureCredential`` unless one is passed in; the
backend never stores, logs or shows them. Every SDK failure it knows about leaves as a
``BackendError`` whose text a DBA can act on.

A restore token is JSON: the subscription, resource group and names, the point in time,
and the SDK poller's continuation token (the initial PUT answer with its
``Azure-AsyncOperation`` URL, no credentials), so a restarted worker can keep polling.

What Azure really answers, and this module relies on (see docs/azure.md):

- A restored cluster does not name its source: the real service answers the restore PUT
  and every later GET with ``sourceResourceId`` null and no ``pointInTimeUTC``. The portal
  keeps lineage in its own restore records; ``restored_from`` here is only what ARM says.
- ``earliestRestoreTime`` is null until Azure has a backup of the cluster (also right
  after a restore): such a cluster cannot be restored yet, and the portal says why.
- A configuration update of the worker nodes may answer 202 (Azure's own example does),
  which SDK 1.0.0 refuses; the backend follows that operation itself, through the SDK's
  pipeline and ARM polling.
- Cluster names follow the swagger's pattern, checked before any request.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline import PipelineContext, PipelineResponse
from azure.core.polling import LROPoller
from azure.mgmt.core.polling.arm_polling import ARMPolling
from azure.mgmt.cosmosdbforpostgresql import CosmosdbForPostgresqlMgmtClient
from azure.mgmt.cosmosdbforpostgresql import models as m

from .azure_common import (
    _TERMINAL,
    TOKEN_VERSION,
    ArmBackend,
    _aware,
    _SubmitOnly,
    _Watched,
    arm_id_parts,
    arm_id_rule,
    refuse_outside_window,
    translate,
)
from .base import (
    BackendError,
    CopyResult,
    FirewallRule,
    GroupStatus,
    Node,
    Parameter,
    Progress,
    ProgressCallback,
    RestoreRequest,
    RestoreResult,
    RestoreWindow,
    ServerGroup,
)

RESOURCE_TYPE = "Microsoft.DBforPostgreSQL/serverGroupsv2"
_ID = arm_id_rule(RESOURCE_TYPE)
# The swagger's ClusterNameParameter (2022-11-08): 3 to 40 lowercase letters, digits and
# hyphens, neither starting nor ending with a hyphen, and not digits only.
NAME_MAX_LENGTH = 40
NAME_RULE = re.compile(rf"^(?![0-9]+$)(?!-)[a-z0-9-]{{3,{NAME_MAX_LENGTH}}}(?<!-)$")
NAME_RULE_TEXT = (
    f"Azure accepts 3 to {NAME_MAX_LENGTH} characters: lowercase letters, digits and "
    "hyphens, not starting or ending with a hyphen, and not digits only."
)
EARLIEST_NOT_REPORTED = (
    "Azure has not reported an earliest restore point for this cluster yet; restore "
    "becomes available when it does."
)
# PostgreSQL 15's parameters of context "postmaster" (from `postgres --describe-config`)
# that a cluster's configuration may list: a change takes effect only after a restart.
# Used when ARM leaves out the swagger's `requiresRestart`, as its own examples do.
RESTART_PARAMETERS = frozenset(
    {
        "archive_mode", "autovacuum_freeze_max_age", "autovacuum_max_workers",
        "autovacuum_multixact_freeze_max_age", "dynamic_shared_memory_type", "hot_standby",
        "huge_page_size", "huge_pages", "jit_provider", "listen_addresses",
        "logging_collector", "max_connections", "max_files_per_process",
        "max_locks_per_transaction", "max_logical_replication_workers",
        "max_pred_locks_per_transaction", "max_prepared_transactions",
        "max_replication_slots", "max_wal_senders", "max_worker_processes",
        "min_dynamic_shared_memory", "old_snapshot_threshold", "port", "shared_buffers",
        "shared_memory_type", "shared_preload_libraries", "superuser_reserved_connections",
        "track_activity_query_size", "track_commit_timestamp", "wal_buffers",
        "wal_decode_buffer_size", "wal_level", "wal_log_hints",
    }
)  # fmt: skip


def cluster_name_problem(name: str) -> str | None:
    """Why Azure would refuse ``name`` for a new cluster, before any request; else None."""
    if not name:
        return "Enter a name for the new server group."
    if NAME_RULE.match(name):
        return None
    if name.isdigit():
        return (
            f"'{name}' is not a valid server group name: Azure refuses a name of digits "
            f"only. {NAME_RULE_TEXT}"
        )
    return f"'{name}' is not a valid server group name. {NAME_RULE_TEXT}"


def needs_restart(configuration: m.Configuration) -> bool:
    """ARM's documented ``requiresRestart`` when it sends one, else PostgreSQL's context."""
    if configuration.requires_restart is not None:
        return bool(configuration.requires_restart)
    return configuration.name in RESTART_PARAMETERS


def parse_id(group_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) from a cluster's ARM resource id."""
    return arm_id_parts(_ID, group_id, "an Azure server group id")


def _status(cluster: m.Cluster) -> str:
    provisioning = (cluster.provisioning_state or "").lower()
    state = (cluster.state or "").lower()
    if provisioning in {"failed", "canceled"} or state == "failed":
        return GroupStatus.FAILED
    if provisioning in {"deleting", "dropping"} or state in {"dropping", "deleting"}:
        return GroupStatus.DELETING
    if provisioning in {"inprogress", "creating", "accepted", "provisioning"}:
        return GroupStatus.RESTORING if cluster.source_resource_id else GroupStatus.PROVISIONING
    words = {
        "ready": GroupStatus.READY,
        "provisioning": GroupStatus.PROVISIONING,
        "stopped": GroupStatus.STOPPED,
        "stopping": GroupStatus.STOPPING,
        "starting": GroupStatus.STARTING,
        "updating": GroupStatus.UPDATING,
        "disabled": GroupStatus.DISABLED,
    }
    if state in words:
        return words[state]
    if not state and provisioning == "succeeded":
        return GroupStatus.READY
    return (cluster.state or GroupStatus.UNKNOWN).capitalize()


def _not_reported(name: str) -> str:
    return (
        f"Azure has not reported an earliest restore point for {name} yet; restore becomes "
        "available when it does."
    )


class AzureBackend(ArmBackend):
    """Server groups in one or more Azure subscriptions."""

    key = "azure"
    label = "Azure"
    client_class = CosmosdbForPostgresqlMgmtClient
    listing = "server groups"
    not_ours = "Server group '{name}' is not among the portal's Azure server groups."
    log_name = "Azure backend"
    parse_id = staticmethod(parse_id)

    def _list_all(self, client: CosmosdbForPostgresqlMgmtClient) -> Any:
        return client.clusters.list()

    def _list_in_group(self, client: CosmosdbForPostgresqlMgmtClient, resource_group: str) -> Any:
        return client.clusters.list_by_resource_group(resource_group)

    def _get_resource(self, client: CosmosdbForPostgresqlMgmtClient, rg: str, name: str) -> Any:
        return client.clusters.get(rg, name)

    def _begin_delete(self, client: CosmosdbForPostgresqlMgmtClient, rg: str, name: str) -> Any:
        return client.clusters.begin_delete(rg, name)

    def _group(self, cluster: m.Cluster, nodes: tuple[Node, ...] = ()) -> ServerGroup:
        sub, rg, _ = parse_id(cluster.id)
        earliest = _aware(cluster.earliest_restore_time)
        restored_from = ""
        if cluster.source_resource_id:
            match = _ID.match(cluster.source_resource_id)
            restored_from = match["name"] if match else cluster.source_resource_id
        coordinator = next((n for n in nodes if n.role == "coordinator"), None)
        created = getattr(cluster.system_data, "created_at", None)
        return ServerGroup(
            backend=self.key,
            cloud=self.label,
            id=cluster.id,
            name=cluster.name,
            status=_status(cluster),
            subscription=sub,
            resource_group=rg,
            location=cluster.location or "",
            postgresql_version=cluster.postgresql_version or "",
            coordinator_host=coordinator.host if coordinator else "",
            coordinator_port=coordinator.port if coordinator else None,
            database="citus",
            admin_user=cluster.administrator_login or "citus",
            node_count=1 + (cluster.node_count or 0),
            nodes=nodes,
            earliest_restore=earliest,
            restored_from=restored_from,
            restore_point=_aware(cluster.point_in_time_utc),
            created_at=_aware(created),
            has_backup=earliest is not None,
            tags=dict(cluster.tags or {}),
        )

    # Reads

    def get_server_group(self, group_id: str) -> ServerGroup:
        sub, rg, cluster = self._read(group_id)
        servers = self._call(
            f"list the servers of {cluster.name}",
            sub,
            lambda: list(self._client(sub).servers.list_by_cluster(rg, cluster.name)),
        )
        # Coordinator first, then workers by name, so that "worker-1" is stable.
        servers.sort(key=lambda s: ((s.role or "").lower() != "coordinator", s.name))
        nodes = tuple(
            Node(
                name=server.name,
                role="coordinator" if (server.role or "").lower() == "coordinator" else "worker",
                host=server.fully_qualified_domain_name or "",
                port=5432,
                database="citus",
                user=server.administrator_login or cluster.administrator_login or "citus",
                status=server.state or "",
            )
            for server in servers
        )
        return self._group(cluster, nodes)

    def restore_window(self, group_id: str) -> RestoreWindow:
        _, _, cluster = self._read(group_id)
        earliest = _aware(cluster.earliest_restore_time)
        if earliest is None:
            raise BackendError(_not_reported(cluster.name))
        return RestoreWindow(earliest=earliest, latest=datetime.now(UTC))

    name_max_length = NAME_MAX_LENGTH
    name_rule_text = NAME_RULE_TEXT

    def name_problem(self, name: str) -> str | None:
        return cluster_name_problem(name)

    def restore_blocker(self, group: ServerGroup) -> str | None:
        blocker = super().restore_blocker(group)
        if blocker and group.is_ready and group.earliest_restore is None:
            return EARLIEST_NOT_REPORTED
        return blocker

    def name_available(self, name: str) -> str | None:
        problem = cluster_name_problem(name)
        if problem:
            return problem
        sub = self._first_subscription()
        # Cluster names become DNS names, so Azure checks them globally: one subscription
        # is enough to ask.
        answer = self._call(
            f"check the name '{name}'",
            sub,
            lambda: self._client(sub).clusters.check_name_availability(
                m.NameAvailabilityRequest(name=name)
            ),
        )
        if answer.name_available:
            return None
        reason = (answer.message or "").strip()
        return (
            f"The name '{name}' cannot be used in Azure: {reason}"
            if reason
            else f"The name '{name}' is already used by another Azure server group."
        )

    # Restores

    def begin_restore(self, request: RestoreRequest) -> str:
        sub, rg, source = self._read(request.source_id)
        problem = cluster_name_problem(request.target_name)
        if problem:
            raise BackendError(problem)
        earliest = _aware(source.earliest_restore_time)
        if earliest is None:
            raise BackendError(_not_reported(source.name))
        point = earliest if request.point_in_time is None else _aware(request.point_in_time)
        now = datetime.now(UTC)
        refuse_outside_window(point, earliest=earliest, now=now, name=source.name)
        parameters = m.Cluster(
            location=source.location,
            source_resource_id=source.id,
            source_location=source.location,
            point_in_time_utc=point,
        )
        poller = self._call(
            f"start restoring {source.name} into {request.target_name}",
            sub,
            lambda: self._client(sub).clusters.begin_create(
                rg,
                request.target_name,
                parameters,
                polling=_SubmitOnly(
                    self.polling_interval,
                    lro_options={"final-state-via": "azure-async-operation"},
                ),
            ),
        )
        token = {
            "v": TOKEN_VERSION,
            "subscription": sub,
            "resource_group": rg,
            "name": request.target_name,
            "source_id": source.id,
            "point_in_time": point.isoformat(),
            "continuation_token": poller.continuation_token(),
        }
        return json.dumps(token)

    def wait_restore(self, token: str, progress: ProgressCallback) -> RestoreResult:
        state = self._read_token(token)
        sub, rg, name = state["subscription"], state["resource_group"], state["name"]
        point = datetime.fromisoformat(state["point_in_time"])
        doing = f"restore into {name}"
        watched = _Watched(
            self.polling_interval, lro_options={"final-state-via": "azure-async-operation"}
        )
        progress(
            Progress(
                phase="Submitted",
                message="Azure accepted the restore; it reports no per-node progress.",
                coarse=True,
            )
        )
        poller = self._call(
            doing,
            sub,
            lambda: self._client(sub).clusters.begin_create(
                rg,
                name,
                None,
                polling=watched,
                continuation_token=state["continuation_token"],
            ),
        )
        try:
            self._watch(poller, watched, progress)
            cluster = poller.result()
        except HttpResponseError as error:
            cluster = self._outcome_without_operation(error, sub, rg, name)
        except AzureError as error:
            raise translate(error, doing, sub) from None
        group_id = cluster.id if cluster is not None and cluster.id else ""
        if not group_id:
            group_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{RESOURCE_TYPE}/{name}"
        nodes = {n.name: 100 for n in self._nodes_quietly(group_id)}
        progress(Progress(phase="Succeeded", nodes=nodes, message=f"{name} is ready.", coarse=True))
        self.refresh()
        restored = _aware(cluster.point_in_time_utc) if cluster is not None else None
        return RestoreResult(target_id=group_id, target_name=name, point_in_time=restored or point)

    def _watch(self, poller: Any, watched: _Watched, progress: ProgressCallback) -> None:
        # Azure gives no per-node percentage: each answer of the operation is one report.
        self._follow(
            poller,
            watched,
            lambda status, reported: progress(
                Progress(
                    phase=GroupStatus.RESTORING,
                    message=f"Azure reports the restore {status} (check {reported}).",
                    coarse=True,
                )
            ),
        )

    def _outcome_without_operation(
        self, error: HttpResponseError, sub: str, rg: str, name: str
    ) -> m.Cluster:
        """Decide a restore's end from the cluster when the operation failed or is gone."""
        doing = f"restore into {name}"
        if error.status_code == 404:
            # Async operations expire; the cluster itself says how the restore ended.
            cluster = self._call(doing, sub, lambda: self._client(sub).clusters.get(rg, name))
            if (cluster.provisioning_state or "").lower() == "succeeded":
                return cluster
            if (cluster.provisioning_state or "").lower() in _TERMINAL:
                raise BackendError(
                    f"The restore into {name} ended {cluster.provisioning_state}.",
                    code=cluster.provisioning_state or "",
                )
        raise self._restore_refused(error, name, sub)

    def _nodes_quietly(self, group_id: str) -> tuple[Node, ...]:
        try:
            return self.get_server_group(group_id).nodes
        except BackendError:
            return ()

    def abandon_restore(self, token: str) -> str:
        state = self._read_token(token)
        sub, rg, name = state["subscription"], state["resource_group"], state["name"]
        client = self._client(sub)
        cluster = self._get_or_none(lambda: client.clusters.get(rg, name), name, sub)
        if cluster is None:
            return f"Nothing to clean up: Azure has no server group {name}."
        if _status(cluster) != GroupStatus.FAILED:
            return (
                f"Left {name} in place: Azure reports it {_status(cluster).lower()}, "
                "not failed. Delete it in Azure if it is not wanted."
            )
        self._call(
            f"delete the failed server group {name}",
            sub,
            lambda: client.clusters.begin_delete(rg, name).result(),
        )
        self.refresh()
        return f"Deleted the failed server group {name} in resource group {rg}."

    # Post-restore tasks

    def firewall_rules(self, group_id: str) -> list[FirewallRule]:
        rules = self._list_of(
            group_id,
            "read the firewall rules of {name}",
            lambda client, rg, name: client.firewall_rules.list_by_cluster(rg, name),
        )
        return sorted(
            (FirewallRule(r.name, r.start_ip_address, r.end_ip_address) for r in rules),
            key=lambda r: r.name,
        )

    def _create_firewall_rule(
        self, client: CosmosdbForPostgresqlMgmtClient, rg: str, name: str, rule: FirewallRule
    ) -> None:
        client.firewall_rules.begin_create_or_update(
            rg,
            name,
            rule.name,
            m.FirewallRule(start_ip_address=rule.start_ip, end_ip_address=rule.end_ip),
        ).result()

    def _all_parameters(self, group_id: str) -> list[Parameter]:
        configurations = self._list_of(
            group_id,
            "read the server parameters of {name}",
            lambda client, rg, name: client.configurations.list_by_cluster(rg, name),
        )
        found = []
        for configuration in configurations:
            for group in configuration.server_role_group_configurations or []:
                found.append(
                    Parameter(
                        name=configuration.name,
                        value=group.value or "",
                        default=group.default_value or "",
                        needs_restart=needs_restart(configuration),
                        scope="coordinator" if group.role.lower() == "coordinator" else "worker",
                    )
                )
        return found

    def parameters(self, group_id: str) -> list[Parameter]:
        changed = [p for p in self._all_parameters(group_id) if p.value != p.default]
        return sorted(changed, key=lambda p: (p.scope, p.name))

    def copy_parameters(self, source_id: str, target_id: str) -> CopyResult:
        wanted = self.parameters(source_id)
        current = {(p.scope, p.name): p.value for p in self._all_parameters(target_id)}
        sub, rg, name = self._locate(target_id)
        client = self._client(sub)
        copied = 0
        restart = False
        for parameter in wanted:
            if current.get((parameter.scope, parameter.name)) == parameter.value:
                continue
            self._call(
                f"set {parameter.name} on the {parameter.scope} nodes of {name}",
                sub,
                lambda parameter=parameter: self._set_parameter(client, rg, name, parameter),
            )
            copied += 1
            restart = restart or parameter.needs_restart
        return CopyResult(parameters=copied, needs_restart=restart)

    def _set_parameter(
        self, client: CosmosdbForPostgresqlMgmtClient, rg: str, name: str, parameter: Parameter
    ) -> None:
        """Update one parameter and wait for Azure's operation to end.

        The swagger (and so SDK 1.0.0) expects 200 or 201; Azure's own example of a worker
        update answers 202 with the same headers. The SDK raises on that 202 after ARM has
        accepted the change, so the 202 is followed here, with the SDK's pipeline.
        """
        operations = client.configurations
        update = (
            operations.begin_update_on_coordinator
            if parameter.scope == "coordinator"
            else operations.begin_update_on_node
        )
        try:
            update(rg, name, parameter.name, m.ServerConfiguration(value=parameter.value)).result()
        except HttpResponseError as error:
            if error.status_code != 202 or error.response is None:
                raise
            self._follow_accepted(client, error.response)

    def _follow_accepted(self, client: CosmosdbForPostgresqlMgmtClient, response: Any) -> None:
        """Poll a 202's ``Azure-AsyncOperation`` to its end with ARM polling, as the SDK
        polls a 201; a failed operation raises ``HttpResponseError`` with ARM's error."""
        initial = PipelineResponse(response.request, response, PipelineContext(None))
        polling = ARMPolling(
            self.polling_interval, lro_options={"final-state-via": "azure-async-operation"}
        )
        LROPoller(client._client, initial, lambda pipeline_response: None, polling).result()

    def roles(self, group_id: str) -> list[str]:
        roles = self._list_of(
            group_id,
            "read the roles of {name}",
            lambda client, rg, name: client.roles.list_by_cluster(rg, name),
        )
        return sorted(r.name for r in roles)
