"""Azure Database for PostgreSQL flexible server: single servers and elastic clusters.

Talks to ARM through the official SDK (``azure-mgmt-postgresqlflexibleservers`` 3.0.0,
API 2026-10-01, resource type ``Microsoft.DBforPostgreSQL/flexibleServers``), with
``azure-identity``'s ``DefaultAzureCredential`` unless a credential is passed in. The ARM
plumbing (client, cached listing, locating, tokens, errors through ``translate``) is
``azure_common``'s, shared with the Cosmos backend, so both Azure backends speak alike.

Restore choices, as the flexible server's own Restore page has them:

- ``latest``: Latest restore point (now): the time the restore is submitted.
- ``custom``: a point between the earliest restore date and now, checked before any call
  (Azure answers InternalServerError for a point before the earliest restore date).
- ``fast``: a completed full backup; its completion time is the point, so no WAL is
  replayed.
- ``geo``: Restore to paired region (``createMode`` GeoRestore), only when the server has
  geo-redundant backup; Azure offers no custom point for it, so the latest point is asked.

A restore token is JSON: where the new server goes, the point, the choice and the SDK
poller's continuation token (the 202's ``Azure-AsyncOperation``, no credentials), so a
restarted worker keeps polling the same operation.

In SDK 3.0.0 ``create_mode``, ``source_server_resource_id`` and ``point_in_time_utc`` sit
under ``Server.properties``; the PUT answers 202 with no body (Azure's own example).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
from azure.mgmt.postgresqlflexibleservers import models as m

from portal.instants import utc_text

from .azure_common import (
    PORTAL_URL,
    TOKEN_VERSION,
    ArmBackend,
    _arm_error,
    _aware,
    _SubmitOnly,
    _Watched,
    arm_id_parts,
    arm_id_rule,
    refuse_outside_window,
    translate,
)
from .base import (
    NAME_MAX_LENGTH,
    BackendError,
    BackupPoint,
    CopyResult,
    FirewallRule,
    GroupStatus,
    Node,
    Parameter,
    Progress,
    ProgressCallback,
    RestoreEstimate,
    RestoreRequest,
    RestoreResult,
    RestoreWindow,
    ServerGroup,
)

RESOURCE_TYPE = "Microsoft.DBforPostgreSQL/flexibleServers"
_ID = arm_id_rule(RESOURCE_TYPE)
# Flexible server names: 3 to 63 lowercase letters, digits and hyphens, neither starting
# nor ending with a hyphen. The portal's restore records keep 40 characters.
NAME_RULE = re.compile(r"^(?!-)[a-z0-9-]{3,63}(?<!-)$")
NAME_LIMIT = NAME_MAX_LENGTH
NAME_RULE_TEXT = (
    "Azure accepts lowercase letters, digits and hyphens, not starting or ending with a "
    f"hyphen; the portal takes 3 to {NAME_LIMIT} characters."
)
# Azure's region pairs (learn.microsoft.com, "Azure cross-region replication"): where a
# geo-restore lands. A few pairs are one-way (westus3 -> eastus, brazilsouth ->
# southcentralus).
PAIRED_REGIONS = {
    "eastus": "westus", "westus": "eastus", "eastus2": "centralus", "centralus": "eastus2",
    "northcentralus": "southcentralus", "southcentralus": "northcentralus",
    "westus2": "westcentralus", "westcentralus": "westus2", "westus3": "eastus",
    "canadacentral": "canadaeast", "canadaeast": "canadacentral",
    "brazilsouth": "southcentralus", "northeurope": "westeurope", "westeurope": "northeurope",
    "uksouth": "ukwest", "ukwest": "uksouth", "francecentral": "francesouth",
    "francesouth": "francecentral", "germanywestcentral": "germanynorth",
    "germanynorth": "germanywestcentral", "swedencentral": "swedensouth",
    "swedensouth": "swedencentral", "switzerlandnorth": "switzerlandwest",
    "switzerlandwest": "switzerlandnorth", "norwayeast": "norwaywest",
    "norwaywest": "norwayeast", "eastasia": "southeastasia", "southeastasia": "eastasia",
    "japaneast": "japanwest", "japanwest": "japaneast",
    "australiaeast": "australiasoutheast", "australiasoutheast": "australiaeast",
    "centralindia": "southindia", "southindia": "centralindia",
    "koreacentral": "koreasouth", "koreasouth": "koreacentral",
    "southafricanorth": "southafricawest", "southafricawest": "southafricanorth",
    "uaenorth": "uaecentral", "uaecentral": "uaenorth",
}  # fmt: skip
QUOTA_CODES = {"QuotaExceeded", "SubscriptionQuotaExceeded", "OperationNotAllowed"}
CHOICE_WORDS = {
    "latest": "the latest restore point",
    "custom": "a custom restore point",
    "fast": "a fast restore point",
    "geo": "the paired region",
}


def server_name_problem(name: str) -> str | None:
    """Why Azure (or the portal) would refuse ``name`` for a new server; else None."""
    if not name:
        return "Enter a name for the new server."
    if len(name) > NAME_LIMIT or not NAME_RULE.match(name):
        return f"'{name}' is not a valid server name. {NAME_RULE_TEXT}"
    return None


def parse_id(group_id: str) -> tuple[str, str, str]:
    return arm_id_parts(_ID, group_id, "an Azure flexible server id")


def _text(value: Any) -> str:
    """An SDK enum's wire value (f-strings would show its Python name), else the string."""
    return str(getattr(value, "value", value) or "")


