"""Whether a restore can be asked for: the point inside the window, the new name free.

The form, the command line and restore drills ask the same questions here."""

from __future__ import annotations

import re
from datetime import datetime

from portal.backends.base import Backend, RestoreWindow, ServerGroup
from portal.instants import utc_text

from ..models import RestoreOperation


class RestoreRefused(Exception):
    """A restore request the portal will not start; ``field`` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def restore_point_problem(*, point: datetime, window: RestoreWindow, now: datetime) -> str | None:
    """Why ``point`` cannot be restored to, or None: the window's exact bounds, both
    inclusive, to the microsecond (an earliest point with a fraction of a second is
    itself restorable; the whole second before it is not)."""
    if point > now:
        return f"The restore point {utc_text(point)} is in the future; it is now {utc_text(now)}."
    if point < window.earliest:
        return (
            f"The restore point {utc_text(point)} is before the earliest restore point, "
            f"{utc_text(window.earliest)}."
        )
    if point > window.latest:
        return (
            f"The restore point {utc_text(point)} is after the latest restorable time, "
            f"{utc_text(window.latest)}."
        )
    return None


# Restore drills name their scratch groups ``<group>-drill-<n>``; nobody else may.
DRILL_SUFFIX = "-drill-"
DRILL_NAME = re.compile(r".+-drill-[0-9]+")


def restore_target_problem(
    *, backend: Backend, group: ServerGroup, target_name: str, location: str = ""
) -> str | None:
    """Why ``target_name`` cannot be used for a restore of ``group`` (into ``location``,
    by default the source's), or None."""
    if DRILL_NAME.fullmatch(target_name):
        return (
            f"Names ending in '-drill-' and a number, like '{target_name}', are reserved "
            "for restore drills' scratch groups. Choose another name."
        )
    if target_name == group.name:
        return (
            f"'{target_name}' is the source server group's own name. "
            "A restore always creates a new server group: choose another name."
        )
    in_flight = RestoreOperation.objects.filter(
        backend=backend.key, target_name=target_name, status__in=RestoreOperation.ACTIVE
    ).first()
    if in_flight is not None:
        return (
            f"A restore to '{target_name}' is already running "
            f"(started by {in_flight.started_by}). Choose another name."
        )
    return backend.name_available_in(target_name, location or group.location)
