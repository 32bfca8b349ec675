"""services.restore_operations_recover: restores whose worker died go back to a worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.backends import get_backend
from portal.backends.base import RestoreRequest
from restore_wizard.models import RestoreOperation
from restore_wizard.services.operations import MAX_ATTEMPTS, STALE_AFTER, restore_operations_recover

from .conftest import SUB_A

pytestmark = pytest.mark.django_db


@pytest.fixture
def orphan(operator_client, azure, source, django_capture_on_commit_callbacks):
    """A restore Azure accepted, whose worker then died (no heartbeat since)."""
    from .conftest import RESTORE_URL, details_form

    form = {**details_form(operator_client), "target_name": "orders-orphan"}
    with django_capture_on_commit_callbacks(execute=False):
        operator_client.post(RESTORE_URL, form)
    token = get_backend("azure").begin_restore(RestoreRequest(source.id, "orders-orphan", None))
    operation = RestoreOperation.objects.get()
    RestoreOperation.objects.filter(pk=operation.pk).update(
        status="running",
        token=token,
        attempts=1,
        started_at=timezone.now() - timedelta(minutes=5),
        heartbeat_at=timezone.now() - STALE_AFTER - timedelta(seconds=1),
    )
    return operation


def test_stale_running_operation_is_requeued_and_resumed(azure, orphan):
    handed_back = restore_operations_recover()

    assert handed_back == [orphan.pk]
    orphan.refresh_from_db()
    # The immediate task backend resumed it at once, polling the same Azure operation.
    assert orphan.status == RestoreOperation.Status.SUCCEEDED
    assert orphan.attempts == 2
    assert len(azure.requests_to("PUT", "serverGroupsv2/orders-orphan$")) == 1
    assert azure.cluster(SUB_A, "rg-prod", "orders-orphan").state == "Ready"


def test_stale_operation_is_requeued_for_the_next_worker(settings, azure, orphan):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}

    assert restore_operations_recover() == [orphan.pk]

    orphan.refresh_from_db()
    assert orphan.status == RestoreOperation.Status.QUEUED
    assert orphan.phase == "Waiting for a worker to resume"


def test_operation_with_a_fresh_heartbeat_is_left_alone(azure, orphan):
    beat = timezone.now()
    RestoreOperation.objects.filter(pk=orphan.pk).update(heartbeat_at=beat)

    # The watchdog's clock just short of stale, however long this test took to get here.
    assert restore_operations_recover(now=beat + STALE_AFTER - timedelta(seconds=1)) == []

    orphan.refresh_from_db()
    assert orphan.status == RestoreOperation.Status.RUNNING


def test_operation_is_failed_after_max_attempts(operator, azure, orphan):
    RestoreOperation.objects.filter(pk=orphan.pk).update(attempts=MAX_ATTEMPTS)

    assert restore_operations_recover() == []

    orphan.refresh_from_db()
    assert orphan.status == RestoreOperation.Status.FAILED
    assert orphan.message == (
        f"The task worker stopped {MAX_ATTEMPTS} times during this restore; the portal gave up."
    )
    # Azure still reports the restore running, so the portal leaves the group in place.
    assert orphan.cleanup.startswith("Left orders-orphan in place")
    assert operator.notifications.filter(level="error").count() == 1
