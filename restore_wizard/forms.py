"""The wizard's form: every rule checked on the server, whatever the browser sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django import forms

from portal.backends import BackendError
from portal.backends.base import Backend, RestoreWindow, ServerGroup, name_problem

from . import services
from .models import RestoreOperation

POINT_FORMAT_HELP = "Enter the restore point as a date and time in UTC, e.g. 2026-11-24 20:31:05."

# Shown read-only; a posted value that differs is tampering, and is refused.
LOCKED_FIELDS = {
    "subscription": ("Subscription", "subscription"),
    "resource_group": ("Resource group", "resource_group"),
    "location": ("Location", "location"),
    "source_id": ("Source server group", "id"),
}


def parse_utc(text: str) -> datetime | None:
    """A time typed into a field labelled UTC: naive means UTC, an offset is honoured."""
    text = text.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) < 16:  # a date alone is not a point in time
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # an offset pushing year 1 or 9999 out of range
        return None


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

    def clean_point(self) -> datetime | None:
        text = self.cleaned_data.get("point", "")
        if self.data.get("choice") != RestoreOperation.Choice.CUSTOM:
            return None
        if not text.strip():
            raise forms.ValidationError("Enter a restore point in UTC for a custom restore.")
        moment = parse_utc(text[:64])
        if moment is None:
            raise forms.ValidationError(POINT_FORMAT_HELP)
        problem = services.restore_point_problem(moment, self.window, self.now)
        if problem:
            raise forms.ValidationError(problem)
        return moment

    def clean_target_name(self) -> str:
        name = self.cleaned_data.get("target_name", "")
        problem = name_problem(name)
        if problem is None:
            try:
                problem = services.restore_target_problem(self.backend, self.group, name)
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
            if posted not in (None, "") and posted != getattr(self.group, attribute):
                self.add_error(
                    None,
                    f"{label} cannot be changed: a restore always creates the new server "
                    f"group beside its source ({getattr(self.group, attribute)}).",
                )
        return cleaned
