"""The operation page's figures (a bar per node, the group's time left, elapsed time),
the same bars in the bell and on Backup and restore, Azure's plain words, and who may
cancel a restore."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.models import ActivityEvent
from restore_wizard.models import RestoreOperation
from restore_wizard.services.checks import RestoreRefused
from restore_wizard.services.operations import restore_operation_cancel

pytestmark = pytest.mark.django_db

MB = 1024 * 1024

FIGURES = {
    "nodes": {
        "coordinator": {
            "phase": "replaying", "percent": 70, "bytes_done": 32 * MB, "bytes_total": 32 * MB,
            "wal_done": 300 * MB, "wal_total": 600 * MB, "rate": 150 * MB, "seconds_left": 2.5,
        },
        "worker-1": {
            "phase": "unpacking", "percent": 20, "bytes_done": 10 * MB, "bytes_total": 50 * MB,
            "wal_done": 0, "wal_total": 700 * MB, "rate": 40 * MB, "seconds_left": 75.0,
        },
    },
    "seconds_left": 75.0,
    "coarse": False,
}  # fmt: skip


@pytest.fixture
def local(settings, tmp_path):
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(tmp_path / "localcloud")},
        }
    }


def operation(
    user=None, *, backend="local", status="running", phase="restoring", **fields
) -> RestoreOperation:
    return RestoreOperation.objects.create(
        backend=backend, source_id="src", source_name="src", target_name="src-r",
        choice="earliest", subscription="s", resource_group="r", location="l",
        created_by=user, status=status, phase=phase,
        started_at=timezone.now() - timedelta(seconds=95), heartbeat_at=timezone.now(),
        **fields,
    )  # fmt: skip


def test_operation_page_shows_a_bar_per_node_the_time_left_and_elapsed(
    local, operator, operator_client
):
    running = operation(operator, progress=FIGURES, node_progress={"coordinator": 70})

    page = operator_client.get(f"/operations/{running.pk}/").content.decode()
    poll = operator_client.get(f"/operations/{running.pk}/", headers={"HX-Request": "true"})

    for html in (page, poll.content.decode()):
        assert '<progress max="100" value="70" aria-label="coordinator">' in html
        assert '<progress max="100" value="20" aria-label="worker-1">' in html
        assert "Replaying WAL" in html and "Unpacking the backup" in html
        # filesizeformat keeps number and unit together with a no-break space.
        assert "300.0\xa0MB of 600.0\xa0MB" in html and "10.0\xa0MB of 50.0\xa0MB" in html
        assert "150.0\xa0MB/s" in html
        assert '<dd id="operation-left">1 min 15 s</dd>' in html
        assert '<dd id="operation-elapsed">1 min 3' in html
        # Times keep the hook the script uses to add the local time after each swap.
        assert "data-local-time" in html
        assert "style=" not in html
    assert poll.status_code == 200 and 'hx-trigger="every' in poll.content.decode()


def test_finished_operation_shows_full_bars_and_stops_polling(local, operator, operator_client):
    done = operation(operator, status="succeeded", progress=FIGURES, finished_at=timezone.now())

    poll = operator_client.get(f"/operations/{done.pk}/", headers={"HX-Request": "true"})

    html = poll.content.decode()
    assert poll.status_code == 286 and "hx-trigger" not in html
    assert '<dd id="operation-left">—</dd>' in html
    assert 'id="cancel-restore"' not in html
    late = operator_client.post(f"/operations/{done.pk}/cancel/", follow=True)
    assert "has already ended (succeeded)" in late.content.decode()
    done.refresh_from_db()
    assert done.status == "succeeded" and done.cancel_requested_at is None


def test_azure_operation_says_azure_reports_only_its_state(settings, operator, operator_client):
    from .conftest import build_arm, use_azure

    use_azure(settings, build_arm())
    running = operation(
        operator, backend="azure", phase="Restoring",
        progress={"nodes": {}, "coarse": True, "message": "Azure reports the restore InProgress"},
    )  # fmt: skip

    html = operator_client.get(f"/operations/{running.pk}/").content.decode()

    assert "Azure reports no finer progress than its state" in html
    assert "<progress" not in html
    assert '<dd id="operation-elapsed">1 min 3' in html
    # Azure cannot stop a restore it has accepted: no Cancel to press, and the command
    # line's cancel is refused in words.
    assert 'id="cancel-restore"' not in html
    with pytest.raises(RestoreRefused, match="cannot stop a restore once it has begun"):
        restore_operation_cancel(operation_id=running.pk, user=operator)
    running.refresh_from_db()
    assert running.status == "running" and running.cancel_requested_at is None


def test_operator_sees_cancel_and_cancels_a_queued_restore(local, operator, operator_client):
    queued = operation(operator, status="queued")

    page = operator_client.get(f"/operations/{queued.pk}/").content.decode()
    confirm = operator_client.get(f"/operations/{queued.pk}/cancel/").content.decode()
    done = operator_client.post(f"/operations/{queued.pk}/cancel/")

    assert 'id="cancel-restore"' in page
    assert "Cancel the restore" in confirm and "Keep it running" in confirm
    assert done.status_code == 302
    queued.refresh_from_db()
    assert queued.status == "cancelled" and queued.cancelled_by == operator
    assert queued.message.startswith("Cancelled by olivia at ") and " UTC" in queued.message
    assert ActivityEvent.objects.filter(
        action="cancel restore", actor=operator, result="succeeded", target="src-r"
    ).exists()
    html = operator_client.get(f"/operations/{queued.pk}/").content.decode()
    assert "The restore was cancelled." in html and "Cancelled by olivia at" in html


def test_viewer_may_not_cancel(local, operator, viewer_client):
    running = operation(operator)

    page = viewer_client.get(f"/operations/{running.pk}/").content.decode()
    confirm = viewer_client.get(f"/operations/{running.pk}/cancel/")
    refused = viewer_client.post(f"/operations/{running.pk}/cancel/")

    assert 'id="cancel-restore"' not in page
    assert confirm.status_code == refused.status_code == 403
    assert "Restore operators" in refused.content.decode()
    running.refresh_from_db()
    assert running.status == "running" and running.cancel_requested_at is None
    assert ActivityEvent.objects.filter(action="cancel restore", result="refused").count() == 1


def test_bell_shows_running_restores_with_their_bars_to_operators(
    local, operator, operator_client, viewer, client
):
    operation(None, started_by_name="postgres", origin="cli", progress=FIGURES)

    panel = operator_client.get("/notifications/", headers={"HX-Request": "true"}).content.decode()
    poll = operator_client.get("/operations/running/", headers={"HX-Request": "true"})

    assert "Running restores" in panel and "started by postgres" in panel
    assert '<progress max="100" value="70" aria-label="coordinator">' in panel
    assert "1 min 15 s left" in panel
    assert poll.status_code == 200 and "src-r" in poll.content.decode()
    client.force_login(viewer)
    assert "Running restores" not in client.get("/notifications/").content.decode()
    RestoreOperation.objects.update(status="succeeded")
    assert operator_client.get("/operations/running/").status_code == 286
