"""An instant chosen to the microsecond reads the same on the operation page, in the
notification, in the Activity log and in the CLI."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from portal.instants import utc_text
from portal.models import ActivityEvent, Notification
from restore_wizard.models import RestoreOperation
from restore_wizard.services.outcomes import restore_operation_succeed

pytestmark = pytest.mark.django_db

POINT = datetime(2026, 11, 24, 14, 9, 33, 775238, tzinfo=UTC)
SHOWN = "2026-11-24 14:09:33.775238 UTC"


@pytest.fixture
def succeeded(operator):
    operation = RestoreOperation.objects.create(
        backend="azure",
        source_id="/subscriptions/s/resourceGroups/rg/providers/x/serverGroupsv2/orders",
        source_name="orders",
        target_name="orders-r9",
        choice=RestoreOperation.Choice.CUSTOM,
        requested_point=POINT,
        subscription="s",
        resource_group="rg",
        location="westeurope",
        created_by=operator,
        status=RestoreOperation.Status.RUNNING,
    )
    restore_operation_succeed(operation=operation, target_id="orders-r9-id", point=POINT)
    return operation


def test_the_microseconds_reach_every_page_and_text(operator, operator_client, succeeded):
    note = Notification.objects.get(user=operator, level=Notification.Level.SUCCESS)
    assert note.body == f"orders was restored to {SHOWN}."
    event = ActivityEvent.objects.get(result=ActivityEvent.Result.SUCCEEDED)
    assert event.detail["point"] == SHOWN

    operation_page = operator_client.get(f"/operations/{succeeded.pk}/").content.decode()
    assert f'<time datetime="2026-11-24T14:09:33.775238+00:00" data-local-time>{SHOWN}</time>' in (
        operation_page
    )
    assert SHOWN in operator_client.get("/activity/").content.decode()
    assert SHOWN in operator_client.get("/notifications/").content.decode()
    assert SHOWN in operator_client.get("/operations/").content.decode()


def test_the_cli_writes_instants_with_the_same_formatter(settings, listed_backends):
    listed_backends(1)
    out = StringIO()
    call_command("servergroups", "show", "group-0000", stdout=out)
    text = out.getvalue()
    json_out = StringIO()
    call_command("servergroups", "show", "group-0000", "--json", stdout=json_out)
    shown = json.loads(json_out.getvalue())

    created = datetime.fromisoformat(shown["created_at"])
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    assert f"Created:        {utc_text(created)}" in text
