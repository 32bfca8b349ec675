"""What both Azure backends share: ARM plumbing through the official SDKs.

The credential (``azure-identity``'s ``DefaultAzureCredential`` unless one is passed in,
never stored, logged or shown), one SDK client a subscription with the test transport
when one is given, the cached listing across subscriptions, locating a resource among
the configured subscriptions and resource group, restore tokens, following an
operation's answers, and one ``BackendError`` for every SDK failure (``translate``) with
ARM's own code and message. Each backend keeps its own resources, models and words.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.mgmt.core.polling.arm_polling import ARMPolling

from portal.instants import utc_text

from .base import (
    Backend,
    BackendError,
    CopyResult,
    FirewallRule,
    NotFound,
    RestoreEstimate,
    RestoreWindow,
    ServerGroup,
)
from .scratch import not_scratch

log = logging.getLogger(__name__)

T = TypeVar("T")

PORTAL_URL = "https://portal.azure.com"
TOKEN_VERSION = 1
# Real ARM's async-operation answers carry no Retry-After for these APIs; the SDK then
# waits its own default between polls.
DEFAULT_POLLING_INTERVAL = 30.0
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# A JWT or a long opaque secret must never reach a message, even if an SDK puts one there.
_SECRETISH = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*|Bearer\s+\S+", re.IGNORECASE)
_CREDENTIAL_HINT = (
    "Set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal, "
    "or run the portal with a managed or workload identity (or after `az login`)."
)
_TERMINAL = {"succeeded", "failed", "canceled"}
# Microsoft Entra sign-in to Azure Database for PostgreSQL: a token for this scope is the
# password (no database password is stored anywhere in the portal).
OSSRDBMS_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
# All Azure says about a restore's duration; the portal adds no figure of its own.
DOCUMENTED_DURATION = (
    "Azure gives no estimate: its documentation says a restore takes from minutes to "
    "hours, depending on the WAL to replay since the last backup."
)


def refuse_outside_window(point: datetime, *, earliest: datetime, now: datetime, name: str) -> None:
    """Azure answers a point outside the window with InternalServerError: refuse it first,
    in words."""
    if not RestoreWindow(earliest=earliest, latest=now).contains(point):
        raise BackendError(
            f"The restore point {utc_text(point)} is outside the restore window of "
            f"{name} ({utc_text(earliest)} to now)."
        )


def arm_id_rule(resource_type: str) -> re.Pattern[str]:
    """The ARM resource id of one ``resource_type`` ("Provider/type"), naming its
    subscription (``sub``), resource group (``rg``) and ``name``."""
    provider, kind = resource_type.split("/")
    return re.compile(
        r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
        rf"/providers/{re.escape(provider)}/{re.escape(kind)}/(?P<name>[^/]+)$",
        re.IGNORECASE,
    )


def arm_id_parts(rule: re.Pattern[str], resource_id: str, what: str) -> tuple[str, str, str]:
    """(subscription, resource group, name) from ``resource_id``; NotFound if it is not
    ``what`` ("an Azure server group id")."""
    match = rule.match(resource_id or "")
    if not match:
        raise NotFound(f"'{resource_id}' is not {what}.")
    return match["sub"], match["rg"], match["name"]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _scrub(text: str) -> str:
    text = _SECRETISH.sub("[redacted]", text or "")
    secret = os.environ.get("AZURE_CLIENT_SECRET")
    if secret:
        text = text.replace(secret, "[redacted]")
    return text.strip()


def _arm_error(error: HttpResponseError) -> tuple[str, str]:
    """ARM's own error code and message, word for word when ARM sent them."""
    odata = getattr(error, "error", None)
    code = getattr(odata, "code", None) or ""
    message = getattr(odata, "message", None) or ""
    if not message:
        message = (error.message or str(error)).splitlines()[0]
    return code, _scrub(message)


def _retry_after(error: HttpResponseError) -> str:
    headers = getattr(error.response, "headers", None) or {}
    return headers.get("Retry-After", "") or headers.get("retry-after", "")


