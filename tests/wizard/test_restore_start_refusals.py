"""OK with bad input: a clear message on the form, and nothing created anywhere."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from portal.models import ActivityEvent, Notification
from restore_wizard.models import RestoreOperation

from .conftest import RESTORE_URL, SUB_A, details_form, restore_puts

pytestmark = pytest.mark.django_db


def post_refused(client, arm, form: dict):
    response = client.post(RESTORE_URL, form)
    assert response.status_code == 200, response.status_code
    assert not RestoreOperation.objects.exists()
    assert not Notification.objects.exists()
    assert not restore_puts(arm)
    return response.content.decode()


def custom(client, point: str, name: str = "orders-r1") -> dict:
    return {**details_form(client, "custom"), "point": point, "target_name": name}


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_custom_point_before_earliest_is_rejected(operator_client, azure, source):
    too_early = source.earliest_restore - timedelta(minutes=5)

    html = post_refused(operator_client, azure, custom(operator_client, utc(too_early)))

    assert "is before the earliest restore point" in html
    assert 'id="point-error"' in html and 'aria-invalid="true"' in html


def test_custom_point_in_the_future_is_rejected(operator_client, azure):
    later = datetime.now(UTC) + timedelta(hours=2)

    html = post_refused(operator_client, azure, custom(operator_client, utc(later)))

    assert "is in the future" in html


def test_custom_point_after_the_latest_restorable_time_is_rejected():
    from portal.backends.base import RestoreWindow
    from restore_wizard.services.checks import restore_point_problem

    now = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    window = RestoreWindow(earliest=now - timedelta(days=1), latest=now - timedelta(hours=1))

    problem = restore_point_problem(point=now - timedelta(minutes=30), window=window, now=now)

    assert problem == (
        "The restore point 2026-11-24 19:30:00 UTC is after the latest restorable time, "
        "2026-11-24 19:00:00 UTC."
    )


@pytest.mark.parametrize(
    "point",
    [
        "yesterday",
        "2026-13-01T00:00:00",
        "2026-11-24",
        "24/11/2026 10:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
    ],
)
def test_malformed_custom_point_is_rejected(operator_client, azure, point):
    html = post_refused(operator_client, azure, custom(operator_client, point))

    assert "Enter the restore point as a date and time in UTC" in html


def test_missing_custom_point_is_rejected(operator_client, azure):
    html = post_refused(operator_client, azure, custom(operator_client, ""))

    assert "Enter a restore point in UTC for a custom restore." in html


@pytest.mark.parametrize(
    "name",
    ["Orders-R1", "-orders", "orders-", "ab", "a" * 41, "orders_r1", "ordérs", "orders r1"],
)
def test_invalid_name_is_rejected(operator_client, azure, name):
    form = {**details_form(operator_client), "target_name": name}

    html = post_refused(operator_client, azure, form)

    assert "is not a valid server group name" in html
    assert "lowercase letters, digits and hyphens" in html


def test_missing_name_is_rejected(operator_client, azure):
    html = post_refused(
        operator_client, azure, {**details_form(operator_client), "target_name": ""}
    )

    assert "Enter a name for the new server group." in html


def test_name_taken_in_azure_is_rejected(operator_client, azure):
    azure.taken_names.add("orders-copy")

    html = post_refused(
        operator_client, azure, {**details_form(operator_client), "target_name": "orders-copy"}
    )

    assert "The name &#x27;orders-copy&#x27; cannot be used in Azure" in html
    assert "already exists" in html
    assert azure.requests_to("POST", "checkNameAvailability")


def test_the_sources_own_name_is_rejected(operator_client, azure):
    html = post_refused(
        operator_client, azure, {**details_form(operator_client), "target_name": "orders"}
    )

    assert "is the source server group&#x27;s own name" in html


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("subscription", "00000000-0000-0000-0000-0000000000ff", "Subscription"),
        ("resource_group", "rg-attacker", "Resource group"),
        ("location", "eastus", "Location"),
        (
            "source_id",
            f"/subscriptions/{SUB_A}/resourceGroups/rg-prod/providers/"
            "Microsoft.DBforPostgreSQL/serverGroupsv2/payroll",
            "Source server group",
        ),
    ],
)
def test_tampered_fixed_field_is_rejected(operator_client, azure, field, value, label):
    form = {**details_form(operator_client), "target_name": "orders-r1", field: value}

    html = post_refused(operator_client, azure, form)

    assert f"{label} cannot be changed" in html
    assert 'class="banner banner-error" role="alert"' in html


def test_tampered_choice_is_rejected(operator_client, azure):
    form = {**details_form(operator_client), "target_name": "orders-r1", "choice": "latest"}

    html = post_refused(operator_client, azure, form)

    assert "Choose the earliest or a custom restore point." in html


def test_garbled_idempotency_key_says_the_form_expired(operator_client, azure):
    form = {**details_form(operator_client), "target_name": "orders-r1", "idempotency_key": "x"}

    html = post_refused(operator_client, azure, form)

    assert "This form has expired; open the restore page again." in html


def test_refused_form_keeps_what_was_typed(operator_client, azure):
    html = post_refused(operator_client, azure, custom(operator_client, "garbage", "orders-keep"))

    assert 'value="orders-keep"' in html and 'value="garbage"' in html


def test_refused_form_with_htmx_renders_only_the_step(operator_client, azure):
    response = operator_client.post(
        RESTORE_URL,
        {**details_form(operator_client), "target_name": "Bad"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="wizard">')
    assert "is not a valid server group name" in html


def test_post_without_csrf_token_is_forbidden(operator, azure):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    form = {**details_form(strict), "target_name": "orders-r1"}

    response = strict.post(RESTORE_URL, form)

    assert response.status_code == 403
    assert not RestoreOperation.objects.exists()
    assert not restore_puts(azure)


def test_viewer_post_is_forbidden_and_recorded(viewer, operator, azure):
    # The form an operator's browser was given, posted by someone who is not one.
    as_operator, as_viewer = Client(), Client()
    as_operator.force_login(operator)
    as_viewer.force_login(viewer)
    form = {**details_form(as_operator), "target_name": "orders-r1"}

    response = as_viewer.post(RESTORE_URL, form)

    assert response.status_code == 403
    assert "Restore operators" in response.content.decode()
    assert not RestoreOperation.objects.exists()
    assert not restore_puts(azure)
    refused = ActivityEvent.objects.get(actor=viewer)
    assert (refused.action, refused.result) == ("restore", "refused")
    assert refused.target == "orders" and refused.backend == "azure"


def test_overview_shows_a_viewer_a_disabled_restore_with_the_reason(viewer_client, azure):
    html = viewer_client.get("/servergroups/azure/orders/").content.decode()

    assert '<button type="button" class="command" disabled aria-describedby="restore-why">' in html
    assert 'href="/servergroups/azure/orders/restore/"' not in html
    assert 'only members of the "Restore operators" group may restore' in html


def test_overview_shows_an_operator_the_restore_command(operator_client, azure):
    html = operator_client.get("/servergroups/azure/orders/").content.decode()

    assert 'href="/servergroups/azure/orders/restore/"' in html
