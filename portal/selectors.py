"""Reads that pages share: server groups across every configured backend."""

from __future__ import annotations

from dataclasses import dataclass, field

from .backends import BackendError, get_backends
from .backends.base import ServerGroup

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
    needle = query.strip().lower()
    if needle:
        listing.groups = [g for g in listing.groups if needle in g.name.lower()]
    listing.groups.sort(key=SORT_KEYS.get(sort, SORT_KEYS["name"]), reverse=descending)
    return listing
