"""restore_wizard.views.operations: an operation that does not exist is a 404, and the
cancel page refuses a viewer with the operators' message, naming the restore."""

from datetime import timedelta

from django.utils import timezone

from portal.models import ActivityEvent
from restore_wizard.models import RestoreOperation


def running(user) -> RestoreOperation:
    return RestoreOperation.objects.create(
        backend="local", source_id="src", source_name="ledger", target_name="ledger-copy",
        choice="earliest", subscription="s", resource_group="r", location="l",
        created_by=user, status="running", phase="restoring",
        started_at=timezone.now() - timedelta(seconds=5), heartbeat_at=timezone.now(),
    )  # fmt: skip


def test_an_operation_that_does_not_exist_is_a_404(operator_client):
    assert operator_client.get("/operations/999999/").status_code == 404
    assert operator_client.get("/operations/999999/cancel/").status_code == 404


def test_a_viewer_sees_why_cancel_is_refused_on_a_page_naming_the_restore(viewer_client, operator):
    operation = running(operator)

    shown = viewer_client.get(f"/operations/{operation.pk}/cancel/")
    posted = viewer_client.post(f"/operations/{operation.pk}/cancel/")

    for response in (shown, posted):
        assert response.status_code == 403
        assert "may cancel restores" in response.text and "ledger-copy" in response.text
    operation.refresh_from_db()
    assert operation.status == "running"
    # Only the attempt to change something is logged as refused.
    refused = ActivityEvent.objects.filter(action="cancel restore", result="refused")
    assert refused.count() == 1
