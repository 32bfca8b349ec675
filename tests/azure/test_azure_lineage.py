"""The portal's pages over Azure's documented answers: lineage from the portal's own restore
records, the restore point Azure has not reported yet, and names refused before any request.

The real SDK runs over FakeArm, which answers a restored cluster as the real service did
(``sourceResourceId`` null, no ``pointInTimeUTC``, ``earliestRestoreTime`` null).
"""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command

from restore_wizard.models import RestoreOperation
from tests.fakes.azure_arm import SUB_A, FakeArm
from tests.wizard.conftest import RESTORE_URL, build_arm, details_form, restore_puts, use_azure

pytestmark = pytest.mark.django_db

OVERVIEW = "/servergroups/azure/{}/"
TASKS = "/servergroups/azure/{}/post-restore/"


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def portal_arm(settings) -> FakeArm:
    arm = build_arm()
    use_azure(settings, arm)
    return arm


@pytest.fixture
def restore_custom(operator_client, portal_arm, django_capture_on_commit_callbacks):
    """Run the wizard's custom restore of orders into ``name`` to its end."""

    def run(name: str, point) -> RestoreOperation:
        form = {
            **details_form(operator_client, "custom"),
            "point": point.strftime("%Y-%m-%dT%H:%M:%S"),
            "target_name": name,
        }
        with django_capture_on_commit_callbacks(execute=True):
            response = operator_client.post(RESTORE_URL, form)
        assert response.status_code == 302, response.content.decode()
        return RestoreOperation.objects.get(target_name=name)

    return run


def essentials(html: str, term: str) -> str:
    return html.split(f"<dt>{term}</dt>")[1].split("</dd>")[0]


def test_a_group_the_portal_restored_shows_its_source_and_point_from_the_portals_record(
    operator_client, portal_arm, restore_custom
):
    source = portal_arm.cluster(SUB_A, "rg-prod", "orders")
    point = (source.earliest_restore + timedelta(days=2)).replace(microsecond=0)

    operation = restore_custom("orders-pitr", point)

    restored = portal_arm.cluster(SUB_A, "rg-prod", "orders-pitr")
    assert operation.status == "succeeded" and operation.restored_point == point
    assert restored.source_resource_id is None  # what Azure answers
    html = operator_client.get(OVERVIEW.format("orders-pitr")).content.decode()
    shown = essentials(html, "Restored from")
    assert '<a href="/servergroups/azure/orders/">orders</a>' in shown
    assert f"{point:%Y-%m-%d %H:%M:%S} UTC" in shown
    assert f'href="{TASKS.format("orders-pitr")}"' in html
    tasks = operator_client.get(TASKS.format("orders-pitr")).content.decode()
    subheading = tasks.split('class="page-kind">')[1].split("</p>")[0]
    assert "restored from orders at" in subheading
    assert f"{point:%Y-%m-%d %H:%M:%S} UTC" in subheading
    assert "Source (orders)" in tasks
    out = io.StringIO()
    call_command("servergroups", "show", restored.id, "--backend", "azure", "--json", stdout=out)
    shown_by_cli = json.loads(out.getvalue())
    assert shown_by_cli["restored_from"] == "orders"
    assert shown_by_cli["restore_point"] == point.isoformat()


def test_the_portals_record_wins_over_what_arm_says(operator_client, portal_arm, restore_custom):
    source = portal_arm.cluster(SUB_A, "rg-prod", "orders")
    point = (source.earliest_restore + timedelta(hours=3)).replace(microsecond=0)
    restore_custom("orders-pitr", point)
    stranger = portal_arm.add_cluster(SUB_A, "rg-prod", "stranger")
    portal_arm.cluster(SUB_A, "rg-prod", "orders-pitr").source_resource_id = stranger.id

    html = operator_client.get(OVERVIEW.format("orders-pitr")).content.decode()

    shown = essentials(html, "Restored from")
    assert ">orders</a>" in shown and "stranger" not in shown
    assert f"{point:%Y-%m-%d %H:%M:%S} UTC" in shown


def test_a_group_restored_outside_the_portal_shows_arms_source_without_a_point(
    operator_client, portal_arm
):
    # ClusterCreatePITR.json's body: a source, and no point in time.
    source = portal_arm.cluster(SUB_A, "rg-prod", "orders")
    portal_arm.add_cluster(
        SUB_A, "rg-prod", "orders-elsewhere", source_resource_id=source.id,
        source_location="westeurope",
    )  # fmt: skip

    html = operator_client.get(OVERVIEW.format("orders-elsewhere")).content.decode()
    tasks = operator_client.get(TASKS.format("orders-elsewhere"))

    shown = essentials(html, "Restored from")
    assert ">orders</a> (restore point not reported)" in shown
    assert tasks.status_code == 200
    assert "restored from orders</p>" in tasks.content.decode()


def test_a_group_restored_outside_the_portal_that_arm_says_nothing_about(
    operator_client, portal_arm
):
    # The recorded real GET after a restore: sourceResourceId null, no point.
    portal_arm.add_cluster(SUB_A, "rg-prod", "orders-quiet", earliest_restore=None)

    response = operator_client.get(OVERVIEW.format("orders-quiet"))
    tasks = operator_client.get(TASKS.format("orders-quiet"))

    html = response.content.decode()
    assert response.status_code == 200
    assert essentials(html, "Restored from").endswith("—")
    assert "Post-restore tasks" not in html
    assert tasks.status_code == 200


def test_an_earlier_group_of_the_same_name_does_not_take_a_later_restores_lineage(
    operator_client, portal_arm, restore_custom
):
    source = portal_arm.cluster(SUB_A, "rg-prod", "orders")
    operation = restore_custom("orders-pitr", source.earliest_restore + timedelta(days=1))
    made_again = portal_arm.cluster(SUB_A, "rg-prod", "orders-pitr")
    made_again.created_at = operation.finished_at + timedelta(days=3)

    html = operator_client.get(OVERVIEW.format("orders-pitr")).content.decode()

    assert essentials(html, "Restored from").endswith("—")


def test_restore_of_a_fresh_restore_waits_for_azures_earliest_restore_point(
    operator_client, portal_arm, restore_custom
):
    source = portal_arm.cluster(SUB_A, "rg-prod", "orders")
    restore_custom("orders-pitr", source.earliest_restore + timedelta(days=1))
    reason = (
        "Azure has not reported an earliest restore point for this cluster yet; "
        "restore becomes available when it does."
    )

    html = operator_client.get(OVERVIEW.format("orders-pitr")).content.decode()
    refused = operator_client.get("/servergroups/azure/orders-pitr/restore/")

    assert f"Restore is not available: {reason}" in html
    assert "no completed backup" not in html
    assert refused.status_code == 409 and reason in refused.content.decode()


def test_an_all_digit_name_is_refused_before_any_request(
    operator_client, portal_arm, django_capture_on_commit_callbacks
):
    checked = operator_client.get(RESTORE_URL + "check-name/", {"target_name": "12345"})
    with django_capture_on_commit_callbacks(execute=True):
        posted = operator_client.post(
            RESTORE_URL, {**details_form(operator_client), "target_name": "12345"}
        )

    message = "&#x27;12345&#x27; is not a valid server group name: Azure refuses a name of digits"
    assert message in checked.content.decode()
    assert posted.status_code == 200 and message in posted.content.decode()
    assert not portal_arm.requests_to("POST", "checkNameAvailability")
    assert not restore_puts(portal_arm)
    assert not RestoreOperation.objects.exists()
