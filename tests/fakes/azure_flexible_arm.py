"""A fake Azure Resource Manager for Azure Database for PostgreSQL flexible server.

``FlexibleArm`` is an azure-core ``HttpTransport`` (it extends ``FakeArm``, keeping its
request log, ``script``, ``sleep`` and the async-operation resource): hand it to
``FlexibleBackend(transport=...)`` and the real SDK ``azure-mgmt-postgresqlflexibleservers``
3.0.0 (API 2026-10-01) runs unchanged against an in-memory model of flexible servers,
single servers and elastic clusters, with their backups, firewall rules and parameters.

Where each answer comes from: Azure's published examples in ``Azure/azure-rest-api-specs``,
``specification/postgresql/resource-manager/Microsoft.DBforPostgreSQL/stable/2025-08-01/
examples/`` (the newest stable folder; the SDK's 2026-10-01 is not published there).

- Server bodies (list, GET): ``ServersGet.json`` and ``ServersListBySubscription.json``:
  ``sku``, ``systemData.createdAt``, ``properties.storage`` (``storageSizeGB``, ``tier``,
  ``iops``), ``backup`` (``backupRetentionDays``, ``geoRedundantBackup`` "Enabled" or
  "Disabled", ``earliestRestoreDate`` with microseconds and ``Z``), ``highAvailability``
  (``mode``, ``state``), ``availabilityZone``, ``fullyQualifiedDomainName``,
  ``version``/``minorVersion``, ``state``. No example GET names a source
  (``sourceServerResourceId``), so a restored server here names none either.
- Elastic clusters: ``ServersClusterCreate.json`` gives ``properties.cluster``
  (``clusterSize``, ``defaultDatabaseName``); a cluster's GET carries the same block.
- Restore: ``ServersCreatePointInTimeRestore.json`` and
  ``ServersCreateGeoRestoreWithDataEncryptionEnabled.json``: the PUT body has
  ``createMode``, ``sourceServerResourceId``, ``pointInTimeUTC`` and ``location``; the
  answer is 202 with ``Azure-AsyncOperation`` and ``Location`` headers and no body.
- A point before the earliest restore date answers 500 ``InternalServerError``: what Azure's
  flexible-server documentation says happens (no example shows the body).
- Backups: ``BackupListByServer.json`` (the examples' list of automatic and on-demand
  backups): ``backupType`` "Full" or "Customer On-Demand", ``source``, ``completedTime``
  with ``+00:00``, names ``backup_<ticks>`` and ``ondemandbackup-<time>``.
- Name check: ``NameAvailabilityCheckWithLocation.json`` (and
  ``NameAvailabilityCheckGlobally.json``): ``nameAvailable`` a real boolean,
  ``message`` ""; a taken name answers false with ``reason`` "AlreadyExists" (no example
  shows one).
- Delete: ``ServersDelete.json``: 202 with ``Azure-AsyncOperation`` and ``Location``, no
  body; 204 when there is nothing to delete. The server's state is ``Dropping`` until the
  operation ends (``delete_in_progress`` polls answered InProgress first).
- Firewall rules: ``FirewallRulesListByServer.json`` (the example's ``nextLink`` is a
  skip token; here null: one page) and ``FirewallRulesCreateOrUpdate.json`` (202, both
  headers, no body; the SDK then GETs the rule).
- Parameters: ``ConfigurationsListByServer.json`` (``value``, ``defaultValue``,
  ``source`` "system-default" or "user-override", ``isDynamicConfig``, ``isReadOnly``,
  ``isConfigPendingRestart``) and ``ConfigurationsUpdate.json`` (PATCH, 202, no body).
- Microsoft Entra administrators: ``AdministratorsListByServer.json`` (items without
  ``name``).
- Not documented by the examples, written after ARM's conventions as ``FakeArm`` does: the
  async-operation resource, error bodies and codes (``ServerNameAlreadyExists``,
  ``GeoBackupsNotAvailable``, ``QuotaExceeded`` are this fake's names).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.azure_arm import SUB_A, SUB_B, FakeArm, arm_error

API_VERSION = "2026-10-01"
PROVIDER = "Microsoft.DBforPostgreSQL"
TYPE = f"{PROVIDER}/flexibleServers"
DOMAIN = "postgres.database.azure.com"
__all__ = ["SUB_A", "SUB_B", "FlexibleArm", "FlexServer", "arm_error"]


def iso_z(moment: datetime | None) -> str | None:
    """ServersGet.json's form: microseconds and Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_offset(moment: datetime) -> str:
    """BackupListByServer.json's form: microseconds and +00:00."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


@dataclass(frozen=True)
class Setting:
    default: str
    dynamic: bool
    read_only: bool = False
    data_type: str = "Integer"
    description: str = ""


# A few parameters as ConfigurationsListByServer.json lists them; shared_buffers and
# max_connections are static (isDynamicConfig false: a restart applies them).
SETTINGS: dict[str, Setting] = {
    "array_nulls": Setting("on", True, data_type="Boolean"),
    "authentication_timeout": Setting("60", True, read_only=True),
    "work_mem": Setting("4096", True),
    "max_connections": Setting("859", False),
    "shared_buffers": Setting("524288", False),
    "log_min_duration_statement": Setting("-1", True),
}


@dataclass
class FlexServer:
    subscription: str
    resource_group: str
    name: str
    location: str = "westeurope"
    version: str = "17"
    state: str = "Ready"
    earliest_restore: datetime | None = None
    geo_redundant: bool = False
    cluster_size: int | None = None  # an elastic cluster's node count
    sku: tuple[str, str] = ("Standard_D4ds_v5", "GeneralPurpose")
    storage_gb: int = 128
    retention_days: int = 7
    availability_zone: str = "1"
    ha_mode: str = "Disabled"
    administrator_login: str = "exampleadministratorlogin"
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # (name, backupType, source, completedTime)
    backups: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    firewall_rules: dict[str, tuple[str, str]] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)  # changed from the default
    # Microsoft Entra administrators: (principalType, principalName, objectId)
    administrators: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{TYPE}/{self.name}"
        )

    def to_json(self) -> dict:
        properties: dict[str, Any] = {
            "replica": {"role": "Primary", "capacity": 5},
            "storage": {
                "type": "",
                "iops": 500,
                "tier": "P10",
                "storageSizeGB": self.storage_gb,
                "autoGrow": "Disabled",
            },
            "network": {"publicNetworkAccess": "Enabled"},
            "privateEndpointConnections": [],
            "dataEncryption": {"type": "SystemManaged"},
            "authConfig": {"activeDirectoryAuth": "Disabled", "passwordAuth": "Enabled"},
            "fullyQualifiedDomainName": f"{self.name}.{DOMAIN}",
            "version": self.version,
            "minorVersion": "5",
            "administratorLogin": self.administrator_login,
            "state": self.state,
            "availabilityZone": self.availability_zone,
            "backup": {
                "backupRetentionDays": self.retention_days,
                "geoRedundantBackup": "Enabled" if self.geo_redundant else "Disabled",
                "earliestRestoreDate": iso_z(self.earliest_restore),
            },
            "highAvailability": {
                "mode": self.ha_mode,
                "state": "NotEnabled" if self.ha_mode == "Disabled" else "Healthy",
            },
            "maintenanceWindow": {
                "customWindow": "Disabled",
                "dayOfWeek": 0,
                "startHour": 0,
                "startMinute": 0,
            },
            "replicationRole": "Primary",
            "replicaCapacity": 5,
        }
        if self.cluster_size:
            properties["cluster"] = {
                "clusterSize": self.cluster_size,
                "defaultDatabaseName": "postgres",
            }
        return {
            "sku": {"name": self.sku[0], "tier": self.sku[1]},
            "systemData": {"createdAt": iso_z(self.created_at)},
            "properties": properties,
            "location": self.location,
            "tags": dict(self.tags),
            "id": self.id,
            "name": self.name,
            "type": TYPE,
        }


_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_SERVER = _RG + rf"/providers/{PROVIDER}/flexibleServers/(?P<name>[^/]+)"


class FlexibleArm(FakeArm):
    """An in-memory ARM for flexible servers; see the module docstring."""

    api_version = API_VERSION
    resource_type = TYPE
    paged = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self.servers: dict[tuple[str, str, str], FlexServer] = {}
        self.restore_error: dict[str, tuple[str, str]] = {}  # target -> failing operation
        self.in_progress = 2  # polls answered InProgress before the outcome
        self._routes = [
            ("GET", _SUB + rf"/providers/{TYPE}$", self._list_subscription),
            ("GET", _RG + rf"/providers/{TYPE}$", self._list_resource_group),
            ("GET", _SERVER + "$", self._get_resource),
            ("PUT", _SERVER + "$", self._put_server),
            ("DELETE", _SERVER + "$", self._delete_server),
            ("GET", _SERVER + "/backups$", self._list_backups),
            ("GET", _SERVER + "/firewallRules$", self._list_rules),
            ("GET", _SERVER + "/firewallRules/(?P<rule>[^/]+)$", self._get_rule),
            ("PUT", _SERVER + "/firewallRules/(?P<rule>[^/]+)$", self._put_rule),
            ("GET", _SERVER + "/administrators$", self._list_administrators),
            ("GET", _SERVER + "/configurations$", self._list_configurations),
            ("GET", _SERVER + "/configurations/(?P<cfg>[^/]+)$", self._get_configuration),
            ("PATCH", _SERVER + "/configurations/(?P<cfg>[^/]+)$", self._patch_configuration),
            ("POST", _SUB + rf"/providers/{PROVIDER}/locations/(?P<loc>[^/]+)"
             r"/checkNameAvailability$", self._check_name),
            ("POST", _SUB + rf"/providers/{PROVIDER}/checkNameAvailability$",
             self._check_name),
            ("GET", _SUB + rf"/providers/{PROVIDER}/locations/(?P<loc>[^/]+)"
             r"/azureAsyncOperation/(?P<op>[^/]+)$", self._get_operation),
            ("GET", _SUB + rf"/providers/{PROVIDER}/locations/(?P<loc>[^/]+)"
             r"/operationResults/(?P<op>[^/]+)$", self._get_operation_result),
        ]  # fmt: skip

    # Building the world

    def add_server(
        self, subscription: str, resource_group: str, name: str, **fields: Any
    ) -> FlexServer:
        with self.lock:
            self.add_subscription(subscription)
            self.subscriptions[subscription].add(resource_group.lower())
            now = datetime.now(UTC)
            fields.setdefault("earliest_restore", (now - timedelta(days=7)).replace(microsecond=0))
            server = FlexServer(subscription, resource_group, name, **fields)
            if not server.backups and server.earliest_restore:
                # One automatic full backup a day, as the service takes them.
                for days in range(6, -1, -1):
                    done = (now - timedelta(days=days, hours=1)).replace(microsecond=123456)
                    if done >= server.earliest_restore:
                        ticks = int(done.timestamp() * 10_000_000)
                        server.backups.append((f"backup_{ticks}", "Full", "Automatic", done))
            self.servers[(subscription, resource_group.lower(), name)] = server
            return server

    def server(self, subscription: str, resource_group: str, name: str) -> FlexServer | None:
        with self.lock:
            return self.servers.get((subscription, resource_group.lower(), name))

    def restore_puts(self) -> list:
        return self.requests_to("PUT", r"/flexibleServers/[^/]+$")

    def _resources(self) -> dict[tuple[str, str, str], FlexServer]:
        return self.servers

    # Handlers

    def _put_server(self, sub: str, rg: str, name: str, body: Any):
        properties = (body or {}).get("properties", {})
        mode = properties.get("createMode")
        if mode not in {"PointInTimeRestore", "GeoRestore"}:
            return 400, arm_error("NotSupported", "FlexibleArm only creates by restore."), {}
        if rg.lower() not in self.subscriptions[sub]:
            return self._no_group(rg)
        if name in self.taken_names or any(n == name for (_, _, n) in self.servers):
            return (
                409,
                arm_error(
                    "ServerNameAlreadyExists",
                    f"Specified server name '{name}' is already used. Please use a different name.",
                ),
                {},
            )
        match = re.match(_SERVER + "$", properties.get("sourceServerResourceId") or "", re.I)
        source = self.servers.get(
            (match["sub"], match["rg"].lower(), match["name"]) if match else ("", "", "")
        )
        if source is None:
            return 404, arm_error("ResourceNotFound", "The source server was not found."), {}
        point = datetime.fromisoformat(properties["pointInTimeUTC"].replace("Z", "+00:00"))
        if source.earliest_restore is None or point < source.earliest_restore:
            return (
                500,
                arm_error(
                    "InternalServerError",
                    "An unexpected error occured while processing the request. "
                    f"Tracking ID: '{uuid.uuid4()}'",
                ),
                {},
            )
        if mode == "GeoRestore" and not source.geo_redundant:
            return (
                400,
                arm_error(
                    "GeoBackupsNotAvailable",
                    f"Unable to geo-restore server {source.name} as its geo-backups aren't "
                    "available yet.",
                ),
                {},
            )
        server = FlexServer(
            sub, rg, name, location=body["location"], version=source.version,
            state="Provisioning", earliest_restore=None, cluster_size=source.cluster_size,
            sku=source.sku, storage_gb=source.storage_gb,
        )  # fmt: skip
        self.servers[(sub, rg.lower(), name)] = server
        error = self.restore_error.get(name)

        def succeed() -> None:
            server.state = "Ready"

        def fail() -> None:
            self.servers.pop((sub, rg.lower(), name), None)

        headers = self._operation(sub, server.location, self.in_progress, error, succeed, fail)
        return 202, None, headers

    def _delete_server(self, sub: str, rg: str, name: str, body: Any):
        """ServersDelete.json: 202 with both headers and no body; 204 when there is no
        such server. The server reads ``Dropping`` until the operation ends."""
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            if server[0] == 404 and server[1]["error"]["code"] == "ResourceNotFound":
                return 204, None, {}
            return server
        server.state = "Dropping"

        def gone() -> None:
            self.servers.pop((sub, rg.lower(), name), None)

        return (
            202,
            None,
            self._operation(sub, server.location, self.delete_in_progress, on_success=gone),
        )

    def _list_backups(self, sub: str, rg: str, name: str, body: Any):
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        value = [
            {
                "properties": {
                    "backupType": kind,
                    "source": source,
                    "completedTime": iso_offset(done),
                },
                "id": f"{server.id}/backups/{backup}",
                "name": backup,
                "type": f"{TYPE}/backups",
            }
            for backup, kind, source, done in server.backups
        ]
        return 200, {"value": value}, {}

    def _rule_json(self, server: FlexServer, rule: str) -> dict:
        start, end = server.firewall_rules[rule]
        return {
            "id": f"{server.id}/firewallRules/{rule}",
            "name": rule,
            "type": f"{TYPE}/firewallRules",
            "properties": {"startIpAddress": start, "endIpAddress": end},
        }

    def _list_rules(self, sub: str, rg: str, name: str, body: Any):
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        rules = [self._rule_json(server, rule) for rule in sorted(server.firewall_rules)]
        return 200, {"value": rules, "nextLink": None}, {}

    def _get_rule(self, sub: str, rg: str, name: str, rule: str, body: Any):
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        if rule not in server.firewall_rules:
            return 404, arm_error("ResourceNotFound", f"Firewall rule '{rule}' was not found."), {}
        return 200, self._rule_json(server, rule), {}

    def _put_rule(self, sub: str, rg: str, name: str, rule: str, body: Any):
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        start, end = body["properties"]["startIpAddress"], body["properties"]["endIpAddress"]

        def apply() -> None:
            server.firewall_rules[rule] = (start, end)

        return 202, None, self._operation(sub, server.location, 0, on_success=apply)

    def _configuration_json(self, server: FlexServer, cfg: str) -> dict:
        setting = SETTINGS[cfg]
        value = server.parameters.get(cfg, setting.default)
        return {
            "properties": {
                "value": value,
                "description": setting.description,
                "defaultValue": setting.default,
                "dataType": setting.data_type,
                "allowedValues": "",
                "source": "system-default" if value == setting.default else "user-override",
                "isDynamicConfig": setting.dynamic,
                "isReadOnly": setting.read_only,
                "isConfigPendingRestart": False,
            },
            "id": f"{server.id}/configurations/{cfg}",
            "name": cfg,
            "type": f"{TYPE}/configurations",
        }

    def _list_configurations(self, sub: str, rg: str, name: str, body: Any):
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        value = [self._configuration_json(server, cfg) for cfg in SETTINGS]
        return 200, {"value": value, "nextLink": None}, {}

    def _get_configuration(self, sub: str, rg: str, name: str, cfg: str, body: Any):
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        if cfg not in SETTINGS:
            return 404, arm_error("ResourceNotFound", f"Configuration '{cfg}' was not found."), {}
        return 200, self._configuration_json(server, cfg), {}

    def _patch_configuration(self, sub: str, rg: str, name: str, cfg: str, body: Any):
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        if cfg not in SETTINGS:
            return 404, arm_error("ResourceNotFound", f"Configuration '{cfg}' was not found."), {}
        value = body["properties"]["value"]

        def apply() -> None:
            server.parameters[cfg] = value

        return 202, None, self._operation(sub, server.location, 0, on_success=apply)

    def _list_administrators(self, sub: str, rg: str, name: str, body: Any):
        """AdministratorsListByServer.json: no ``name`` in the items, the id ends in the
        object id."""
        server = self._found(sub, rg, name)
        if isinstance(server, tuple):
            return server
        value = [
            {
                "properties": {
                    "principalType": kind,
                    "principalName": principal,
                    "objectId": object_id,
                    "tenantId": "tttttttt-tttt-tttt-tttt-tttttttttttt",
                },
                "id": f"{server.id}/administrators/{object_id}",
                "type": f"{TYPE}/administrators",
            }
            for kind, principal, object_id in server.administrators
        ]
        return 200, {"value": value}, {}

    def _check_name(self, sub: str, body: Any, loc: str = ""):
        name = body["name"]
        assert body["type"] == TYPE, body
        taken = name in self.taken_names or any(n == name for (_, _, n) in self.servers)
        answer: dict[str, Any] = {
            "nameAvailable": not taken,
            "message": f"Specified server name '{name}' is already used." if taken else "",
            "name": name,
            "type": TYPE,
        }
        if taken:
            answer["reason"] = "AlreadyExists"
        return 200, answer, {}
