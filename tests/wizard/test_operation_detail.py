"""The operation page: full page without JS, a polled partial that stops when done."""

import pytest

from restore_wizard.models import RestoreOperation

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(operator_client, azure, django_capture_on_commit_callbacks):
    from .conftest import RESTORE_URL, details_form

    form = {**details_form(operator_client), "target_name": "orders-q"}
    with django_capture_on_commit_callbacks(execute=False):
        operator_client.post(RESTORE_URL, form)
    return RestoreOperation.objects.get()


def test_running_operation_partial_keeps_polling(operator_client, queued):
    RestoreOperation.objects.filter(pk=queued.pk).update(status="running", phase="Restoring")

    response = operator_client.get(f"/operations/{queued.pk}/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="operation-status"')
    assert 'hx-trigger="every 2.0s"' in html
    assert "Restoring" in html


def test_finished_operation_partial_answers_286_to_stop_polling(operator_client, restore_into):
    operation = restore_into("orders-done")

    response = operator_client.get(f"/operations/{operation.pk}/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 286
    assert "hx-trigger" not in html
    assert "Succeeded" in html and "orders-done is ready." in html


def test_operation_page_without_htmx_is_a_whole_page(operator_client, queued):
    response = operator_client.get(f"/operations/{queued.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and "Restore of orders to orders-q" in html
    assert "Queued" in html and "Earliest restore point" in html


def test_succeeded_operation_links_to_the_new_group_and_its_tasks(operator_client, restore_into):
    operation = restore_into("orders-done")

    html = operator_client.get(f"/operations/{operation.pk}/").content.decode()

    assert 'href="/servergroups/azure/orders-done/"' in html
    assert 'href="/servergroups/azure/orders-done/post-restore/"' in html


def test_operation_list_shows_each_operation(operator_client, queued):
    html = operator_client.get("/operations/").content.decode()

    assert f'href="/operations/{queued.pk}/"' in html and "orders-q" in html


def test_unknown_operation_is_404(operator_client):
    assert operator_client.get("/operations/999999/").status_code == 404
