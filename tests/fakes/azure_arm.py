"""A fake Azure Resource Manager for offline tests of the Azure backend.

``FakeArm`` is an azure-core ``HttpTransport``: hand it to ``AzureBackend(transport=...)``
and the real SDK (serialisation, retries, bearer auth, long-running-operation polling)
runs unchanged against an in-memory model of subscriptions, clusters
(``Microsoft.DBforPostgreSQL/serverGroupsv2``), servers, firewall rules,
configurations and roles. It records every request, can be told to answer a
request with an error (``script``), and never waits (``sleep`` only records).

``FakeCredential`` stands in for ``DefaultAzureCredential``.

It is thread-safe so that a live server (browser tests) can share one instance.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.core.pipeline.transport import HttpTransport, RequestsTransportResponse
from azure.core.rest._requests_basic import RestRequestsTransportResponse

ARM = "https://management.azure.com"
API_VERSION = "2022-11-08"
PROVIDER = "Microsoft.DBforPostgreSQL"
TYPE = f"{PROVIDER}/serverGroupsv2"
DOMAIN = "postgres.cosmos.azure.com"
# Two subscription ids for tests and demos.
SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000b"

# A small catalogue of server parameters: name -> (default, requires restart, data type).
DEFAULT_PARAMETERS: dict[str, tuple[str, bool, str]] = {
    "max_connections": ("300", True, "Integer"),
    "work_mem": ("4096", False, "Integer"),
    "log_min_duration_statement": ("-1", False, "Integer"),
    "citus.max_adaptive_executor_pool_size": ("16", False, "Integer"),
    "shared_buffers": ("131072", True, "Integer"),
}


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def arm_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@dataclass
class Recorded:
    method: str
    url: str
    path: str
    params: dict[str, str]
    json: Any
    authorized: bool  # whether a bearer token was sent (the token itself is not kept)


@dataclass
class Scripted:
    method: str
    pattern: re.Pattern
    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None
    times: int = 1


@dataclass
class RestorePlan:
    in_progress: int = 2  # polls answered InProgress before the outcome
    error: tuple[str, str] | None = None  # (code, message) to fail with
    keep_failed_cluster: bool = True  # Azure leaves a Failed resource behind


@dataclass
class Operation:
    subscription: str
    location: str
    remaining: int
    error: tuple[str, str] | None
    on_success: Any  # callable run once when the operation succeeds
    on_failure: Any
    status: str = "InProgress"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Cluster:
    subscription: str
    resource_group: str
    name: str
    location: str
    node_count: int = 2
    postgresql_version: str = "15"
    citus_version: str = "12.1"
    state: str = "Ready"
    provisioning_state: str = "Succeeded"
    earliest_restore: datetime | None = None
    source_resource_id: str | None = None
    source_location: str | None = None
    point_in_time: datetime | None = None
    administrator_login: str = "citus"
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    dns_suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    firewall_rules: dict[str, tuple[str, str]] = field(default_factory=dict)
    # name -> {"coordinator": value, "worker": value}; absent means the default.
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{TYPE}/{self.name}"
        )

    def server_names(self) -> list[tuple[str, str, str]]:
        """(server name, role, FQDN) for the coordinator and each worker."""
        servers = [(f"{self.name}-c", "Coordinator", f"c-{self.name}.{self.dns_suffix}.{DOMAIN}")]
        for index in range(self.node_count):
            servers.append(
                (
                    f"{self.name}-w{index}",
                    "Worker",
                    f"w{index}-{self.name}.{self.dns_suffix}.{DOMAIN}",
                )
            )
        return servers

    def parameter(self, name: str, role: str) -> str:
        return self.parameters.get(name, {}).get(role, DEFAULT_PARAMETERS[name][0])

    def to_json(self) -> dict:
        properties = {
            "administratorLogin": self.administrator_login,
            "provisioningState": self.provisioning_state,
            "state": self.state,
            "postgresqlVersion": self.postgresql_version,
            "citusVersion": self.citus_version,
            "enableShardsOnCoordinator": self.node_count == 0,
            "enableHa": False,
            "coordinatorServerEdition": "GeneralPurpose",
            "coordinatorStorageQuotaInMb": 131072,
            "coordinatorVCores": 4,
            "coordinatorEnablePublicIpAccess": True,
            "nodeServerEdition": "MemoryOptimized",
            "nodeCount": self.node_count,
            "nodeStorageQuotaInMb": 524288,
            "nodeVCores": 4,
            "nodeEnablePublicIpAccess": False,
            "serverNames": [
                {"name": name, "fullyQualifiedDomainName": fqdn}
                for name, _, fqdn in self.server_names()
            ],
            "readReplicas": [],
            "earliestRestoreTime": iso(self.earliest_restore),
        }
        if self.source_resource_id:
            properties["sourceResourceId"] = self.source_resource_id
            properties["sourceLocation"] = self.source_location
            properties["pointInTimeUTC"] = iso(self.point_in_time)
        return {
            "id": self.id,
            "name": self.name,
            "type": TYPE,
            "location": self.location,
            "tags": dict(self.tags),
            "systemData": {
                "createdBy": "dba@example.com",
                "createdByType": "User",
                "createdAt": iso(self.created_at),
            },
            "properties": properties,
        }


class FakeCredential:
    """An azure-core token credential that hands out a fixed fake token.

    ``fail`` makes it raise ``ClientAuthenticationError`` the way
    ``DefaultAzureCredential`` does when nothing is configured.
    """

    TOKEN = "fake-arm-token-never-shown"

    def __init__(self, *, fail: str = ""):
        self.fail = fail
        self.calls = 0

    def _check(self, scopes: tuple[str, ...]) -> None:
        self.calls += 1
        if self.fail:
            raise ClientAuthenticationError(message=self.fail)
        assert scopes == ("https://management.azure.com/.default",), scopes

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self._check(scopes)
        return AccessToken(self.TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self._check(scopes)
        return AccessTokenInfo(self.TOKEN, int(time.time()) + 3600)


_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_CLUSTER = _RG + rf"/providers/{PROVIDER}/serverGroupsv2/(?P<name>[^/]+)"


class FakeArm(HttpTransport):
    """An in-memory ARM answering the SDK's requests; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.subscriptions: dict[str, set[str]] = {}  # subscription -> resource groups
        self.forbidden: set[str] = set()
        self.clusters: dict[tuple[str, str, str], Cluster] = {}
        self.operations: dict[str, Operation] = {}
        self.restore_plans: dict[str, RestorePlan] = {}
        self.default_plan = RestorePlan()
        self.taken_names: set[str] = set()  # names used elsewhere in Azure
        self.requests: list[Recorded] = []
        self.sleeps: list[float] = []
        self.scripts: list[Scripted] = []
        self.principal = "11111111-2222-3333-4444-555555555555"
        self._routes = [
            ("GET", _SUB + rf"/providers/{PROVIDER}/serverGroupsv2$", self._list_subscription),
            ("GET", _RG + rf"/providers/{PROVIDER}/serverGroupsv2$", self._list_resource_group),
            ("GET", _CLUSTER + "$", self._get_cluster),
            ("PUT", _CLUSTER + "$", self._put_cluster),
            ("DELETE", _CLUSTER + "$", self._delete_cluster),
            ("GET", _CLUSTER + "/servers$", self._list_servers),
            ("GET", _CLUSTER + "/firewallRules$", self._list_rules),
            ("GET", _CLUSTER + "/firewallRules/(?P<rule>[^/]+)$", self._get_rule),
            ("PUT", _CLUSTER + "/firewallRules/(?P<rule>[^/]+)$", self._put_rule),
            ("GET", _CLUSTER + "/configurations$", self._list_configurations),
            ("GET", _CLUSTER + "/(?P<kind>coordinator|node)Configurations/(?P<cfg>[^/]+)$",
             self._get_role_configuration),
            ("PUT", _CLUSTER + "/(?P<kind>coordinator|node)Configurations/(?P<cfg>[^/]+)$",
             self._put_role_configuration),
            ("GET", _CLUSTER + "/roles$", self._list_roles),
            ("POST", _SUB + rf"/providers/{PROVIDER}/checkNameAvailability$", self._check_name),
            ("GET", _SUB + rf"/providers/{PROVIDER}/locations/(?P<loc>[^/]+)"
             r"/azureAsyncOperation/(?P<op>[^/]+)$", self._get_operation),
            ("GET", _SUB + rf"/providers/{PROVIDER}/locations/(?P<loc>[^/]+)"
             r"/operationResults/(?P<op>[^/]+)$", self._get_operation_result),
        ]  # fmt: skip

    # Building the world

    def add_subscription(self, subscription: str) -> str:
        with self.lock:
            self.subscriptions.setdefault(subscription, set())
        return subscription

    def add_cluster(
        self, subscription: str, resource_group: str, name: str, **fields: Any
    ) -> Cluster:
        with self.lock:
            self.add_subscription(subscription)
            self.subscriptions[subscription].add(resource_group.lower())
            fields.setdefault("location", "westeurope")
            fields.setdefault("earliest_restore", datetime.now(UTC) - timedelta(days=7))
            cluster = Cluster(subscription, resource_group, name, **fields)
            self.clusters[(subscription, resource_group.lower(), name)] = cluster
            return cluster

    def cluster(self, subscription: str, resource_group: str, name: str) -> Cluster | None:
        with self.lock:
            return self.clusters.get((subscription, resource_group.lower(), name))

    def plan_restore(self, name: str, **plan: Any) -> None:
        """How the restore into ``name`` will go (see ``RestorePlan``)."""
        with self.lock:
            self.restore_plans[name] = RestorePlan(**plan)

    def script(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int = 0,
        body: Any = None,
        headers: dict[str, str] | None = None,
        error: Exception | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with this, before the model does.

        ``path_pattern`` is a regular expression searched in the URL path.
        """
        with self.lock:
            self.scripts.append(
                Scripted(
                    method, re.compile(path_pattern), status, body, headers or {}, error, times
                )
            )

    def requests_to(self, method: str, path_pattern: str) -> list[Recorded]:
        with self.lock:
            return [
                r for r in self.requests if r.method == method and re.search(path_pattern, r.path)
            ]

    # HttpTransport

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeArm:
        return self

    def __exit__(self, *args: Any) -> None:
        pass

    def sleep(self, duration: float) -> None:
        with self.lock:
            self.sleeps.append(duration)

    def send(self, request: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url)
        if parts.scheme != "https" or parts.netloc != "management.azure.com":
            raise ServiceRequestError(f"FakeArm only answers {ARM}, not {request.url}")
        raw = getattr(request, "content", None) if hasattr(request, "content") else request.body
        if isinstance(raw, (bytes, bytearray)):
            raw = raw.decode()
        body = json.loads(raw) if raw else None
        params = {key: values[0] for key, values in parse_qs(parts.query).items()}
        authorized = request.headers.get("Authorization", "").startswith("Bearer ")
        with self.lock:
            self.requests.append(
                Recorded(request.method, request.url, parts.path, params, body, authorized)
            )
            status, answer, headers = self._answer(request.method, parts.path, params, body)
        return self._response(request, status, answer, headers)

    def _response(self, request: Any, status: int, body: Any, headers: dict[str, str]) -> Any:
        response = requests.Response()
        response.status_code = status
        response.reason = requests.status_codes._codes.get(status, ("",))[0].upper()
        response.url = request.url
        content = b"" if body is None else json.dumps(body).encode()
        response.raw = io.BytesIO(content)
        response.headers.update(headers)
        if content:
            response.headers["Content-Type"] = "application/json; charset=utf-8"
        response.headers["x-ms-request-id"] = str(uuid.uuid4())
        if hasattr(request, "content"):  # an azure.core.rest request wants a rest response
            answer = RestRequestsTransportResponse(request=request, internal_response=response)
            answer.read()
            return answer
        return RequestsTransportResponse(request, response)

    def _answer(
        self, method: str, path: str, params: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        for scripted in self.scripts:
            if scripted.times and scripted.method == method and scripted.pattern.search(path):
                scripted.times -= 1
                if scripted.error is not None:
                    raise scripted.error
                return scripted.status, scripted.body, dict(scripted.headers)
        if params.get("api-version") != API_VERSION:
            return 400, arm_error("InvalidApiVersion", f"api-version {params!r}"), {}
        for route_method, pattern, handler in self._routes:
            match = re.match(pattern, path, re.IGNORECASE)
            if route_method == method and match:
                groups = match.groupdict()
                problem = self._subscription_problem(groups["sub"], path)
                if problem:
                    return problem
                return handler(body=body, **groups)
        return 404, arm_error("NoRouteFound", f"FakeArm has no route for {method} {path}"), {}

    def _subscription_problem(self, sub: str, path: str) -> tuple[int, Any, dict] | None:
        if sub not in self.subscriptions:
            return (
                404,
                arm_error("SubscriptionNotFound", f"The subscription '{sub}' could not be found."),
                {},
            )
        if sub in self.forbidden:
            return (
                403,
                arm_error(
                    "AuthorizationFailed",
                    f"The client '{self.principal}' with object id '{self.principal}' does not "
                    f"have authorization to perform action '{TYPE}/read' over scope '{path}'"
                    " or the scope is invalid. If access was recently granted, please refresh your "
                    "credentials.",
                ),
                {},
            )
        return None

    # Handlers: each returns (status, JSON body, headers)

    def _found(self, sub: str, rg: str, name: str) -> Cluster | tuple[int, Any, dict]:
        if rg.lower() not in self.subscriptions[sub]:
            return (
                404,
                arm_error("ResourceGroupNotFound", f"Resource group '{rg}' could not be found."),
                {},
            )
        cluster = self.clusters.get((sub, rg.lower(), name))
        if cluster is None:
            return (
                404,
                arm_error(
                    "ResourceNotFound",
                    f"The Resource '{TYPE}/{name}' under resource group '{rg}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                ),
                {},
            )
        return cluster

    def _list_subscription(self, sub: str, body: Any) -> tuple[int, Any, dict]:
        found = [c.to_json() for (s, _, _), c in sorted(self.clusters.items()) if s == sub]
        return 200, {"value": found}, {}

    def _list_resource_group(self, sub: str, rg: str, body: Any) -> tuple[int, Any, dict]:
        if rg.lower() not in self.subscriptions[sub]:
            return (
                404,
                arm_error("ResourceGroupNotFound", f"Resource group '{rg}' could not be found."),
                {},
            )
        found = [
            c.to_json()
            for (s, g, _), c in sorted(self.clusters.items())
            if s == sub and g == rg.lower()
        ]
        return 200, {"value": found}, {}

    def _get_cluster(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        return 200, cluster.to_json(), {}

    def _operation(
        self, sub: str, location: str, remaining: int, error=None, on_success=None, on_failure=None
    ) -> dict[str, str]:
        op_id = str(uuid.uuid4())
        self.operations[op_id] = Operation(
            sub,
            location,
            remaining,
            error,
            on_success or (lambda: None),
            on_failure or (lambda: None),
        )
        url = (
            f"{ARM}/subscriptions/{sub}/providers/{PROVIDER}/locations/{location}"
            f"/azureAsyncOperation/{op_id}?api-version={API_VERSION}"
        )
        return {
            "Azure-AsyncOperation": url,
            "Location": url.replace("azureAsyncOperation", "operationResults"),
        }

    def _put_cluster(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        properties = (body or {}).get("properties", {})
        source_id = properties.get("sourceResourceId")
        if not source_id:
            return 400, arm_error("NotSupported", "FakeArm only creates clusters by restore."), {}
        if rg.lower() not in self.subscriptions[sub]:
            return (
                404,
                arm_error("ResourceGroupNotFound", f"Resource group '{rg}' could not be found."),
                {},
            )
        if (sub, rg.lower(), name) in self.clusters or name in self.taken_names:
            return (
                409,
                arm_error(
                    "ServerGroupNameAlreadyExists", f"Server group name '{name}' already exists."
                ),
                {},
            )
        match = re.match(_CLUSTER + "$", source_id, re.IGNORECASE)
        source = self.clusters.get(
            (match["sub"], match["rg"].lower(), match["name"]) if match else ("", "", "")
        )
        if source is None:
            return 404, arm_error("SourceServerGroupNotFound", f"'{source_id}' was not found."), {}
        point = datetime.fromisoformat(properties["pointInTimeUTC"])
        if source.earliest_restore is None or not (
            source.earliest_restore <= point <= datetime.now(UTC)
        ):
            return (
                400,
                arm_error(
                    "InvalidPointInTime", f"The restore point {iso(point)} is outside the window."
                ),
                {},
            )
        cluster = Cluster(
            sub, rg, name, location=body["location"], node_count=source.node_count,
            postgresql_version=source.postgresql_version, citus_version=source.citus_version,
            state="Provisioning", provisioning_state="InProgress", earliest_restore=None,
            source_resource_id=source.id, source_location=properties.get("sourceLocation"),
            point_in_time=point, tags=dict(body.get("tags") or {}),
        )  # fmt: skip
        self.clusters[(sub, rg.lower(), name)] = cluster
        plan = self.restore_plans.get(name, self.default_plan)

        def succeed() -> None:
            cluster.state, cluster.provisioning_state = "Ready", "Succeeded"
            cluster.earliest_restore = datetime.now(UTC)

        def fail() -> None:
            if plan.keep_failed_cluster:
                cluster.state, cluster.provisioning_state = "Failed", "Failed"
            else:
                self.clusters.pop((sub, rg.lower(), name), None)

        headers = self._operation(
            sub, cluster.location, plan.in_progress, plan.error, succeed, fail
        )
        return 201, cluster.to_json(), headers

    def _delete_cluster(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        cluster.provisioning_state = "Deleting"

        def gone() -> None:
            self.clusters.pop((sub, rg.lower(), name), None)

        return 202, None, self._operation(sub, cluster.location, 0, on_success=gone)

    def _get_operation(self, sub: str, loc: str, op: str, body: Any) -> tuple[int, Any, dict]:
        operation = self.operations.get(op)
        if operation is None:
            return 404, arm_error("OperationNotFound", f"Operation '{op}' was not found."), {}
        if operation.status == "InProgress":
            if operation.remaining > 0:
                operation.remaining -= 1
            elif operation.error:
                operation.status = "Failed"
                operation.on_failure()
            else:
                operation.status = "Succeeded"
                operation.on_success()
        answer = {"name": op, "status": operation.status, "startTime": iso(operation.started)}
        if operation.status == "Failed":
            code, message = operation.error
            answer["error"] = {"code": code, "message": message}
        return 200, answer, {}

    def _get_operation_result(self, sub: str, loc: str, op: str, body: Any):
        operation = self.operations.get(op)
        if operation is None:
            return 404, arm_error("OperationNotFound", f"Operation '{op}' was not found."), {}
        if operation.status == "InProgress":
            return 202, None, {}
        return 204, None, {}

    def _servers_json(self, cluster: Cluster) -> list[dict]:
        return [
            {
                "id": f"{cluster.id}/servers/{name}",
                "name": name,
                "type": f"{TYPE}/servers",
                "properties": {
                    "serverEdition": "GeneralPurpose",
                    "storageQuotaInMb": 131072,
                    "vCores": 4,
                    "enableHa": False,
                    "enablePublicIpAccess": role == "Coordinator",
                    "isReadOnly": False,
                    "administratorLogin": cluster.administrator_login,
                    "fullyQualifiedDomainName": fqdn,
                    "role": role,
                    "state": cluster.state,
                    "haState": "",
                    "availabilityZone": "1",
                    "postgresqlVersion": cluster.postgresql_version,
                    "citusVersion": cluster.citus_version,
                },
            }
            for name, role, fqdn in cluster.server_names()
        ]

    def _list_servers(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        return 200, {"value": self._servers_json(cluster)}, {}

    def _rule_json(self, cluster: Cluster, rule: str) -> dict:
        start, end = cluster.firewall_rules[rule]
        return {
            "id": f"{cluster.id}/firewallRules/{rule}",
            "name": rule,
            "type": f"{TYPE}/firewallRules",
            "properties": {
                "startIpAddress": start,
                "endIpAddress": end,
                "provisioningState": "Succeeded",
            },
        }

    def _list_rules(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        return (
            200,
            {"value": [self._rule_json(cluster, r) for r in sorted(cluster.firewall_rules)]},
            {},
        )

    def _get_rule(self, sub: str, rg: str, name: str, rule: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        if rule not in cluster.firewall_rules:
            return 404, arm_error("ResourceNotFound", f"Firewall rule '{rule}' was not found."), {}
        return 200, self._rule_json(cluster, rule), {}

    def _put_rule(self, sub: str, rg: str, name: str, rule: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        properties = body["properties"]

        def apply() -> None:
            cluster.firewall_rules[rule] = (
                properties["startIpAddress"],
                properties["endIpAddress"],
            )

        headers = self._operation(sub, cluster.location, 0, on_success=apply)
        answer = {"name": rule, "properties": {**properties, "provisioningState": "InProgress"}}
        return 201, answer, headers

    def _list_configurations(self, sub: str, rg: str, name: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        value = []
        for cfg, (default, restart, data_type) in DEFAULT_PARAMETERS.items():
            value.append({
                "id": f"{cluster.id}/configurations/{cfg}",
                "name": cfg,
                "type": f"{TYPE}/configurations",
                "properties": {
                    "description": f"The {cfg} server parameter.",
                    "dataType": data_type,
                    "allowedValues": "-1-2147483647",
                    "requiresRestart": restart,
                    "serverRoleGroupConfigurations": [
                        {
                            "role": role,
                            "value": cluster.parameter(cfg, role.lower()),
                            "defaultValue": default,
                            "source": "user-override"
                            if cluster.parameter(cfg, role.lower()) != default
                            else "system-default",
                        }
                        for role in ("Coordinator", "Worker")
                    ],
                    "provisioningState": "Succeeded",
                },
            })  # fmt: skip
        return 200, {"value": value}, {}

    def _role_configuration_json(self, cluster: Cluster, kind: str, cfg: str) -> dict:
        default, restart, data_type = DEFAULT_PARAMETERS[cfg]
        role = "coordinator" if kind == "coordinator" else "worker"
        value = cluster.parameter(cfg, role)
        return {
            "id": f"{cluster.id}/{kind}Configurations/{cfg}",
            "name": cfg,
            "type": f"{TYPE}/{kind}Configurations",
            "properties": {
                "value": value,
                "source": "user-override" if value != default else "system-default",
                "defaultValue": default,
                "dataType": data_type,
                "requiresRestart": restart,
                "provisioningState": "Succeeded",
            },
        }

    def _get_role_configuration(self, sub: str, rg: str, name: str, kind: str, cfg: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        if cfg not in DEFAULT_PARAMETERS:
            return 404, arm_error("ResourceNotFound", f"Configuration '{cfg}' was not found."), {}
        return 200, self._role_configuration_json(cluster, kind, cfg), {}

    def _put_role_configuration(self, sub: str, rg: str, name: str, kind: str, cfg: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        if cfg not in DEFAULT_PARAMETERS:
            return 404, arm_error("ResourceNotFound", f"Configuration '{cfg}' was not found."), {}
        role = "coordinator" if kind == "coordinator" else "worker"

        def apply() -> None:
            cluster.parameters.setdefault(cfg, {})[role] = body["properties"]["value"]

        headers = self._operation(sub, cluster.location, 0, on_success=apply)
        return 201, self._role_configuration_json(cluster, kind, cfg), headers

    def _list_roles(self, sub: str, rg: str, name: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        value = [
            {
                "id": f"{cluster.id}/roles/{role}",
                "name": role,
                "type": f"{TYPE}/roles",
                "properties": {"provisioningState": "Succeeded"},
            }
            for role in cluster.roles
        ]
        return 200, {"value": value}, {}

    def _check_name(self, sub: str, body: Any) -> tuple[int, Any, dict]:
        name = body["name"]
        assert body["type"] == TYPE, body
        taken = name in self.taken_names or any(n == name for (_, _, n) in self.clusters)
        answer = {"name": name, "type": TYPE, "nameAvailable": not taken}
        if taken:
            answer["message"] = f"Server group name '{name}' already exists."
        return 200, answer, {}
