"""The wizard over a flexible server: the four choices Azure's own page offers."""

import re
from datetime import timedelta

import pytest

from restore_wizard.models import RestoreOperation
from tests.fakes.azure_flexible_arm import SUB_A

from .flexible import DETAILS_URL, RESTORE_URL, SALES_ID, build_flexible_arm, use_flexible

pytestmark = pytest.mark.django_db


@pytest.fixture
def flexible(settings):
    arm = build_flexible_arm()
    use_flexible(settings, arm)
    return arm


def form_for(client, choice: str, **extra) -> dict:
    html = client.get(DETAILS_URL, {"choice": choice}).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)[1]
    return {"choice": choice, "idempotency_key": key, "source_id": SALES_ID, **extra}


def start(client, django_capture_on_commit_callbacks, form) -> RestoreOperation:
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RESTORE_URL, form)
    assert response.status_code == 302, response.content.decode()
    return RestoreOperation.objects.get(target_name=form["target_name"])


def test_step_one_offers_the_flexible_server_choices(operator_client, flexible):
    html = operator_client.get(RESTORE_URL).content.decode()

    assert '<input type="radio" name="choice" value="latest" checked>' in html
    for value in ("custom", "fast", "geo"):
        assert f'<input type="radio" name="choice" value="{value}" >' in html
    assert 'value="earliest"' not in html
    assert "Latest restore point (now)" in html and "Restore to paired region" in html
    assert "restored in northeurope" in html


def test_an_elastic_cluster_without_geo_backup_has_no_paired_region_choice(
    operator_client, flexible
):
    html = operator_client.get("/servergroups/flexible/events/restore/").content.decode()
    assert 'value="geo"' not in html

    response = operator_client.get(
        "/servergroups/flexible/events/restore/details/", {"choice": "geo"}
    )
    assert "Choose a restore point." in response.content.decode()


