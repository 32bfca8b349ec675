"""Reads that pages share: server groups across every configured backend."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone

from . import blade
from .backends import BackendError, NotFound, get_backend, get_backends
from .backends.base import ServerGroup
from .services import may_restore

# Reads the portal's own record of how a group came to be: (source name, point) of the
# restore that made it, or None. The wizard app adds its reader at start-up (the portal
# never imports the wizard).
LineageReader = Callable[[ServerGroup], tuple[str, datetime | None] | None]
_lineage_readers: list[LineageReader] = []


def lineage_reader_add(reader: LineageReader) -> None:
    if reader not in _lineage_readers:
        _lineage_readers.append(reader)


def servergroup_with_lineage(group: ServerGroup) -> ServerGroup:
    """``group`` with the source and point of the restore this portal ran to make it.

    The portal's record wins over what the cloud reports: Azure answers a cluster it
    restored with ``sourceResourceId`` null and no point in time. A group restored outside
    the portal keeps whatever its cloud says, which may be nothing.
    """
    for reader in _lineage_readers:
        recorded = reader(group)
        if recorded is not None:
            source, point = recorded
            return dataclasses.replace(group, restored_from=source, restore_point=point)
    return group


SORT_KEYS = {
    "name": lambda g: g.name,
    "status": lambda g: (g.status, g.name),
    "resource_group": lambda g: (g.resource_group.lower(), g.name),
    "location": lambda g: (g.location.lower(), g.name),
    "subscription": lambda g: (g.subscription.lower(), g.name),
    "nodes": lambda g: (g.node_count, g.name),
    "cloud": lambda g: (g.cloud, g.name),
}


@dataclass
class Listing:
    groups: list[ServerGroup] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (backend label, message)
    total: int = 0  # groups before the filter


def server_groups_all(*, query: str = "", sort: str = "name", descending: bool = False) -> Listing:
    """Every backend's groups, filtered by a name fragment and sorted.

    A backend that fails does not hide the others: its message joins ``errors``.
    """
    listing = Listing()
    for backend in get_backends().values():
        try:
            listing.groups.extend(backend.list_server_groups())
        except BackendError as error:
            listing.errors.append((backend.label, error.message))
    listing.total = len(listing.groups)
    needle = query.strip().lower()
    if needle:
        listing.groups = [g for g in listing.groups if needle in g.name.lower()]
    listing.groups.sort(key=SORT_KEYS.get(sort, SORT_KEYS["name"]), reverse=descending)
    return listing


@dataclass(frozen=True)
class SigninLockout:
    kind: str  # "account" or "address"
    value: str
    failures: int
    last_failure: datetime
    locked_until: datetime


def signin_lockouts(*, now: datetime | None = None) -> list[SigninLockout]:
    """Accounts and addresses that sign-in refuses now, as django-axes judges them: the
    failures recorded within the lockout duration, summed per user name and per address,
    reaching ``AXES_FAILURE_LIMIT``. Newest first."""
    now = now or timezone.now()
    cool_off = settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=now - cool_off)
    found = []
    for field_name, kind in (("username", "account"), ("ip_address", "address")):
        rows = (
            recent.exclude(**{f"{field_name}__isnull": True})
            .values(field_name)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
            .filter(failures__gte=settings.AXES_FAILURE_LIMIT)
        )
        found += [
            SigninLockout(
                kind, row[field_name], row["failures"], row["last"], row["last"] + cool_off
            )
            for row in rows
        ]
    return sorted(found, key=lambda lockout: lockout.last_failure, reverse=True)


def servergroup_context(request: HttpRequest, backend_key: str, name: str) -> dict:
    """What every page of one server group needs; raises BackendError when it can't."""
    backend = get_backend(backend_key)
    try:
        group = backend.find_server_group(name)
    except NotFound:
        # A cached list (Azure) may predate a group this portal just restored.
        backend.refresh()
        group = backend.find_server_group(name)
    group = servergroup_with_lineage(group)
    return {
        "backend": backend,
        "group": group,
        "restore_blocker": backend.restore_blocker(group),
        "urls": blade.group_urls(group.backend, group.name),
        "may_restore": may_restore(request.user),
        # Pages registered on the blade show its menu, with their own entry current.
        "blade_menu": blade.menu(group, getattr(request.resolver_match, "url_name", "")),
    }