def translate(error: AzureError, doing: str, subscription: str = "") -> BackendError:
    """One BackendError for an SDK failure; ``doing`` completes "Could not ...".

    Never includes a credential or a token: SDK messages are scrubbed.
    """
    where = f" in subscription {subscription}" if subscription else ""
    if isinstance(error, ClientAuthenticationError):
        first = _scrub((error.message or str(error)).splitlines()[0])
        return BackendError(
            f"Could not {doing}: Azure did not accept the portal's credentials ({first}). "
            f"{_CREDENTIAL_HINT}",
            code="AuthenticationFailed",
        )
    if isinstance(error, (ServiceRequestError, ServiceResponseError)):
        return BackendError(
            f"Could not {doing}: Azure Resource Manager (management.azure.com) could not be "
            "reached. Check the network or proxy, then try again.",
            permanent=False,
            code="NetworkError",
        )
    if isinstance(error, HttpResponseError):
        code, message = _arm_error(error)
        status = error.status_code
        if status == 429:
            wait = _retry_after(error)
            when = f"in {wait} seconds" if wait.isdigit() else "in a minute"
            return BackendError(
                f"Could not {doing}: Azure is throttling the portal's requests{where} "
                f"(429 {code or 'TooManyRequests'}). Try again {when}.",
                permanent=False,
                code=code or "TooManyRequests",
            )
        if status == 404 and code == "SubscriptionNotFound":
            return BackendError(
                f"Could not {doing}: subscription {subscription} was not found, or the portal's "
                f"identity cannot see it. {code}: {message}",
                code=code,
            )
        if status == 404:
            return NotFound(f"Could not {doing}: {code or 'NotFound'}: {message}", code=code)
        if status == 403:
            return BackendError(
                f"Could not {doing}{where}: Azure denied the portal's identity access. "
                f"{code or 'Forbidden'}: {message}",
                code=code or "Forbidden",
            )
        if status == 200 and not isinstance(error, DecodeError):
            # A long-running operation that ended Failed: its status answer was a 200, and
            # ARM's code and message are the whole news.
            return BackendError(
                f"Could not {doing}: Azure reported {code or 'Failed'}: {message}", code=code
            )
        transient = status is not None and (status >= 500 or status == 408)
        answered = f"{status} {code}" if code else f"{status}"
        return BackendError(
            f"Could not {doing}: Azure answered {answered}: {message}",
            permanent=not transient,
            code=code,
        )
    return BackendError(
        f"Could not {doing}: {_scrub(str(error).splitlines()[0] if str(error) else '')}",
        permanent=False,
    )


class _SubmitOnly(ARMPolling):
    """Polls nothing: ``begin_restore`` only sends the PUT and keeps the continuation token,
    so no background thread keeps polling in the web or worker process."""

    def run(self) -> None:
        return None