def test_fast_restore_point_lists_the_full_backups_and_restores_to_one(
    operator_client, flexible, django_capture_on_commit_callbacks
):
    backup = sorted(flexible.server(SUB_A, "rg-prod", "sales").backups, key=lambda b: b[3])[-2]
    html = operator_client.get(DETAILS_URL, {"choice": "fast"}).content.decode()
    assert '<label for="id_backup">Fast restore point</label>' in html
    assert f'value="{backup[3].isoformat()}"' in html

    form = form_for(
        operator_client, "fast", backup=backup[3].isoformat(), target_name="sales-fast",
        location="westeurope",
    )  # fmt: skip
    operation = start(operator_client, django_capture_on_commit_callbacks, form)

    assert operation.status == "succeeded", operation.message
    assert operation.requested_point == backup[3]
    (put,) = flexible.restore_puts()
    assert put.json == {
        "location": "westeurope",
        "properties": {
            "createMode": "PointInTimeRestore",
            "sourceServerResourceId": SALES_ID,
            "pointInTimeUTC": backup[3].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    }


def test_a_fast_point_that_is_no_backup_is_refused_on_the_form(operator_client, flexible):
    backup = flexible.server(SUB_A, "rg-prod", "sales").backups[-1][3]
    form = form_for(
        operator_client, "fast", backup=(backup - timedelta(seconds=1)).isoformat(),
        target_name="sales-fast",
    )  # fmt: skip

    html = operator_client.post(RESTORE_URL, form).content.decode()

    assert "choose one of the backups listed" in html
    assert not flexible.restore_puts()


def test_restore_to_paired_region_shows_and_uses_the_paired_location(
    operator_client, flexible, django_capture_on_commit_callbacks
):
    html = operator_client.get(DETAILS_URL, {"choice": "geo"}).content.decode()
    assert 'id="id_location" name="location" value="northeurope" readonly' in html

    form = form_for(operator_client, "geo", target_name="sales-dr", location="northeurope")
    operation = start(operator_client, django_capture_on_commit_callbacks, form)

    assert operation.status == "succeeded", operation.message
    assert operation.location == "northeurope"
    (put,) = flexible.restore_puts()
    assert put.json["location"] == "northeurope"
    assert put.json["properties"]["createMode"] == "GeoRestore"
    (check,) = flexible.requests_to("POST", "checkNameAvailability")
    assert "/locations/northeurope/" in check.path


def test_latest_restore_point_restores_without_asking_for_a_point(
    operator_client, flexible, django_capture_on_commit_callbacks
):
    form = form_for(operator_client, "latest", target_name="sales-now")
    operation = start(operator_client, django_capture_on_commit_callbacks, form)

    assert operation.status == "succeeded", operation.message
    assert operation.requested_point is None and operation.restored_point is not None
    (put,) = flexible.restore_puts()
    assert put.json["properties"]["createMode"] == "PointInTimeRestore"
    page = operator_client.get(f"/operations/{operation.pk}/").content.decode()
    assert '<p id="operation-progress">sales-now is ready.</p>' in page
    assert re.search(r'<dd id="operation-elapsed">\d+ s</dd>', page)


def test_custom_point_before_the_earliest_is_refused_before_azure_is_asked(
    operator_client, flexible
):
    earliest = flexible.server(SUB_A, "rg-prod", "sales").earliest_restore
    form = form_for(
        operator_client, "custom", point=(earliest - timedelta(seconds=2)).isoformat(),
        target_name="sales-old",
    )  # fmt: skip

    html = operator_client.post(RESTORE_URL, form).content.decode()

    assert "is before the earliest restore point" in html
    assert not flexible.restore_puts()


def test_the_location_cannot_be_moved_by_a_tampered_post(operator_client, flexible):
    form = form_for(operator_client, "latest", target_name="sales-x", location="northeurope")

    html = operator_client.post(RESTORE_URL, form).content.decode()

    assert "Location cannot be changed" in html
    assert not flexible.restore_puts()


def test_the_name_check_follows_the_chosen_region(operator_client, flexible):
    flexible.taken_names.add("sales-dr")

    html = operator_client.get(
        RESTORE_URL + "check-name/", {"target_name": "sales-dr", "choice": "geo"}
    ).content.decode()

    assert "cannot be used in northeurope" in html


def test_list_and_overview_label_each_kind(operator_client, flexible):
    listing = operator_client.get("/").content.decode()
    assert "Elastic cluster · 4 nodes" in listing and "Single server" in listing

    overview = operator_client.get("/servergroups/flexible/sales/").content.decode()
    assert "<dt>Geo-redundant backup</dt><dd>Enabled</dd>" in overview
    assert "<dt>Compute</dt><dd>Standard_D4ds_v5 (GeneralPurpose)</dd>" in overview


def test_post_restore_tasks_copy_firewall_rules_and_link_what_azure_leaves_to_you(
    operator_client, flexible, django_capture_on_commit_callbacks
):
    flexible.server(SUB_A, "rg-prod", "sales").administrators = [
        ("User", "dba@contoso.com", "oooooooo-oooo-oooo-oooo-oooooooooooo")
    ]
    form = form_for(operator_client, "latest", target_name="sales-r")
    start(operator_client, django_capture_on_commit_callbacks, form)
    flexible.server(SUB_A, "rg-prod", "sales-r").administrators = [
        ("User", "dba@contoso.com", "oooooooo-oooo-oooo-oooo-oooooooooooo")
    ]
    url = "/servergroups/flexible/sales-r/post-restore/"

    html = operator_client.get(url).content.decode()

    assert "office: 203.0.113.0 – 203.0.113.255" in html
    assert "dba@contoso.com" in html
    blade = "https://portal.azure.com/#resource" + SALES_ID.replace("/sales", "/sales-r")
    assert f'<a href="{blade}/networking" rel="noopener">' in html
    assert "Re-create read replicas" in html and "Enable high availability" in html

    response = operator_client.post(url + "copy-firewall/")
    assert response.status_code == 302
    assert flexible.server(SUB_A, "rg-prod", "sales-r").firewall_rules == {
        "office": ("203.0.113.0", "203.0.113.255")
    }


def test_a_failed_restore_notifies_with_arms_code_and_message_word_for_word(
    operator_client, operator, flexible, django_capture_on_commit_callbacks
):
    from portal.models import Notification

    flexible.restore_error["sales-bad"] = (
        "InternalServerError",
        "An unexpected error occured while processing the request. Tracking ID: '9d1e'",
    )
    form = form_for(operator_client, "latest", target_name="sales-bad")
    operation = start(operator_client, django_capture_on_commit_callbacks, form)

    assert operation.status == "failed"
    failed = Notification.objects.filter(user=operator).order_by("-pk").first()
    assert failed.title == "Restore of sales to sales-bad failed"
    assert failed.body == (
        "Azure could not restore into sales-bad: InternalServerError: An unexpected error "
        "occured while processing the request. Tracking ID: '9d1e'"
    )
    assert "Nothing to clean up: Azure has no server sales-bad." == operation.cleanup


def test_a_fast_restore_whose_worker_died_resumes_the_same_azure_operation(
    operator_client, flexible, django_capture_on_commit_callbacks
):
    """The token the dead worker stored (the poller's continuation token) is all the next
    worker needs: Azure is asked for the restore once, and polled to its end."""
    from django.utils import timezone

    from portal.backends import get_backend
    from portal.backends.base import RestoreRequest
    from restore_wizard.services.operations import STALE_AFTER, restore_operations_recover

    backup = flexible.server(SUB_A, "rg-prod", "sales").backups[-1][3]
    form = form_for(operator_client, "fast", backup=backup.isoformat(), target_name="sales-orphan")
    with django_capture_on_commit_callbacks(execute=False):
        operator_client.post(RESTORE_URL, form)
    operation = RestoreOperation.objects.get(target_name="sales-orphan")
    assert operation.requested_point == backup
    token = get_backend("flexible").begin_restore(
        RestoreRequest(SALES_ID, "sales-orphan", backup, choice="fast")
    )
    RestoreOperation.objects.filter(pk=operation.pk).update(
        status="running",
        token=token,
        attempts=1,
        started_at=timezone.now() - timedelta(minutes=5),
        heartbeat_at=timezone.now() - STALE_AFTER - timedelta(seconds=1),
    )

    assert restore_operations_recover() == [operation.pk]

    operation.refresh_from_db()
    assert operation.status == "succeeded" and operation.attempts == 2
    assert operation.restored_point == backup
    assert len(flexible.restore_puts()) == 1
    assert flexible.server(SUB_A, "rg-prod", "sales-orphan").state == "Ready"


def test_step_2_gives_what_azure_documents_about_the_time_and_no_figure(operator_client, flexible):
    html = operator_client.get(
        "/servergroups/flexible/sales/restore/estimate/",
        {"choice": "latest"},
    ).content.decode()

    assert "Azure restores" in html
    assert "documentation says minutes to hours" in html
    assert "to unpack" not in html
