"""OK on step 2 (POST to the restore URL): one operation, one task, a real restore."""

from datetime import datetime, timedelta

import pytest

from portal.models import ActivityEvent, Notification
from restore_wizard.models import RestoreOperation

from .conftest import RESTORE_URL, SUB_A, details_form, restore_puts

pytestmark = pytest.mark.django_db


def custom_point(source, hours_after_earliest: int = 30) -> datetime:
    return (source.earliest_restore + timedelta(hours=hours_after_earliest)).replace(microsecond=0)


def test_ok_creates_one_operation_and_one_task_then_restores_through_azure(
    operator_client, operator, azure, source, django_capture_on_commit_callbacks
):
    point = custom_point(source)
    form = details_form(operator_client, "custom")
    form.update(point=point.strftime("%Y-%m-%dT%H:%M:%S"), target_name="orders-r1")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = operator_client.post(RESTORE_URL, form)

    assert response.status_code == 302
    assert len(callbacks) == 1
    operation = RestoreOperation.objects.get()
    assert (operation.source_name, operation.target_name) == ("orders", "orders-r1")
    assert operation.requested_point == point
    (put,) = restore_puts(azure)
    assert put.path.endswith(
        "/resourceGroups/rg-prod/providers/Microsoft.DBforPostgreSQL/serverGroupsv2/orders-r1"
    )
    assert put.json == {
        "location": "westeurope",
        "properties": {
            "sourceResourceId": source.id,
            "sourceLocation": "westeurope",
            "pointInTimeUTC": point.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        },
    }
    operation.refresh_from_db()
    assert operation.status == RestoreOperation.Status.SUCCEEDED
    assert operation.restored_point == point
    assert azure.cluster(SUB_A, "rg-prod", "orders-r1").state == "Ready"
    success = Notification.objects.get(user=operator, level=Notification.Level.SUCCESS)
    assert success.link == "/servergroups/azure/orders-r1/"
    assert operator_client.get(success.link).status_code == 200
    events = ActivityEvent.objects.filter(action="restore").order_by("id")
    assert [e.result for e in events] == ["started", "succeeded"]
    for event in events:
        assert event.actor == operator and event.actor_name == "olivia"
        assert event.backend == "azure" and event.target == "orders-r1"
        assert event.detail["source"] == "orders"
        assert event.detail["point"] == point.strftime("%Y-%m-%d %H:%M:%S UTC")
        assert event.detail["target"] == "orders-r1"


def test_earliest_choice_sends_the_clusters_earliest_restore_time(
    operator_client, azure, source, django_capture_on_commit_callbacks
):
    form = details_form(operator_client, "earliest")
    form["target_name"] = "orders-early"

    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(RESTORE_URL, form)

    (put,) = restore_puts(azure)
    assert put.json["properties"]["pointInTimeUTC"] == source.earliest_restore.strftime(
        "%Y-%m-%dT%H:%M:%S.654321Z"
    )
    operation = RestoreOperation.objects.get()
    assert operation.requested_point is None
    assert operation.restored_point == source.earliest_restore
    assert operation.status == RestoreOperation.Status.SUCCEEDED


def test_ok_shows_the_initiated_banner_with_a_link_to_follow(
    operator_client, operator, azure, django_capture_on_commit_callbacks
):
    form = details_form(operator_client)
    form["target_name"] = "orders-r2"

    with django_capture_on_commit_callbacks(execute=False):
        response = operator_client.post(RESTORE_URL, form, follow=True)

    operation = RestoreOperation.objects.get()
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/servergroups/azure/orders/"
    assert "The restore operation has been initiated" in html
    assert f'href="/operations/{operation.pk}/"' in html
    initiated = Notification.objects.get(user=operator)
    assert initiated.title == "The restore operation has been initiated"
    assert initiated.link == f"/operations/{operation.pk}/"


def test_ok_with_htmx_closes_the_wizard_by_client_redirect(
    operator_client, azure, django_capture_on_commit_callbacks
):
    form = details_form(operator_client)
    form["target_name"] = "orders-r3"

    with django_capture_on_commit_callbacks(execute=False):
        response = operator_client.post(RESTORE_URL, form, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/servergroups/azure/orders/"
    assert RestoreOperation.objects.count() == 1


def test_same_idempotency_key_twice_makes_one_operation(
    operator_client, azure, django_capture_on_commit_callbacks
):
    form = details_form(operator_client)
    form["target_name"] = "orders-twice"

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = operator_client.post(RESTORE_URL, form)
        second = operator_client.post(RESTORE_URL, form, follow=True)

    assert first.status_code == 302
    assert len(callbacks) == 1
    operation = RestoreOperation.objects.get()
    assert second.redirect_chain[-1][0] == f"/operations/{operation.pk}/"
    assert "already initiated" in second.content.decode()
    assert len(restore_puts(azure)) == 1


def test_double_click_before_the_restore_runs_makes_one_operation(
    operator_client, azure, django_capture_on_commit_callbacks
):
    form = details_form(operator_client)
    form["target_name"] = "orders-dbl"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = operator_client.post(RESTORE_URL, form, headers={"HX-Request": "true"})
        second = operator_client.post(RESTORE_URL, form, headers={"HX-Request": "true"})

    assert len(callbacks) == 1
    operation = RestoreOperation.objects.get()
    assert first["HX-Redirect"] == "/servergroups/azure/orders/"
    assert second["HX-Redirect"] == f"/operations/{operation.pk}/"
    assert operation.status == RestoreOperation.Status.QUEUED
    assert not restore_puts(azure)


def test_restore_point_at_the_exact_earliest_instant_restores(
    operator_client, azure, source, django_capture_on_commit_callbacks
):
    # Azure's earliest has a fraction of a second; typed to the microsecond, it is valid.
    earliest = source.earliest_restore
    shown = operator_client.get(RESTORE_URL).content.decode()
    assert f'datetime="{earliest.isoformat()}"' in shown
    form = details_form(operator_client, "custom")
    form.update(point=earliest.strftime("%Y-%m-%dT%H:%M:%S.%f"), target_name="orders-edge")

    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(RESTORE_URL, form)

    operation = RestoreOperation.objects.get()
    assert operation.requested_point == earliest
    assert operation.status == RestoreOperation.Status.SUCCEEDED


def test_restore_point_in_the_whole_second_before_the_earliest_is_refused(
    operator_client, azure, source
):
    earliest = source.earliest_restore
    form = details_form(operator_client, "custom")
    form.update(point=earliest.strftime("%Y-%m-%dT%H:%M:%S"), target_name="orders-early")

    html = operator_client.post(RESTORE_URL, form).content.decode()

    assert "is before the earliest restore point" in html
    assert not RestoreOperation.objects.exists()
    assert not restore_puts(azure)
