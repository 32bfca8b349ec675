"""``servergroups events NAME [--since T] [--json]``: the WAL events of a server group.

The group's newest WAL is indexed first (as the wizard's custom step does), then every
event in its restore window is listed with the point "just before" it: the instant
before the event's commit, for every node of the group, when the window holds it.
"""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import CommandError

from portal.backends.base import Backend, RestoreWindow, ServerGroup, TimelineEvent
from portal.instants import parse_instant, utc_iso, utc_text


def parse_since(text: str) -> datetime:
    """--since as typed (portal.instants.parse_instant), refused in words."""
    try:
        return parse_instant(text, label="--since")
    except ValueError as error:
        raise CommandError(str(error)) from error


def just_before(event: TimelineEvent, window: RestoreWindow) -> datetime | None:
    """The restore point that undoes ``event``, when the restore window holds it."""
    return event.before if event.before is not None and window.contains(event.before) else None


def group_events(
    backend: Backend, group: ServerGroup, since: datetime | None
) -> tuple[RestoreWindow, datetime | None, list[tuple[TimelineEvent, datetime | None]]]:
    """Index the newest WAL, then (window, indexed until, [(event, just before)]),
    oldest first. Raises CommandError for a backend without a WAL timeline."""
    if not backend.has_timeline:
        raise CommandError(
            f"The {backend.label} backend does not expose its WAL: it has no events to list."
        )
    backend.refresh_timeline(group.id)
    window = backend.restore_window(group.id)
    timeline = backend.restore_timeline(group.id, window)
    listed = [
        (event, just_before(event, window))
        for event in timeline.events
        if since is None or event.commit_time >= since
    ]
    return window, timeline.indexed_until, listed


def as_json(
    group: ServerGroup,
    window: RestoreWindow,
    indexed_until: datetime | None,
    listed: list[tuple[TimelineEvent, datetime | None]],
) -> dict:
    return {
        "group": group.name,
        "restore_window": {"earliest": utc_iso(window.earliest), "latest": utc_iso(window.latest)},
        "indexed_until": utc_iso(indexed_until),
        "events": [
            {
                "commit_time": utc_iso(event.commit_time),
                "node": event.node,
                "kind": event.kind,
                "database": event.database,
                "tables": list(event.relations),
                "rows": event.rows,
                "just_before": utc_iso(point),
            }
            for event, point in listed
        ],
    }


def as_text(
    group: ServerGroup,
    window: RestoreWindow,
    indexed_until: datetime | None,
    listed: list[tuple[TimelineEvent, datetime | None]],
) -> str:
    lines = [
        f"Events in the WAL of '{group.name}', restore window {utc_text(window.earliest)} "
        f"to {utc_text(window.latest)}; indexed up to {utc_text(indexed_until, empty='-')}."
    ]
    if not listed:
        lines.append("No DROP TABLE, TRUNCATE or large DELETE or UPDATE found.")
        return "\n".join(lines)
    lines.append(
        f"{'COMMITTED':<31} {'NODE':<12} {'KIND':<10} {'ROWS':>8}  {'JUST BEFORE':<31} TABLES"
    )
    for event, point in listed:
        tables = ", ".join(event.relations) or "an unnamed relation"
        if event.database:
            tables += f" (database {event.database})"
        before = utc_text(point) if point else "before the earliest restore point"
        lines.append(
            f"{utc_text(event.commit_time):<31} {event.node:<12} {event.kind:<10} "
            f"{event.rows:>8}  {before:<31} {tables}"
        )
    return "\n".join(lines)
