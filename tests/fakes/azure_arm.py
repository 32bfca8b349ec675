"""A fake Azure Resource Manager for Cosmos DB for PostgreSQL, answering as Azure documents.

``FakeArm`` is an azure-core ``HttpTransport``: hand it to ``AzureBackend(transport=...)``
and the real SDK (serialisation, retries, bearer auth, paging, long-running-operation
polling) runs unchanged against an in-memory model of subscriptions, clusters
(``Microsoft.DBforPostgreSQL/serverGroupsv2``, API 2022-11-08), servers, firewall rules,
configurations and roles. It records every request, can be told to answer a request
otherwise (``script``), and never waits (``sleep`` only records).

Where each answer comes from. The published examples live beside the API's swagger in
``Azure/azure-rest-api-specs``, ``specification/postgresqlhsc/resource-manager/
Microsoft.DBforPostgreSQL/stable/2022-11-08/examples/``; the swagger is
``postgresqlhsc.json`` in the folder above. The recorded exchange is a public API-test
report of a real point-in-time restore (a PUT and the GET twelve minutes later, API
2022-11-08, March 2023).

- Cluster bodies (list, GET): ``ClusterGet.json``, ``ClusterList.json``,
  ``ClusterListByResourceGroup.json``: ``sourceResourceId`` and ``sourceLocation`` null on
  a cluster that is no restore, ``earliestRestoreTime`` set, ``maintenanceWindow``,
  ``serverNames``. Lists carry ``nextLink`` (null on the last page, as in the examples);
  the swagger marks both lists ``x-ms-pageable`` with ``nextLink``, so ``page_size`` splits
  them into pages linked by a ``$skipToken`` URL.
- Host names: ``c.<cluster>.postgres.database.azure.com`` and ``w<n>.<cluster>...``, as in
  the recorded exchange (``ClusterCreatePITR.json`` has the same shape on a test domain;
  the list examples' ``<cluster>-c.postgres...`` is not what the real service sent).
- The restore PUT: ``ClusterCreatePITR.json`` and the recorded exchange: 201 with
  ``Azure-AsyncOperation`` and ``Location`` headers, ``provisioningState`` and ``state``
  "Provisioning", ``earliestRestoreTime`` null. The body never carries ``pointInTimeUTC``.
  ``lineage`` picks which of the two documented bodies a restored cluster has from then
  on: "recorded" (the default, what real Azure sent: ``sourceResourceId`` null, no
  ``sourceLocation``, in the 201 and in every GET after) or "example"
  (``ClusterCreatePITR.json``: ``sourceResourceId`` and ``sourceLocation`` set).
  ``earliestRestoreTime`` stays null after the restore (the recorded GET twelve minutes
  later still has null) until a test calls ``report_earliest_restore``.
- Delete: ``ClusterDelete.json``: 202 with both headers; 204 when there is nothing to
  delete. The cluster reads ``Deleting`` until its operation ends (``delete_in_progress``
  polls answered InProgress first), then is gone; the SDK's ``begin_delete`` polls the
  ``Azure-AsyncOperation`` and, as its swagger says (``final-state-via: location``),
  reads the ``Location`` last (204).
- Servers: ``ServerListByCluster.json`` (no ``nextLink``: the swagger says not pageable).
- Name check: ``CheckNameAvailability.json``: ``nameAvailable`` is the string "True" and
  ``message`` is "". A taken name answers "False" with a message (no example shows one).
- Configurations: the list follows ``ConfigurationListByCluster.json`` (type
  ``.../serverGroupsv2/configurations``, per-role values and defaults, no
  ``requiresRestart``; the parameters and their per-role defaults are the example's, with
  ``client_encoding``'s allowed values shortened, plus ``max_connections`` and
  ``shared_buffers`` with made-up defaults). An update of the coordinator follows
  ``ConfigurationUpdateCoordinator.json`` (201), of the workers
  ``ConfigurationUpdateNode.json`` (202, although the swagger lists only 200 and 201);
  both answer only ``value``, typed ``.../configurations/coordinator`` or ``/node``, with
  both headers. ``update_status`` makes either answer 200, 201 or 202 instead. The GETs
  follow ``ConfigurationGetCoordinator.json`` and ``ConfigurationGetNode.json``.
  ``reported_restart`` adds the swagger's documented ``requiresRestart`` to a list item,
  which the example never sends.
- Firewall rules: ``FirewallRuleCreate.json`` (201, both headers, no provisioning state
  in the body), ``FirewallRuleGet.json`` and ``FirewallRuleListByCluster.json``.
- Roles: ``RoleListByCluster.json``.
- Not documented by the provider's examples, so written after ARM's common conventions:
  the async-operation resource (``status`` InProgress, Succeeded or Failed with
  ``error``), the ``operationResults`` answers (202 while running, 204 after), every
  error body (``{"error": {"code", "message"}}``) and its code.

``FakeCredential`` stands in for ``DefaultAzureCredential``. The fake is thread-safe, so
a live server (browser tests) can share one instance.
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
DOMAIN = "postgres.database.azure.com"
# Two subscription ids for tests and demos.
SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000b"


@dataclass(frozen=True)
class Setting:
    """One server parameter as ConfigurationListByCluster.json lists it."""

    coordinator_default: str
    worker_default: str
    data_type: str
    allowed: str
    description: str


SETTINGS: dict[str, Setting] = {
    "array_nulls": Setting("on", "on", "Boolean", "on,off", "Enable input of NULL elements."),
    "backslash_quote": Setting(
        "safe_encoding", "safe_encoding", "Enumeration", "safe_encoding,on,off",
        "Sets whether \"\\'\" is allowed in string literals.",
    ),
    "work_mem": Setting(
        "158720", "115712", "Integer", "4096-2097151",
        "Sets the amount of memory to be used by internal sort operations and hash tables.",
    ),
    "client_encoding": Setting(
        "sql_ascii", "sql_ascii", "Enumeration", "UTF8,SQL_ASCII,LATIN1",
        "Sets the client's character set encoding.",
    ),
    "max_connections": Setting(
        "300", "300", "Integer", "25-5000", "Sets the maximum number of concurrent connections."
    ),
    "shared_buffers": Setting(
        "131072", "131072", "Integer", "16-1073741823",
        "Sets the number of shared memory buffers used by the server.",
    ),
}  # fmt: skip

# The systemData block every documented body carries.
SYSTEM_DATA = {
    "createdBy": "user1",
    "createdByType": "User",
    "createdAt": "2020-01-01T17:18:19.1234567Z",
    "lastModifiedBy": "user2",
    "lastModifiedByType": "User",
    "lastModifiedAt": "2020-01-02T17:18:19.1234567Z",
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
    status: int = 0  # what the fake answered


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
    """An async operation: what ``Azure-AsyncOperation`` points at."""

    remaining: int
    error: tuple[str, str] | None
    on_success: Any  # callable run once when the operation succeeds
    on_failure: Any
    status: str = "InProgress"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None


@dataclass
class Cluster:
    subscription: str
    resource_group: str
    name: str
    location: str
    node_count: int = 2
    postgresql_version: str = "15"
    citus_version: str = "11.1"
    state: str = "Ready"
    provisioning_state: str = "Succeeded"
    earliest_restore: datetime | None = None
    # What ARM reports as the cluster's source: None on every cluster real Azure restored.
    source_resource_id: str | None = None
    source_location: str | None = None
    # Restored by the fake as the real service restores: its body is the recorded one.
    recorded: bool = False
    administrator_login: str = "citus"
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
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

    @property
    def coordinator_host(self) -> str:
        return f"c.{self.name}.{DOMAIN}"

    def server_names(self) -> list[tuple[str, str, str]]:
        """(server name, role, FQDN) for the coordinator and each worker."""
        servers = [(f"{self.name}-c", "Coordinator", self.coordinator_host)]
        for index in range(self.node_count):
            servers.append((f"{self.name}-w{index}", "Worker", f"w{index}.{self.name}.{DOMAIN}"))
        return servers

    def parameter(self, name: str, role: str) -> str:
        setting = SETTINGS[name]
        default = setting.coordinator_default if role == "coordinator" else setting.worker_default
        return self.parameters.get(name, {}).get(role, default)

    def to_json(self) -> dict:
        """The body of ClusterGet.json, or of the recorded GET for a ``recorded`` restore
        (which has no ``sourceLocation`` and a null ``preferredPrimaryZone``)."""
        properties = {
            "provisioningState": self.provisioning_state,
            "state": self.state,
            "postgresqlVersion": self.postgresql_version,
            "citusVersion": self.citus_version,
            "maintenanceWindow": {
                "customWindow": "Disabled",
                "dayOfWeek": 0,
                "startHour": 0,
                "startMinute": 0,
            },
            "administratorLogin": self.administrator_login,
            "preferredPrimaryZone": "1",
            "enableHa": False,
            "enableShardsOnCoordinator": self.node_count == 0,
            "coordinatorServerEdition": "GeneralPurpose",
            "coordinatorStorageQuotaInMb": 524288,
            "coordinatorVCores": 4,
            "coordinatorEnablePublicIpAccess": True,
            "nodeServerEdition": "MemoryOptimized",
            "nodeCount": self.node_count,
            "nodeStorageQuotaInMb": 524288,
            "nodeVCores": 8,
            "nodeEnablePublicIpAccess": False,
            "serverNames": [
                {"name": name, "fullyQualifiedDomainName": fqdn}
                for name, _, fqdn in self.server_names()
            ],
            "sourceResourceId": self.source_resource_id,
            "sourceLocation": self.source_location,
            "readReplicas": [],
            "earliestRestoreTime": iso(self.earliest_restore),
            "privateEndpointConnections": [],
        }
        if self.recorded:
            del properties["sourceLocation"]
            properties["preferredPrimaryZone"] = None
        return {
            "id": self.id,
            "name": self.name,
            "type": TYPE,
            "tags": dict(self.tags),
            "location": self.location,
            "systemData": {**SYSTEM_DATA, "createdAt": iso(self.created_at)},
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
        assert scopes in (
            ("https://management.azure.com/.default",),
            # Microsoft Entra sign-in to Azure Database for PostgreSQL (restore drills).
            ("https://ossrdbms-aad.database.windows.net/.default",),
        ), scopes

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
    """An in-memory ARM answering the SDK's requests; see the module docstring.

    A fake of another resource type extends it with its own ``api_version``,
    ``resource_type``, ``_resources`` and routes, keeping the plumbing: request log,
    scripts, subscriptions, async operations, lists and lookups."""

    api_version = API_VERSION
    resource_type = TYPE
    # Handlers whose lists are pageable: they are given the request's $skipToken.
    paged = frozenset({"_list_subscription", "_list_resource_group", "_list_configurations"})

    def __init__(self, *, lineage: str = "recorded", page_size: int | None = None) -> None:
        assert lineage in {"recorded", "example"}, lineage
        self.lineage = lineage
        self.page_size = page_size  # None: every list in one page
        self.lock = threading.RLock()
        self.subscriptions: dict[str, set[str]] = {}  # subscription -> resource groups
        self.forbidden: set[str] = set()
        self.clusters: dict[tuple[str, str, str], Cluster] = {}
        self.operations: dict[str, Operation] = {}
        self.restore_plans: dict[str, RestorePlan] = {}
        self.default_plan = RestorePlan()
        self.taken_names: set[str] = set()  # names used elsewhere in Azure
        # configuration name -> (code, message): updates of it fail in their operation.
        self.refused_settings: dict[str, tuple[str, str]] = {}
        # How configuration updates answer: the examples' 201 and 202; the swagger's 200
        # (done at once, no operation) and 201 are the others a test may ask for.
        self.update_status = {"coordinator": 201, "node": 202}
        # Polls of a delete's operation answered InProgress before it succeeds.
        self.delete_in_progress = 0
        # configuration names whose list item carries the swagger's requiresRestart.
        self.reported_restart: dict[str, bool] = {}
        self.requests: list[Recorded] = []
        self.sleeps: list[float] = []
        self.scripts: list[Scripted] = []
        self.principal = "11111111-2222-3333-4444-555555555555"
        self._routes = [
            ("GET", _SUB + rf"/providers/{PROVIDER}/serverGroupsv2$", self._list_subscription),
            ("GET", _RG + rf"/providers/{PROVIDER}/serverGroupsv2$", self._list_resource_group),
            ("GET", _CLUSTER + "$", self._get_resource),
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

    def report_earliest_restore(self, cluster: Cluster, moment: datetime) -> None:
        """Azure's first backup of a restored cluster: from now on it has a restore point."""
        with self.lock:
            cluster.earliest_restore = moment

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
        recorded = Recorded(request.method, request.url, parts.path, params, body, authorized)
        with self.lock:
            self.requests.append(recorded)
            status, answer, headers = self._answer(request.method, parts.path, params, body)
            recorded.status = status
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
        if params.get("api-version") != self.api_version:
            return 400, arm_error("InvalidApiVersion", f"api-version {params!r}"), {}
        for route_method, pattern, handler in self._routes:
            match = re.match(pattern, path, re.IGNORECASE)
            if route_method == method and match:
                groups = match.groupdict()
                problem = self._subscription_problem(groups["sub"], path)
                if problem:
                    return problem
                if method == "GET" and handler.__name__ in self.paged:
                    groups["skip"] = int(params.get("$skipToken", "0") or 0)
                return handler(body=body, **groups)
        fake = type(self).__name__
        return 404, arm_error("NoRouteFound", f"{fake} has no route for {method} {path}"), {}

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
                    f"have authorization to perform action '{self.resource_type}/read' over scope "
                    f"'{path}'"
                    " or the scope is invalid. If access was recently granted, please refresh your "
                    "credentials.",
                ),
                {},
            )
        return None

    def _page(self, path: str, items: list[dict], skip: int) -> dict:
        """One page of a pageable list; ``nextLink`` null on the last, as in the examples."""
        if self.page_size is None:
            return {"value": items, "nextLink": None}
        end = skip + self.page_size
        more = end < len(items)
        link = f"{ARM}{path}?api-version={self.api_version}&$skipToken={end}" if more else None
        return {"value": items[skip:end], "nextLink": link}

    # Handlers: each returns (status, JSON body, headers)

    def _resources(self) -> dict[tuple[str, str, str], Any]:
        """(subscription, lowercase resource group, name) -> resource with ``to_json``."""
        return self.clusters

    @staticmethod
    def _no_group(rg: str) -> tuple[int, Any, dict]:
        return (
            404,
            arm_error("ResourceGroupNotFound", f"Resource group '{rg}' could not be found."),
            {},
        )

    def _found(self, sub: str, rg: str, name: str) -> Any:
        """The resource, or the 404 ARM answers for it."""
        if rg.lower() not in self.subscriptions[sub]:
            return self._no_group(rg)
        resource = self._resources().get((sub, rg.lower(), name))
        if resource is None:
            return (
                404,
                arm_error(
                    "ResourceNotFound",
                    f"The Resource '{self.resource_type}/{name}' under resource group '{rg}' "
                    "was not found. For more details please go to "
                    "https://aka.ms/ARMResourceNotFoundFix",
                ),
                {},
            )
        return resource

    def _list_subscription(self, sub: str, body: Any, skip: int = 0) -> tuple[int, Any, dict]:
        found = [r.to_json() for (s, _, _), r in sorted(self._resources().items()) if s == sub]
        path = f"/subscriptions/{sub}/providers/{self.resource_type}"
        return 200, self._page(path, found, skip), {}

    def _list_resource_group(self, sub: str, rg: str, body: Any, skip: int = 0):
        if rg.lower() not in self.subscriptions[sub]:
            return self._no_group(rg)
        found = [
            r.to_json()
            for (s, g, _), r in sorted(self._resources().items())
            if s == sub and g == rg.lower()
        ]
        path = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{self.resource_type}"
        return 200, self._page(path, found, skip), {}

    def _get_resource(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        resource = self._found(sub, rg, name)
        if isinstance(resource, tuple):
            return resource
        return 200, resource.to_json(), {}

    def _operation(
        self, sub: str, location: str, remaining: int, error=None, on_success=None, on_failure=None
    ) -> dict[str, str]:
        """A new async operation; returns the two headers every documented 201/202 has."""
        op_id = str(uuid.uuid4())
        self.operations[op_id] = Operation(
            remaining, error, on_success or (lambda: None), on_failure or (lambda: None)
        )
        url = (
            f"{ARM}/subscriptions/{sub}/providers/{PROVIDER}/locations/{location}"
            f"/azureAsyncOperation/{op_id}?api-version={self.api_version}"
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
            return self._no_group(rg)
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
        example = self.lineage == "example"
        cluster = Cluster(
            sub, rg, name, location=body["location"], node_count=source.node_count,
            postgresql_version=source.postgresql_version, citus_version=source.citus_version,
            state="Provisioning", provisioning_state="Provisioning", earliest_restore=None,
            source_resource_id=source.id if example else None,
            source_location=properties.get("sourceLocation") if example else None,
            recorded=not example, tags=dict(body.get("tags") or {}),
        )  # fmt: skip
        self.clusters[(sub, rg.lower(), name)] = cluster
        plan = self.restore_plans.get(name, self.default_plan)

        def succeed() -> None:
            cluster.state, cluster.provisioning_state = "Ready", "Succeeded"

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
            if cluster[0] == 404 and cluster[1]["error"]["code"] == "ResourceNotFound":
                return 204, None, {}
            return cluster
        cluster.provisioning_state = "Deleting"

        def gone() -> None:
            self.clusters.pop((sub, rg.lower(), name), None)

        return (
            202,
            None,
            self._operation(sub, cluster.location, self.delete_in_progress, on_success=gone),
        )

    def _get_operation(self, sub: str, loc: str, op: str, body: Any) -> tuple[int, Any, dict]:
        operation = self.operations.get(op)
        if operation is None:
            return 404, arm_error("OperationNotFound", f"Operation '{op}' was not found."), {}
        if operation.status == "InProgress":
            if operation.remaining > 0:
                operation.remaining -= 1
            elif operation.error:
                operation.status, operation.ended = "Failed", datetime.now(UTC)
                operation.on_failure()
            else:
                operation.status, operation.ended = "Succeeded", datetime.now(UTC)
                operation.on_success()
        answer = {
            "id": f"/subscriptions/{sub}/providers/{PROVIDER}/locations/{loc}"
            f"/azureAsyncOperation/{op}",
            "name": op,
            "status": operation.status,
            "startTime": iso(operation.started),
        }
        if operation.ended:
            answer["endTime"] = iso(operation.ended)
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
        editions = {"Coordinator": "GeneralPurpose", "Worker": "MemoryOptimized"}
        return [
            {
                "id": f"{cluster.id}/servers/{name}",
                "name": name,
                "type": f"{TYPE}/servers",
                "systemData": SYSTEM_DATA,
                "properties": {
                    "fullyQualifiedDomainName": fqdn,
                    "postgresqlVersion": cluster.postgresql_version,
                    "citusVersion": cluster.citus_version,
                    "availabilityZone": "1",
                    "role": role,
                    "serverEdition": editions[role],
                    "storageQuotaInMb": 524288,
                    "vCores": 4 if role == "Coordinator" else 8,
                    "enableHa": False,
                    "enablePublicIpAccess": role == "Coordinator",
                    "state": cluster.state,
                    "haState": "NotEnabled",
                    "administratorLogin": cluster.administrator_login,
                    "isReadOnly": False,
                },
            }
            for name, role, fqdn in cluster.server_names()
        ]

    def _list_servers(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        return 200, {"value": self._servers_json(cluster)}, {}

    def _rule_json(self, cluster: Cluster, rule: str, start: str, end: str) -> dict:
        return {
            "id": f"{cluster.id}/firewallRules/{rule}",
            "name": rule,
            "type": f"{TYPE}/firewallRules",
            "systemData": SYSTEM_DATA,
            "properties": {"startIpAddress": start, "endIpAddress": end},
        }

    def _list_rules(self, sub: str, rg: str, name: str, body: Any) -> tuple[int, Any, dict]:
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        rules = [
            self._rule_json(cluster, rule, *cluster.firewall_rules[rule])
            for rule in sorted(cluster.firewall_rules)
        ]
        return 200, {"value": rules}, {}

    def _get_rule(self, sub: str, rg: str, name: str, rule: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        if rule not in cluster.firewall_rules:
            return 404, arm_error("ResourceNotFound", f"Firewall rule '{rule}' was not found."), {}
        return 200, self._rule_json(cluster, rule, *cluster.firewall_rules[rule]), {}

    def _put_rule(self, sub: str, rg: str, name: str, rule: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        start, end = body["properties"]["startIpAddress"], body["properties"]["endIpAddress"]

        def apply() -> None:
            cluster.firewall_rules[rule] = (start, end)

        headers = self._operation(sub, cluster.location, 0, on_success=apply)
        return 201, self._rule_json(cluster, rule, start, end), headers

    def _configuration_json(self, cluster: Cluster, cfg: str) -> dict:
        setting = SETTINGS[cfg]
        groups = []
        for role, default in (
            ("Coordinator", setting.coordinator_default),
            ("Worker", setting.worker_default),
        ):
            value = cluster.parameter(cfg, role.lower())
            groups.append(
                {
                    "role": role,
                    "value": value,
                    "defaultValue": default,
                    "source": "system-default" if value == default else "user-override",
                }
            )
        properties: dict[str, Any] = {
            "description": setting.description,
            "dataType": setting.data_type,
            "allowedValues": setting.allowed,
            "serverRoleGroupConfigurations": groups,
            "provisioningState": "Succeeded",
        }
        if cfg in self.reported_restart:
            properties["requiresRestart"] = self.reported_restart[cfg]
        return {
            "id": f"{cluster.id}/configurations/{cfg}",
            "name": cfg,
            "type": f"{TYPE}/configurations",
            "systemData": SYSTEM_DATA,
            "properties": properties,
        }

    def _list_configurations(self, sub: str, rg: str, name: str, body: Any, skip: int):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        items = [self._configuration_json(cluster, cfg) for cfg in SETTINGS]
        path = f"{cluster.id}/configurations"
        return 200, self._page(path, items, skip), {}

    def _role_configuration_json(self, cluster: Cluster, kind: str, cfg: str, value: str) -> dict:
        """ConfigurationUpdate*/ConfigurationGet* bodies: only ``value``."""
        return {
            "id": f"{cluster.id}/configurations/{cfg}",
            "name": cfg,
            "type": f"{TYPE}/configurations/{kind}",
            "systemData": SYSTEM_DATA,
            "properties": {"value": value},
        }

    def _get_role_configuration(self, sub: str, rg: str, name: str, kind: str, cfg: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        if cfg not in SETTINGS:
            return 404, arm_error("ResourceNotFound", f"Configuration '{cfg}' was not found."), {}
        value = cluster.parameter(cfg, "coordinator" if kind == "coordinator" else "worker")
        return 200, self._role_configuration_json(cluster, kind, cfg, value), {}

    def _put_role_configuration(self, sub: str, rg: str, name: str, kind: str, cfg: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        if cfg not in SETTINGS:
            return 404, arm_error("ResourceNotFound", f"Configuration '{cfg}' was not found."), {}
        role = "coordinator" if kind == "coordinator" else "worker"
        value = body["properties"]["value"]

        def apply() -> None:
            cluster.parameters.setdefault(cfg, {})[role] = value

        status = self.update_status[kind]
        answer = self._role_configuration_json(cluster, kind, cfg, value)
        refused = self.refused_settings.get(cfg)
        if status == 200:
            if refused:
                return 400, arm_error(*refused), {}
            apply()
            return 200, answer, {}
        headers = self._operation(sub, cluster.location, 0, error=refused, on_success=apply)
        return status, answer, headers

    def _list_roles(self, sub: str, rg: str, name: str, body: Any):
        cluster = self._found(sub, rg, name)
        if isinstance(cluster, tuple):
            return cluster
        value = [
            {
                "id": f"{cluster.id}/roles/{role}",
                "name": role,
                "type": f"{TYPE}/roles",
                "systemData": SYSTEM_DATA,
                "properties": {"provisioningState": "Succeeded"},
            }
            for role in cluster.roles
        ]
        return 200, {"value": value}, {}

    def _check_name(self, sub: str, body: Any) -> tuple[int, Any, dict]:
        name = body["name"]
        assert body["type"] == TYPE, body
        taken = name in self.taken_names or any(n == name for (_, _, n) in self.clusters)
        answer = {
            "nameAvailable": "False" if taken else "True",
            "message": f"Server group name '{name}' already exists." if taken else "",
            "name": name,
            "type": TYPE,
        }
        return 200, answer, {}