def _status(server: m.Server) -> str:
    state = _text(getattr(server.properties, "state", None)).lower()
    words = {
        "ready": GroupStatus.READY,
        "provisioning": GroupStatus.PROVISIONING,
        "stopped": GroupStatus.STOPPED,
        "stopping": GroupStatus.STOPPING,
        "starting": GroupStatus.STARTING,
        "updating": GroupStatus.UPDATING,
        "restarting": GroupStatus.RESTARTING,
        "dropping": GroupStatus.DELETING,
        "disabled": GroupStatus.DISABLED,
        "inaccessible": GroupStatus.INACCESSIBLE,
    }
    return words.get(state, state.capitalize() or GroupStatus.UNKNOWN)


def _is_quota(code: str) -> bool:
    return code in QUOTA_CODES or "quota" in code.lower()


def _quota_refusal(lead: str, code: str, message: str) -> BackendError:
    """``lead`` completed with why (ARM's code and message) and what the DBA can do."""
    return BackendError(
        f"{lead} for lack of quota in the target region ({code}: {message}). Ask for a quota "
        "increase for Azure Database for PostgreSQL flexible server in that region, or free "
        "some capacity.",
        code=code,
    )


def _span(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    if hours >= 48:
        return f"{hours // 24} days {hours % 24} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


class FlexibleBackend(ArmBackend):
    """Flexible servers (single servers and elastic clusters) in Azure subscriptions."""

    key = "flexible"
    label = "Azure flexible server"
    client_class = PostgreSQLManagementClient
    listing = "flexible servers"
    not_ours = "Server '{name}' is not among the portal's flexible servers."
    log_name = "Azure flexible server backend"
    parse_id = staticmethod(parse_id)

    def _list_all(self, client: PostgreSQLManagementClient) -> Any:
        return client.servers.list_by_subscription()

    def _list_in_group(self, client: PostgreSQLManagementClient, resource_group: str) -> Any:
        return client.servers.list_by_resource_group(resource_group)

    @staticmethod
    def _translate(error: AzureError, doing: str, subscription: str) -> BackendError:
        if isinstance(error, HttpResponseError):
            code, message = _arm_error(error)
            if _is_quota(code):
                return _quota_refusal(f"Could not {doing}: Azure refused", code, message)
        return translate(error, doing, subscription)

    resource_word = "server"

    def _get_resource(self, client: PostgreSQLManagementClient, rg: str, name: str) -> Any:
        return client.servers.get(rg, name)

    def _begin_delete(self, client: PostgreSQLManagementClient, rg: str, name: str) -> Any:
        return client.servers.begin_delete(rg, name)

    def _group(self, server: m.Server) -> ServerGroup:
        sub, rg, _ = parse_id(server.id)
        props = server.properties or m.ServerProperties()
        backup = props.backup or m.Backup()
        earliest = _aware(backup.earliest_restore_date)
        size = props.cluster.cluster_size if props.cluster else None
        kind = "Elastic cluster" if size else "Single server"
        count = size or 1
        geo = _text(backup.geo_redundant_backup).lower() == "enabled"
        location = (server.location or "").replace(" ", "").lower()
        host = props.fully_qualified_domain_name or ""
        user = props.administrator_login or ""
        nodes = tuple(
            Node(
                name=f"node-{index}" if size else server.name,
                role="coordinator" if index == 0 else "worker",
                host=host,
                port=5432,
                database="postgres",
                user=user,
                status=_text(props.state),
            )
            for index in range(count)
        )
        sku = server.sku
        ha = props.high_availability
        ha_text = "Disabled"
        if ha and _text(ha.mode) and _text(ha.mode).lower() != "disabled":
            ha_text = f"{_text(ha.mode)} ({_text(ha.state)})" if ha.state else _text(ha.mode)
        storage = props.storage.storage_size_gb if props.storage else None
        essentials = (
            ("Kind", f"{kind} ({count} nodes)" if size else kind),
            ("Compute", f"{sku.name} ({_text(sku.tier)})" if sku else "—"),
            ("Storage", f"{storage} GiB" if storage else "—"),
            (
                "Backup retention",
                f"{backup.backup_retention_days} days" if backup.backup_retention_days else "—",
            ),
            ("Geo-redundant backup", "Enabled" if geo else "Disabled"),
            ("Availability zone", props.availability_zone or "—"),
            ("High availability", ha_text),
        )
        created = getattr(server.system_data, "created_at", None)
        return ServerGroup(
            backend=self.key,
            cloud=self.label,
            id=server.id,
            name=server.name,
            status=_status(server),
            subscription=sub,
            resource_group=rg,
            location=location,
            postgresql_version=props.version or "",
            coordinator_host=host,
            coordinator_port=5432 if host else None,
            database="postgres",
            admin_user=user,
            node_count=count,
            nodes=nodes,
            earliest_restore=earliest,
            created_at=_aware(created),
            has_backup=earliest is not None,
            tags=dict(server.tags or {}),
            kind=kind,
            geo_redundant_backup=geo,
            paired_location=PAIRED_REGIONS.get(location, "") if geo else "",
            essentials=essentials,
        )

    # Reads

    def get_server_group(self, group_id: str) -> ServerGroup:
        return self._group(self._read(group_id)[2])

    def restore_window(self, group_id: str) -> RestoreWindow:
        _, _, server = self._read(group_id)
        backup = server.properties.backup if server.properties else None
        earliest = _aware(backup.earliest_restore_date) if backup else None
        if earliest is None:
            raise BackendError(
                f"Azure has not reported an earliest restore date for {server.name} yet; "
                "restore becomes available after its first full backup."
            )
        return RestoreWindow(earliest=earliest, latest=datetime.now(UTC))

    def restore_choices(self, group: ServerGroup) -> tuple[str, ...]:
        choices = ("latest", "custom", "fast")
        return choices + ("geo",) if group.paired_location else choices

    def restore_backups(self, group_id: str) -> list[BackupPoint]:
        backups = self._list_of(
            group_id,
            "list the backups of {name}",
            lambda client, rg, name: client.backups_automatic_and_on_demand.list_by_server(
                rg, name
            ),
        )
        points = [
            BackupPoint(
                name=b.name,
                completed=_aware(b.properties.completed_time),
                kind=_text(b.properties.backup_type),
            )
            for b in backups
            if b.properties is not None and b.properties.completed_time is not None
        ]
        return sorted(points, key=lambda p: p.completed, reverse=True)

    name_max_length = NAME_LIMIT
    name_rule_text = NAME_RULE_TEXT

    def name_problem(self, name: str) -> str | None:
        return server_name_problem(name)

    def name_available(self, name: str, location: str = "") -> str | None:
        """Checked in the region the new server would live in (Azure's per-location check);
        without a region, Azure's global check."""
        problem = server_name_problem(name)
        if problem:
            return problem
        sub = self._first_subscription()
        checks = self._client(sub).name_availability
        request = m.CheckNameAvailabilityRequest(name=name, type=RESOURCE_TYPE)
        answer = self._call(
            f"check the name '{name}'",
            sub,
            lambda: (
                checks.check_with_location(location, request)
                if location
                else checks.check_globally(request)
            ),
        )
        if answer.name_available:
            return None
        reason = (answer.message or "").strip()
        where = location or "Azure"
        return (
            f"The name '{name}' cannot be used in {where}: {reason}"
            if reason
            else f"The name '{name}' is already used by another Azure server."
        )

    def name_available_in(self, name: str, location: str) -> str | None:
        return self.name_available(name, location)

    # Restores

    def _plan(self, request: RestoreRequest, source: m.Server) -> tuple[str, str, datetime]:
        """(createMode, location, point) for a request, refusing what Azure would refuse."""
        group = self._group(source)
        choice = request.choice or ("custom" if request.point_in_time else "latest")
        if choice not in self.restore_choices(group) and choice != "geo":
            raise BackendError(f"The {self.label} backend offers no '{choice}' restore.")
        earliest = group.earliest_restore
        if earliest is None:
            raise BackendError(
                f"Azure has not reported an earliest restore date for {source.name} yet; "
                "restore becomes available after its first full backup."
            )
        now = datetime.now(UTC)
        if choice == "geo":
            if not group.geo_redundant_backup:
                raise BackendError(
                    f"{source.name} cannot be restored to its paired region: its backups are "
                    "not geo-redundant. Geo-redundant backup can only be chosen when a "
                    "server is created."
                )
            if not group.paired_location:
                raise BackendError(
                    f"The portal does not know the paired region of {group.location}; "
                    "restore to the paired region from the Azure portal."
                )
            return "GeoRestore", group.paired_location, now
        if choice == "latest":
            return "PointInTimeRestore", group.location, now
        point = _aware(request.point_in_time)
        if point is None:
            raise BackendError("Choose a restore point.")
        if choice == "fast":
            backups = self.restore_backups(source.id)
            if not any(b.completed == point for b in backups):
                raise BackendError(
                    f"{utc_text(point)} is not the completion time of a full backup of "
                    f"{source.name}; choose one of its backups."
                )
        refuse_outside_window(point, earliest=earliest, now=now, name=source.name)
        return "PointInTimeRestore", group.location, point

    def begin_restore(self, request: RestoreRequest) -> str:
        sub, rg, source = self._read(request.source_id)
        problem = server_name_problem(request.target_name)
        if problem:
            raise BackendError(problem)
        mode, location, point = self._plan(request, source)
        parameters = m.Server(
            location=location,
            properties=m.ServerProperties(
                create_mode=mode,
                source_server_resource_id=source.id,
                point_in_time_utc=point,
            ),
        )
        where = f" in {location}" if mode == "GeoRestore" else ""
        poller = self._call(
            f"start restoring {source.name} into {request.target_name}{where}",
            sub,
            lambda: self._client(sub).servers.begin_create_or_update(
                rg, request.target_name, parameters, polling=_SubmitOnly(self.polling_interval)
            ),
        )
        return json.dumps(
            {
                "v": TOKEN_VERSION,
                "subscription": sub,
                "resource_group": rg,
                "name": request.target_name,
                "location": location,
                "source_id": source.id,
                "choice": request.choice or "",
                "point_in_time": point.isoformat(),
                "estimate": self._estimate(source, request.choice, point),
                "continuation_token": poller.continuation_token(),
            }
        )

    def restore_estimate(
        self, group_id: str, choice: str, point: datetime | None
    ) -> RestoreEstimate | None:
        """What Azure's documentation lets one say (``_estimate``), with the backup a
        custom point restores from; no figure."""
        try:
            _, _, source = self._read(group_id)
        except BackendError:
            return super().restore_estimate(group_id, choice, point)
        moment = point if choice in ("custom", "fast") and point else datetime.now(UTC)
        return RestoreEstimate(
            seconds=None, rough=True, message=self._estimate(source, choice, moment)
        )

    def _estimate(self, source: m.Server, choice: str, point: datetime) -> str:
        """What Azure's documentation lets one say about how long this restore takes."""
        props = source.properties or m.ServerProperties()
        size = props.storage.storage_size_gb if props.storage else None
        data = f"{size} GiB of storage" if size else "the server's data"
        if choice == "fast":
            return (
                f"A fast restore copies {data} from a full backup and replays no WAL: Azure's "
                "documentation calls it the quickest restore."
            )
        try:
            backups = [b for b in self.restore_backups(source.id) if b.completed <= point]
        except BackendError:
            backups = []
        if not backups:
            return (
                f"Azure restores {data}, then replays the WAL up to the point: its "
                "documentation says minutes to hours, most of it WAL replay."
            )
        newest = backups[0]
        return (
            f"Azure restores {data} from the full backup of {utc_text(newest.completed)}, then "
            f"replays {_span((point - newest.completed).total_seconds())} of WAL: its "
            "documentation says minutes to hours, growing with the WAL to replay."
        )

    def wait_restore(self, token: str, progress: ProgressCallback) -> RestoreResult:
        state = self._read_token(token)
        sub, rg, name = state["subscription"], state["resource_group"], state["name"]
        point = datetime.fromisoformat(state["point_in_time"])
        doing = f"restore into {name}"
        watched = _Watched(self.polling_interval)
        progress(
            Progress(
                phase="Submitted",
                message="Azure accepted the restore and reports no progress. "
                + state.get("estimate", ""),
                coarse=True,
            )
        )
        poller = self._call(
            doing,
            sub,
            lambda: self._client(sub).servers.begin_create_or_update(
                rg, name, None, polling=watched, continuation_token=state["continuation_token"]
            ),
        )
        try:
            self._watch(poller, watched, progress, state)
            server = poller.result()
        except HttpResponseError as error:
            server = self._outcome_without_operation(error, sub, rg, name)
        except AzureError as error:
            raise self._translate(error, doing, sub) from None
        group_id = server.id if server is not None and server.id else ""
        if not group_id:
            group_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{RESOURCE_TYPE}/{name}"
        self.refresh()
        try:
            nodes = {n.name: 100 for n in self.get_server_group(group_id).nodes}
        except BackendError:
            nodes = {}
        progress(Progress(phase="Succeeded", nodes=nodes, message=f"{name} is ready.", coarse=True))
        return RestoreResult(target_id=group_id, target_name=name, point_in_time=point)

    def _watch(self, poller, watched, progress: ProgressCallback, state: dict) -> None:
        """Each answer of the operation is one report: Azure's status, the new server's
        state and the estimate (Azure gives no percentage)."""
        sub, rg, name = state["subscription"], state["resource_group"], state["name"]
        self._follow(
            poller,
            watched,
            lambda status, reported: progress(
                Progress(
                    phase=GroupStatus.RESTORING,
                    message=f"Azure reports the restore {status} "
                    f"(check {reported}); {self._state_words(sub, rg, name)} "
                    + state.get("estimate", ""),
                    coarse=True,
                )
            ),
        )

    def _state_words(self, sub: str, rg: str, name: str) -> str:
        """The new server's own state, as ARM shows it while the restore runs."""
        try:
            server = self._client(sub).servers.get(rg, name)
        except AzureError:
            return "the new server is not visible yet."
        return f"the new server is {(_text(server.properties.state) or 'not reported').lower()}."

    def _outcome_without_operation(
        self, error: HttpResponseError, sub: str, rg: str, name: str
    ) -> m.Server:
        doing = f"restore into {name}"
        if error.status_code == 404:
            server = self._call(doing, sub, lambda: self._client(sub).servers.get(rg, name))
            if _text(server.properties.state).lower() == "ready":
                return server
        code, message = _arm_error(error)
        if _is_quota(code):
            raise _quota_refusal(f"Azure could not restore into {name}", code, message)
        raise self._restore_refused(error, name, sub)

    def abandon_restore(self, token: str) -> str:
        state = self._read_token(token)
        sub, rg, name = state["subscription"], state["resource_group"], state["name"]
        server = self._get_or_none(lambda: self._client(sub).servers.get(rg, name), name, sub)
        if server is None:
            return f"Nothing to clean up: Azure has no server {name}."
        return (
            f"Left {name} in place: Azure reports it {_status(server).lower()}. Delete it in "
            "Azure if it is not wanted."
        )

    # Post-restore tasks

    def firewall_rules(self, group_id: str) -> list[FirewallRule]:
        rules = self._list_of(
            group_id,
            "read the firewall rules of {name}",
            lambda client, rg, name: client.firewall_rules.list_by_server(rg, name),
        )
        return sorted(
            (
                FirewallRule(r.name, r.properties.start_ip_address, r.properties.end_ip_address)
                for r in rules
            ),
            key=lambda r: r.name,
        )

    def _create_firewall_rule(
        self, client: PostgreSQLManagementClient, rg: str, name: str, rule: FirewallRule
    ) -> None:
        body = m.FirewallRule(
            properties=m.FirewallRuleProperties(
                start_ip_address=rule.start_ip, end_ip_address=rule.end_ip
            )
        )
        client.firewall_rules.begin_create_or_update(rg, name, rule.name, body).result()

    def _all_parameters(self, group_id: str) -> list[tuple[Parameter, bool]]:
        """(parameter, read-only) for every configuration of the server."""
        configurations = self._list_of(
            group_id,
            "read the server parameters of {name}",
            lambda client, rg, name: client.configurations.list_by_server(rg, name),
        )
        found = []
        for c in configurations:
            props = c.properties or m.ConfigurationProperties()
            found.append(
                (
                    Parameter(
                        name=c.name,
                        value=props.value or "",
                        default=props.default_value or "",
                        needs_restart=props.is_dynamic_config is False,
                        scope="server",
                    ),
                    bool(props.is_read_only),
                )
            )
        return found

    def parameters(self, group_id: str) -> list[Parameter]:
        """Parameters the DBA changed (not read-only ones Azure sets itself)."""
        changed = [
            p
            for p, read_only in self._all_parameters(group_id)
            if p.value != p.default and not read_only
        ]
        return sorted(changed, key=lambda p: p.name)

    def copy_parameters(self, source_id: str, target_id: str) -> CopyResult:
        wanted = self.parameters(source_id)
        current = {p.name: p.value for p, _ in self._all_parameters(target_id)}
        sub, rg, name = self._locate(target_id)
        client = self._client(sub)
        copied, restart = 0, False
        for parameter in wanted:
            if current.get(parameter.name) == parameter.value:
                continue
            body = m.ConfigurationForUpdate(
                properties=m.ConfigurationProperties(value=parameter.value, source="user-override")
            )
            self._call(
                f"set {parameter.name} on {name}",
                sub,
                lambda parameter=parameter, body=body: client.configurations.begin_update(
                    rg, name, parameter.name, body
                ).result(),
            )
            copied += 1
            restart = restart or parameter.needs_restart
        return CopyResult(parameters=copied, needs_restart=restart)

    def roles(self, group_id: str) -> list[str]:
        """Microsoft Entra administrators of the server (ARM lists no database roles)."""
        admins = self._list_of(
            group_id,
            "read the Microsoft Entra administrators of {name}",
            lambda client, rg, name: client.administrators_microsoft_entra.list_by_server(rg, name),
        )
        return sorted(
            name
            for name in ((a.properties.principal_name if a.properties else "") for a in admins)
            if name
        )

    def manual_tasks(self, group_id: str) -> list[tuple[str, str]]:
        """What Azure's restore documentation lists after a flexible server restore and a
        restore does not carry over, each with its blade in the Azure portal."""
        parse_id(group_id)
        blade = f"{PORTAL_URL}/#resource{group_id}"
        return [
            ("Set up virtual network or private endpoint access", f"{blade}/networking"),
            ("Enable high availability if the source had it", f"{blade}/highAvailability"),
            ("Re-create read replicas", f"{blade}/replication"),
            ("Add the Microsoft Entra administrators", f"{blade}/authentication"),
            ("Configure alerts", f"{blade}/alerts"),
        ]
