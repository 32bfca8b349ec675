"""The wizard's form: every rule checked on the server, whatever the browser sent."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms

from portal.backends import BackendError
from portal.backends.base import Backend, RestoreWindow, ServerGroup
from portal.instants import clock_text

from .models import RestoreOperation
from .services.checks import restore_point_problem, restore_target_problem

POINT_FORMAT_HELP = "Enter the restore point as a date and time in UTC, e.g. 2026-11-24 20:31:05."
LOCAL_FORMAT_HELP = "Enter the local time as a date and time, e.g. 2026-11-24 21:31:05."
ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$")

# Shown read-only; a posted value that differs is tampering, and is refused.
LOCKED_FIELDS = {
    "subscription": ("Subscription", "subscription"),
    "resource_group": ("Resource group", "resource_group"),
    "location": ("Location", "location"),
    "source_id": ("Source server group", "id"),
}


def parse_typed(text: str) -> datetime | None:
    """A date and time as typed (ISO 8601, a space or T between date and time, Z or
    an offset allowed); naive when no offset was typed. None when it is not one."""
    text = text.strip()[:64].replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if len(text) < 16:  # a date alone is not a point in time
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_utc(text: str) -> datetime | None:
    """A time typed into a field labelled UTC: naive means UTC, an offset is honoured."""
    moment = parse_typed(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # an offset pushing year 1 or 9999 out of range
        return None


def time_zone(name: str) -> ZoneInfo | None:
    """The browser's IANA time zone, or None when the name is not one."""
    if not name or len(name) > 64 or not ZONE_NAME.match(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass(frozen=True)
class PointReading:
    """A custom restore point as the DBA typed it: in UTC or in the browser's time zone."""

    moment: datetime | None  # UTC; None when nothing valid was typed
    typed_in: str  # "utc" or "local"
    zone: ZoneInfo | None  # the browser's time zone, when it sent one
    error: str = ""


def read_point(data) -> PointReading:
    """Read the custom point from posted or queried ``data``: ``point`` (UTC) or, when
    ``point_source`` is "local", ``point_local`` in the zone ``time_zone``."""
    zone = time_zone(str(data.get("time_zone", "")).strip())
    if data.get("point_source") != "local":
        text = str(data.get("point", ""))
        if not text.strip():
            return PointReading(
                None, "utc", zone, "Enter a restore point in UTC for a custom restore."
            )
        moment = parse_utc(text)
        return PointReading(moment, "utc", zone, "" if moment else POINT_FORMAT_HELP)
    text = str(data.get("point_local", ""))
    if zone is None:
        return PointReading(
            None,
            "local",
            None,
            "Your browser did not say which time zone it is in; type the restore point in UTC.",
        )
    if not text.strip():
        return PointReading(None, "local", zone, "Enter a restore point for a custom restore.")
    typed = parse_typed(text)
    if typed is None:
        return PointReading(None, "local", zone, LOCAL_FORMAT_HELP)
    if typed.tzinfo is not None:  # an offset typed by hand wins over the zone
        return PointReading(parse_utc(text), "local", zone)
    first, second = typed.replace(tzinfo=zone, fold=0), typed.replace(tzinfo=zone, fold=1)
    shown = clock_text(typed)
    if first.utcoffset() != second.utcoffset():
        # Either the clocks went back (the time happened twice) or jumped (never happened).
        back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == typed
        why = (
            "happened twice in {zone} (the clocks went back)"
            if back
            else "did not exist in {zone} (the clocks went forward)"
        ).format(zone=zone.key)
        return PointReading(
            None, "local", zone, f"{shown} {why}; type the restore point in UTC to be exact."
        )
    try:
        return PointReading(first.astimezone(UTC), "local", zone)
    except OverflowError:
        return PointReading(None, "local", zone, LOCAL_FORMAT_HELP)


class RestoreForm(forms.Form):
    choice = forms.ChoiceField(
        choices=RestoreOperation.Choice.choices,
        widget=forms.RadioSelect,
        initial=RestoreOperation.Choice.EARLIEST,
        error_messages={
            "required": "Choose the earliest or a custom restore point.",
            "invalid_choice": "Choose the earliest or a custom restore point.",
        },
    )
    point = forms.CharField(label="Restore point (UTC)", required=False)
    # A fast restore point: the completion time of one of the source's full backups.
    backup = forms.CharField(label="Fast restore point", required=False)
    # The same point typed in the browser's time zone (see read_point).
    point_local = forms.CharField(required=False)
    time_zone = forms.CharField(required=False)
    point_source = forms.CharField(required=False)
    target_name = forms.CharField(
        label="Restore to new server",
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    # subscription, resource_group, location and source_id are not fields: they are
    # shown read-only from the source, and clean() refuses a posted value that differs.
    idempotency_key = forms.UUIDField(
        error_messages={"invalid": "This form has expired; open the restore page again."},
        required=False,
    )

    def __init__(
        self,
        *args,
        backend: Backend,
        group: ServerGroup,
        window: RestoreWindow,
        now: datetime,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.backend = backend
        self.group = group
        self.window = window
        self.now = now
        offered = backend.restore_choices(group)
        labels = dict(RestoreOperation.Choice.choices)
        self.fields["choice"].choices = [(value, labels[value]) for value in offered]
        if tuple(offered) != ("earliest", "custom"):
            words = ", ".join(labels[value] for value in offered)
            self.fields["choice"].error_messages["invalid_choice"] = f"Choose one of: {words}."
            self.fields["choice"].error_messages["required"] = f"Choose one of: {words}."

    def target_location(self) -> str:
        """Where the new server group goes: beside its source, or in the paired region."""
        if self.data.get("choice") == RestoreOperation.Choice.GEO:
            return self.group.paired_location
        return self.group.location

    def clean_point(self) -> datetime | None:
        if self.data.get("choice") != RestoreOperation.Choice.CUSTOM:
            return None
        reading = read_point(self.data)
        if reading.moment is None:
            raise forms.ValidationError(reading.error)
        moment = reading.moment
        problem = restore_point_problem(point=moment, window=self.window, now=self.now)
        if problem:
            raise forms.ValidationError(problem)
        return moment

    def clean_backup(self) -> datetime | None:
        if self.data.get("choice") != RestoreOperation.Choice.FAST:
            return None
        moment = parse_utc(str(self.data.get("backup", "")))
        if moment is None:
            raise forms.ValidationError("Choose one of the full backups listed.")
        try:
            backups = self.backend.restore_backups(self.group.id)
        except BackendError as error:
            raise forms.ValidationError(f"The backups could not be read: {error.message}") from None
        if not any(backup.completed == moment for backup in backups):
            raise forms.ValidationError(
                f"No full backup of {self.group.name} completed at "
                f"{moment:%Y-%m-%d %H:%M:%S.%f} UTC; choose one of the backups listed."
            )
        return moment

    def clean_target_name(self) -> str:
        name = self.cleaned_data.get("target_name", "")
        problem = self.backend.name_problem(name)
        if problem is None:
            try:
                problem = restore_target_problem(
                    backend=self.backend,
                    group=self.group,
                    target_name=name,
                    location=self.target_location(),
                )
            except BackendError as error:
                problem = f"The name could not be checked: {error.message}"
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_idempotency_key(self) -> uuid.UUID:
        return self.cleaned_data.get("idempotency_key") or uuid.uuid4()

    def clean(self) -> dict:
        cleaned = super().clean()
        for field, (label, attribute) in LOCKED_FIELDS.items():
            posted = self.data.get(field)
            expected = getattr(self.group, attribute)
            if field == "location":
                expected = self.target_location()
            if posted not in (None, "") and posted != expected:
                self.add_error(
                    None,
                    f"{label} cannot be changed: a restore always creates the new server "
                    f"group beside its source ({expected}).",
                )
        return cleaned
