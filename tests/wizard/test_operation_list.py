"""The Restore operations list: the point's time, links to the groups, and the source's
"initiated" banner that gives way to the outcome."""

from datetime import UTC, datetime

import pytest

from restore_wizard.models import RestoreOperation

pytestmark = pytest.mark.django_db

POINT = datetime(2026, 11, 24, 14, 1, 44, 250000, tzinfo=UTC)


def operation(user, **fields) -> RestoreOperation:
    return RestoreOperation.objects.create(
        backend="azure",
        source_id="orders-id",
        source_name="orders",
        target_name=fields.pop("target_name", "orders-r1"),
        choice=RestoreOperation.Choice.EARLIEST,
        subscription="s",
        resource_group="rg",
        location="westeurope",
        created_by=user,
        **fields,
    )


def test_an_earliest_restore_shows_the_time_it_restored_to(operator_client, operator):
    operation(operator, status=RestoreOperation.Status.SUCCEEDED, restored_point=POINT)

    html = operator_client.get("/operations/").content.decode()

    assert "2026-11-24 14:01:44.250000 UTC" in html
    assert ">Earliest<" not in html


def test_group_names_link_to_their_overviews(operator_client, operator):
    operation(operator, status=RestoreOperation.Status.SUCCEEDED, restored_point=POINT)
    operation(operator, target_name="orders-r2")  # queued: no group to open yet

    html = operator_client.get("/operations/").content.decode()

    assert '<a href="/servergroups/azure/orders/">orders</a>' in html
    assert '<a href="/servergroups/azure/orders-r1/">orders-r1</a>' in html
    assert '<a href="/servergroups/azure/orders-r2/">' not in html


def test_the_initiated_banner_polls_and_gives_way_to_the_outcome(operator_client, operator):
    running = operation(operator, status=RestoreOperation.Status.RUNNING)
    url = f"/operations/{running.pk}/banner/"

    assert operator_client.get(url, headers={"HX-Request": "true"}).status_code == 204

    RestoreOperation.objects.filter(pk=running.pk).update(
        status=RestoreOperation.Status.SUCCEEDED, restored_point=POINT
    )
    response = operator_client.get(url, headers={"HX-Request": "true"})
    html = response.content.decode()

    assert response.status_code == 286  # htmx stops polling
    assert "has been initiated" not in html
    assert "orders-r1 is ready." in html
    assert 'href="/servergroups/azure/orders-r1/post-restore/"' in html


def test_after_ok_the_sources_overview_banner_follows_the_operation(
    operator_client, azure, django_capture_on_commit_callbacks
):
    from .conftest import RESTORE_URL, details_form

    form = {**details_form(operator_client), "target_name": "orders-q"}
    with django_capture_on_commit_callbacks(execute=False):
        response = operator_client.post(RESTORE_URL, form, follow=True)

    queued = RestoreOperation.objects.get()
    html = response.content.decode()
    assert "The restore operation has been initiated: orders to orders-q." in html
    assert f'hx-get="/operations/{queued.pk}/banner/"' in html