class _Watched(ARMPolling):
    """ARM polling that remembers each status it sees, for progress reports."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seen: list[str] = []

    def update_status(self) -> None:
        super().update_status()
        self.seen.append(self.status())


class ArmBackend(Backend):
    """A backend whose server groups are ARM resources in one or more subscriptions.

    A subclass names its SDK client class, what it lists (``listing``), how a resource
    it does not own is refused (``not_ours``, formatted with ``name``), and gives
    ``_list_all``, ``_list_in_group`` and ``_group``.
    """

    can_restore = True
    has_alerts = True
    client_class: Any = None
    listing = "server groups"
    not_ours = "Server group '{name}' is not among the portal's Azure server groups."
    log_name = "Azure backend"

    def restore_estimate(
        self, group_id: str, choice: str, point: datetime | None
    ) -> RestoreEstimate | None:
        """Only what Azure documents: no figure (Azure reports none before or during)."""
        return RestoreEstimate(seconds=None, rough=True, message=DOCUMENTED_DURATION)

    def __init__(
        self,
        key: str = "",
        *,
        subscription_ids: list[str] | str,
        resource_group: str = "",
        credential: Any = None,
        transport: Any = None,
        cache_seconds: float = 30,
        polling_interval: float | None = None,
        drill_db_user: str = "",
    ):
        super().__init__(key or type(self).key)
        # The Microsoft Entra role the portal's identity signs in as for a drill's checks.
        self.drill_db_user = drill_db_user.strip()
        if isinstance(subscription_ids, str):
            subscription_ids = subscription_ids.split(",")
        self.subscription_ids = [s.strip() for s in subscription_ids if s and s.strip()]
        self.resource_group = resource_group.strip()
        self.cache_seconds = float(cache_seconds)
        self.polling_interval = (
            DEFAULT_POLLING_INTERVAL if polling_interval is None else float(polling_interval)
        )
        self._credential = credential
        self._transport = transport
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._cache: tuple[float, list[ServerGroup]] | None = None
        self.list_problems: list[str] = []

    # What a subclass gives

    def _list_all(self, client: Any) -> Iterable[Any]:
        raise NotImplementedError

    def _list_in_group(self, client: Any, resource_group: str) -> Iterable[Any]:
        raise NotImplementedError

    def _group(self, resource: Any) -> ServerGroup:
        raise NotImplementedError

    # Plumbing

    def _credential_or_default(self) -> Any:
        if self._credential is None:
            # Imported late: azure-identity is only needed once Azure is really asked.
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def _client(self, subscription: str) -> Any:
        with self._lock:
            client = self._clients.get(subscription)
            if client is None:
                options: dict[str, Any] = {"polling_interval": self.polling_interval}
                if self._transport is not None:
                    options["transport"] = self._transport
                client = self.client_class(self._credential_or_default(), subscription, **options)
                self._clients[subscription] = client
            return client

    @staticmethod
    def _translate(error: AzureError, doing: str, subscription: str) -> BackendError:
        return translate(error, doing, subscription)

    def _call(self, doing: str, subscription: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except BackendError:
            raise
        except AzureError as error:
            failure = self._translate(error, doing, subscription)
            log.warning("%s: %s", self.log_name, failure.message)
            raise failure from None

    def _locate(self, group_id: str) -> tuple[str, str, str]:
        sub, rg, name = self.parse_id(group_id)
        # Only the configured subscriptions and resource group are the portal's business,
        # even if the identity can see more.
        if sub.lower() not in {s.lower() for s in self.subscription_ids} or (
            self.resource_group and rg.lower() != self.resource_group.lower()
        ):
            raise NotFound(self.not_ours.format(name=name))
        return sub, rg, name

    def _read(self, group_id: str) -> tuple[str, str, Any]:
        """(subscription, resource group, the resource) of one of the portal's groups."""
        sub, rg, name = self._locate(group_id)
        resource = self._call(
            f"read {self.resource_word} {name}",
            sub,
            lambda: self._get_resource(self._client(sub), rg, name),
        )
        return sub, rg, resource

    def _list_of(
        self, group_id: str, doing: str, lister: Callable[[Any, str, str], Iterable[T]]
    ) -> list[T]:
        """Everything ``lister(client, resource group, name)`` lists under a server group;
        ``doing`` completes "Could not ..." with ``{name}`` for the group's name."""
        sub, rg, name = self._locate(group_id)
        return self._call(
            doing.format(name=name), sub, lambda: list(lister(self._client(sub), rg, name))
        )

    @staticmethod
    def parse_id(group_id: str) -> tuple[str, str, str]:
        raise NotImplementedError

    def _first_subscription(self) -> str:
        if not self.subscription_ids:
            raise BackendError("No Azure subscription is configured (AZURE_SUBSCRIPTION_IDS).")
        return self.subscription_ids[0]

    # Reads

    def list_server_groups(self) -> list[ServerGroup]:
        """Every resource in the configured subscriptions (and resource group), cached.

        When some subscriptions fail and others answer, the answered ones are returned and
        ``list_problems`` says what failed; when all fail, the first failure is raised.
        """
        with self._lock:
            if self._cache and time.monotonic() - self._cache[0] < self.cache_seconds:
                return list(self._cache[1])
        self._first_subscription()

        def one(sub: str) -> list[ServerGroup] | BackendError:
            client = self._client(sub)
            rg = self.resource_group
            try:
                if rg:
                    found = self._call(
                        f"list {self.listing} in resource group {rg}",
                        sub,
                        lambda: list(self._list_in_group(client, rg)),
                    )
                else:
                    found = self._call(
                        f"list {self.listing}", sub, lambda: list(self._list_all(client))
                    )
            except BackendError as error:
                return error
            return [self._group(resource) for resource in found]

        with ThreadPoolExecutor(max_workers=min(8, len(self.subscription_ids))) as pool:
            answers = list(pool.map(one, self.subscription_ids))
        failures = [a for a in answers if isinstance(a, BackendError)]
        if failures and len(failures) == len(answers):
            raise failures[0]
        groups = sorted(
            (g for a in answers if not isinstance(a, BackendError) for g in a),
            key=lambda g: (g.name, g.subscription, g.resource_group),
        )
        with self._lock:
            self.list_problems = [f.message for f in failures]
            self._cache = (time.monotonic(), groups)
        return list(groups)

    def refresh(self) -> None:
        with self._lock:
            self._cache = None

    # Restores

    @staticmethod
    def _read_token(token: str) -> dict[str, Any]:
        try:
            state = json.loads(token)
            assert state["v"] == TOKEN_VERSION
            state["subscription"], state["resource_group"], state["name"]
        except (ValueError, TypeError, KeyError, AssertionError):
            raise BackendError("This restore's Azure token is unreadable.") from None
        return state

    def _follow(self, poller: Any, watched: _Watched, report: Callable[[str, int], None]) -> None:
        """Report each answer of the operation that is not its end, with its number, until
        the poller is done. Reports come from this thread, not the SDK's polling thread,
        so the callback may use the caller's database connection."""
        reported = 0
        while True:
            finished = poller.done()
            for status in list(watched.seen)[reported:]:
                reported += 1
                if status.lower() not in _TERMINAL:
                    report(status, reported)
            if finished:
                return
            poller.wait(timeout=min(self.polling_interval, 5.0) or 0.1)

    def _restore_refused(self, error: HttpResponseError, name: str, sub: str) -> BackendError:
        """ARM's own word on a restore whose operation failed, else the translation."""
        code, message = _arm_error(error)
        if code or error.status_code == 200:
            return BackendError(
                f"Azure could not restore into {name}: {code}: {message}", code=code
            )
        return self._translate(error, f"restore into {name}", sub)

    def _get_or_none(self, get: Callable[[], T], name: str, sub: str) -> T | None:
        """The resource, or None when Azure answers 404."""
        try:
            return get()
        except HttpResponseError as error:
            if error.status_code == 404:
                return None
            raise self._translate(error, f"look for {name}", sub) from None
        except AzureError as error:
            raise self._translate(error, f"look for {name}", sub) from None

    # Restore drills: a DBA's Delete stays refused on Azure (``can_delete`` is False),
    # but a drill's scratch server, which the drill itself restored, is deleted afterwards.

    can_delete_scratch = True
    resource_word = "server group"

    def _get_resource(self, client: Any, rg: str, name: str) -> Any:
        raise NotImplementedError

    def _begin_delete(self, client: Any, rg: str, name: str) -> Any:
        raise NotImplementedError

    def delete_scratch_group(self, source_id: str, name: str, token: str) -> str:
        """Delete a drill's scratch resource ``name`` beside its source (same subscription
        and resource group) through the SDK's ``begin_delete``, following ARM's
        long-running operation to its end. Only a reserved scratch name is deleted."""
        problem = not_scratch(name)
        if problem:
            raise BackendError(problem)
        sub, rg, _ = self._locate(source_id)
        client = self._client(sub)
        word = self.resource_word
        if self._get_or_none(lambda: self._get_resource(client, rg, name), name, sub) is None:
            return f"Nothing to delete: Azure has no {word} {name} in resource group {rg}."
        self._call(
            f"delete the drill's scratch {word} {name}",
            sub,
            lambda: self._begin_delete(client, rg, name).result(),
        )
        self.refresh()
        return f"Deleted the scratch {word} {name} in resource group {rg}."

    @contextlib.contextmanager
    def check_connection(self, group_id: str, node: str, *, superuser: bool = False):
        """A drill's connection to one node: TLS to its endpoint, signed in as the
        Microsoft Entra role ``drill_db_user`` with a token of the portal's own credential
        as the password. Azure has no superuser, so ``superuser`` changes nothing. Says
        plainly why not when the portal has no such role or cannot reach the server."""
        group = self.get_server_group(group_id)
        target = next((n for n in group.nodes if n.name == node), None)
        if target is None or not target.host:
            raise BackendError(f"{group.name} has no endpoint for {node} yet.")
        if not self.drill_db_user:
            raise BackendError(
                "the portal has no database sign-in for Azure servers (AZURE_DRILL_DB_USER is "
                "not set), so it restored and removed the server without checking its data."
            )
        token = self._call(
            "get a Microsoft Entra token for Azure Database for PostgreSQL",
            group.subscription,
            lambda: self._credential_or_default().get_token(OSSRDBMS_SCOPE).token,
        )
        try:
            conn = psycopg.connect(
                host=target.host,
                port=target.port or 5432,
                dbname=target.database or group.database or "postgres",
                user=self.drill_db_user,
                password=token,
                sslmode="require",
                autocommit=True,
                connect_timeout=10,
                application_name="restore drill",
            )
        except psycopg.OperationalError as error:
            reason = _scrub(str(error).strip().splitlines()[0] if str(error).strip() else "")
            raise BackendError(
                f"the portal cannot reach {target.host} ({reason}). It signs in as the "
                f"Microsoft Entra role {self.drill_db_user}: the server needs a firewall rule "
                "for the portal's address and that role as a Microsoft Entra administrator."
            ) from None
        with conn:
            yield conn

    # Post-restore tasks

    def _create_firewall_rule(self, client: Any, rg: str, name: str, rule: FirewallRule) -> None:
        raise NotImplementedError

    def copy_firewall_rules(self, source_id: str, target_id: str) -> CopyResult:
        wanted = self.firewall_rules(source_id)
        present = set(self.firewall_rules(target_id))
        sub, rg, name = self._locate(target_id)
        client = self._client(sub)
        copied = 0
        for rule in wanted:
            if rule in present:
                continue
            self._call(
                f"copy firewall rule {rule.name} to {name}",
                sub,
                lambda rule=rule: self._create_firewall_rule(client, rg, name, rule),
            )
            copied += 1
        return CopyResult(firewall_rules=copied)

    def alerts_url(self, group_id: str) -> str:
        self.parse_id(group_id)
        return f"{PORTAL_URL}/#resource{group_id}/alerts"

    def check(self) -> list[str]:
        problems = []
        if not self.subscription_ids:
            problems.append("AZURE_SUBSCRIPTION_IDS names no subscription.")
        for sub in self.subscription_ids:
            if not _UUID.match(sub):
                problems.append(f"'{sub}' in AZURE_SUBSCRIPTION_IDS is not a subscription id.")
        return problems + list(self.list_problems)
