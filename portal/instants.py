"""The one way the portal writes an instant, on every page, in notifications, in the
Activity log and in the CLI.

UTC, to the second, with the microseconds when the instant has them (a point chosen to
the microsecond reads ``2026-11-24 14:09:33.775238 UTC`` everywhere, never rounded). The
local time beside it has the same shape and names its zone by its IANA name
(``2026-11-24 15:09:33.775238 Europe/Berlin (your time)``); ``static/portal/portal.js``
writes the browser's local time the same way. Machine-readable output (``--json``,
``datetime`` attributes) is ISO 8601 in UTC, also with the microseconds when there are any.
"""

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo


def clock_text(moment: datetime) -> str:
    """``2026-11-24 14:09:33[.775238]`` in the instant's own zone, unlabelled."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return text + (f".{moment.microsecond:06d}" if moment.microsecond else "")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: the portal keeps aware datetimes only")
    return moment


def utcclock_text(moment: datetime) -> str:
    """``2026-11-24 14:09:33`` or ``2026-11-24 14:09:33.775238``, in UTC, unlabelled
    (for input fields, whose label says UTC)."""
    return clock_text(_aware(moment).astimezone(UTC))


def utc_text(moment: datetime | None, *, empty: str = "—") -> str:
    """``2026-11-24 14:09:33.775238 UTC``; ``empty`` for no instant."""
    if moment is None:
        return empty
    return utcclock_text(moment) + " UTC"


def zone_name(zone: tzinfo) -> str:
    """The zone's one name: its IANA key (``Europe/Berlin``), never CET or GMT+1."""
    return zone.key if isinstance(zone, ZoneInfo) else "UTC" if zone is UTC else str(zone)


def is_utc(zone: tzinfo) -> bool:
    """A zone that only repeats UTC (the browser then shows no second time)."""
    return zone_name(zone) in {"UTC", "Etc/UTC"}


def local_text(moment: datetime, zone: tzinfo) -> str:
    """``2026-11-24 15:09:33.775238 Europe/Berlin (your time)``."""
    return f"{clock_text(_aware(moment).astimezone(zone))} {zone_name(zone)} (your time)"


def utc_iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (``2026-11-24T14:09:33.775238+00:00``) for ``--json`` and markup."""
    return None if moment is None else _aware(moment).astimezone(UTC).isoformat()


def parse_instant(text: str, *, label: str) -> datetime:
    """An instant typed on the command line: ISO 8601 with an offset or ``Z``. A time
    without one is refused, never read as local time. ``label`` names the argument in
    the refusal (``The restore point``, ``--since``), which is a ``ValueError`` whose
    words a DBA can act on."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(
            f"{label} '{text}' is not an ISO 8601 time; write e.g. 2026-11-24T10:30:00Z."
        ) from error
    if moment.utcoffset() is None:
        raise ValueError(
            f"{label} '{text}' has no UTC offset; add Z or +00:00 (it is never read as local time)."
        )
    return moment
