"""services.restore_operation_run: a restore as the worker runs it, to success or failure."""

import pytest

from portal.models import ActivityEvent, Notification
from restore_wizard.models import RestoreOperation

from .conftest import SUB_A

pytestmark = pytest.mark.django_db

ARM_MESSAGE = (
    "The restore could not be completed because the source server group's storage "
    "was unavailable. Tracking ID: '9c2e41d0'"
)


def test_failed_azure_restore_keeps_arms_message_word_for_word(
    operator_client, operator, azure, restore_into
):
    azure.plan_restore("orders-bad", in_progress=1, error=("InternalServerError", ARM_MESSAGE))

    operation = restore_into("orders-bad")

    assert operation.status == RestoreOperation.Status.FAILED
    assert operation.message == (
        f"Azure could not restore into orders-bad: InternalServerError: {ARM_MESSAGE}"
    )
    assert (
        operation.cleanup == "Deleted the failed server group orders-bad in resource group rg-prod."
    )
    assert azure.cluster(SUB_A, "rg-prod", "orders-bad") is None
    failure = Notification.objects.get(user=operator, level=Notification.Level.ERROR)
    assert failure.title == "Restore of orders to orders-bad failed"
    assert failure.body == operation.message
    assert failure.link == f"/operations/{operation.pk}/"
    event = ActivityEvent.objects.get(action="restore", result="failed")
    assert event.message == operation.message and event.target == "orders-bad"


def test_operation_page_shows_the_failure_and_the_cleanup(operator_client, azure, restore_into):
    azure.plan_restore("orders-bad", in_progress=0, error=("Conflict", ARM_MESSAGE))
    operation = restore_into("orders-bad")

    html = operator_client.get(f"/operations/{operation.pk}/").content.decode()

    assert "The restore failed." in html
    assert "Tracking ID: &#x27;9c2e41d0&#x27;" in html
    assert "Deleted the failed server group orders-bad" in html
    assert "The source server group was only read; it is unchanged." in html


def test_successful_restore_records_phase_nodes_and_point(azure, source, restore_into):
    operation = restore_into("orders-ok")

    assert operation.status == RestoreOperation.Status.SUCCEEDED
    assert operation.phase == "Ready"
    assert operation.node_progress == {"orders-ok-c": 100, "orders-ok-w0": 100, "orders-ok-w1": 100}
    assert operation.target_id == source.id.replace("/orders", "/orders-ok")
    assert operation.started_at <= operation.finished_at
    assert operation.attempts == 1


def test_a_second_run_of_a_finished_operation_does_nothing(azure, restore_into):
    from restore_wizard.services.runner import restore_operation_run

    operation = restore_into("orders-ok")

    restore_operation_run(operation_id=operation.pk)

    operation.refresh_from_db()
    assert operation.status == RestoreOperation.Status.SUCCEEDED and operation.attempts == 1
    assert len(azure.requests_to("PUT", "serverGroupsv2/orders-ok$")) == 1
