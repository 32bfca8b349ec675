import json
from datetime import UTC, datetime, timedelta

import pytest

from portal.backends.base import BackendError, RestoreRequest

SOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-prod"
    "/providers/Microsoft.DBforPostgreSQL/flexibleServers/sales"
)


def put_body(arm, name):
    (put,) = arm.requests_to("PUT", f"/flexibleServers/{name}$")
    assert put.status == 202  # ServersCreatePointInTimeRestore.json: 202, no body
    return put.json


def wire(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def test_latest_restore_point_sends_now(arm, backend, sales):
    before = datetime.now(UTC)
    backend.begin_restore(RestoreRequest(sales.id, "sales-now", None, choice="latest"))
    after = datetime.now(UTC)

    body = put_body(arm, "sales-now")
    sent = datetime.fromisoformat(body["properties"].pop("pointInTimeUTC").replace("Z", "+00:00"))
    assert before <= sent <= after
    assert body == {
        "location": "westeurope",
        "properties": {"createMode": "PointInTimeRestore", "sourceServerResourceId": SOURCE_ID},
    }


def test_custom_restore_point_sends_the_chosen_point(arm, backend, sales):
    point = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=250000)

    backend.begin_restore(RestoreRequest(sales.id, "sales-five", point, choice="custom"))

    assert put_body(arm, "sales-five") == {
        "location": "westeurope",
        "properties": {
            "createMode": "PointInTimeRestore",
            "sourceServerResourceId": SOURCE_ID,
            "pointInTimeUTC": wire(point),
        },
    }


def test_fast_restore_point_sends_the_backups_completion_time(arm, backend, sales):
    backup = backend.restore_backups(sales.id)[1]

    token = backend.begin_restore(
        RestoreRequest(sales.id, "sales-fast", backup.completed, choice="fast")
    )

    assert put_body(arm, "sales-fast") == {
        "location": "westeurope",
        "properties": {
            "createMode": "PointInTimeRestore",
            "sourceServerResourceId": SOURCE_ID,
            "pointInTimeUTC": wire(backup.completed),
        },
    }
    assert "replays no WAL" in json.loads(token)["estimate"]


def test_fast_restore_point_must_be_a_backup(arm, backend, sales):
    not_a_backup = backend.restore_backups(sales.id)[0].completed - timedelta(seconds=1)

    with pytest.raises(BackendError) as caught:
        backend.begin_restore(RestoreRequest(sales.id, "sales-fast", not_a_backup, choice="fast"))

    assert "is not the completion time of a full backup of sales" in caught.value.message
    assert not arm.restore_puts()


def test_restore_to_paired_region_sends_georestore_in_the_paired_region(arm, backend, sales):
    backend.begin_restore(RestoreRequest(sales.id, "sales-dr", None, choice="geo"))

    body = put_body(arm, "sales-dr")
    body["properties"].pop("pointInTimeUTC")
    assert body == {
        "location": "northeurope",
        "properties": {"createMode": "GeoRestore", "sourceServerResourceId": SOURCE_ID},
    }


def test_geo_restore_without_geo_redundant_backup_is_refused_before_the_call(arm, backend, events):
    with pytest.raises(BackendError) as caught:
        backend.begin_restore(RestoreRequest(events.id, "events-dr", None, choice="geo"))

    assert caught.value.message == (
        "events cannot be restored to its paired region: its backups are not geo-redundant. "
        "Geo-redundant backup can only be chosen when a server is created."
    )
    assert not arm.restore_puts()


def test_geo_restore_azure_refuses_reaches_the_user(arm, backend, sales):
    # Geo-backups not copied yet (Azure's documented error text): ARM refuses the PUT.
    arm.script(
        "PUT", "flexibleServers/sales-dr$", status=400,
        body={"error": {"code": "GeoBackupsNotAvailable", "message":
              "Unable to geo-restore server sales as its geo-backups aren't available yet."}},
    )  # fmt: skip

    with pytest.raises(BackendError) as caught:
        backend.begin_restore(RestoreRequest(sales.id, "sales-dr", None, choice="geo"))

    assert caught.value.message == (
        "Could not start restoring sales into sales-dr in northeurope: Azure answered 400 "
        "GeoBackupsNotAvailable: Unable to geo-restore server sales as its geo-backups "
        "aren't available yet."
    )


def test_point_before_the_earliest_restore_date_is_refused_before_the_call(arm, backend, sales):
    too_early = sales.earliest_restore - timedelta(microseconds=1)

    with pytest.raises(BackendError) as caught:
        backend.begin_restore(RestoreRequest(sales.id, "sales-old", too_early, choice="custom"))

    assert "is outside the restore window of sales" in caught.value.message
    assert not arm.restore_puts()


def test_azure_answers_internal_server_error_for_a_point_before_the_earliest(arm, backend, sales):
    # What the portal protects the DBA from: Azure's own answer, asked directly.
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.postgresqlflexibleservers import models as m

    client = backend._client(sales.subscription)
    body = m.Server(
        location="westeurope",
        properties=m.ServerProperties(
            create_mode="PointInTimeRestore",
            source_server_resource_id=sales.id,
            point_in_time_utc=sales.earliest_restore - timedelta(days=1),
        ),
    )
    with pytest.raises(HttpResponseError) as caught:
        client.servers.begin_create_or_update("rg-prod", "sales-old", body).result()

    assert caught.value.status_code == 500
    assert caught.value.error.code == "InternalServerError"


def test_polling_goes_to_success(arm, backend, sales):
    arm.in_progress = 3
    token = backend.begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))
    reports = []

    result = backend.wait_restore(token, reports.append)

    assert [p.phase for p in reports] == [
        "Submitted", "Restoring", "Restoring", "Restoring", "Succeeded",
    ]  # fmt: skip
    assert reports[0].message.startswith("Azure accepted the restore and reports no progress.")
    assert "of WAL" in reports[0].message and "128 GiB" in reports[0].message
    assert reports[1].message.startswith("Azure reports the restore InProgress (check 1); ")
    assert "the new server is " in reports[1].message and "of WAL" in reports[1].message
    assert result.target_id == SOURCE_ID.replace("/sales", "/sales-r")
    assert backend.get_server_group(result.target_id).status == "Ready"
    assert len(arm.requests_to("GET", "azureAsyncOperation")) == 4


def test_polling_to_failure_keeps_arms_words(arm, backend, sales):
    arm.restore_error["sales-r"] = ("InternalServerError", "Restore failed. Tracking ID: '7a2c'")
    token = backend.begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))

    with pytest.raises(BackendError) as caught:
        backend.wait_restore(token, lambda progress: None)

    assert caught.value.code == "InternalServerError"
    assert caught.value.message == (
        "Azure could not restore into sales-r: InternalServerError: "
        "Restore failed. Tracking ID: '7a2c'"
    )
    assert backend.abandon_restore(token) == "Nothing to clean up: Azure has no server sales-r."


def test_restore_resumes_after_a_worker_restart(arm, make_backend, sales):
    arm.in_progress = 2
    token = make_backend().begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))
    state = json.loads(token)
    assert state["continuation_token"] and "fake-arm-token" not in token
    assert not arm.requests_to("GET", "azureAsyncOperation")  # begin only submits

    result = make_backend().wait_restore(token, lambda progress: None)

    assert result.target_name == "sales-r"
    assert len(arm.restore_puts()) == 1
    assert arm.server(sales.subscription, "rg-prod", "sales-r").state == "Ready"


def test_name_check_asks_azure_in_the_region(arm, backend, sales):
    assert backend.name_available("sales-new", "westeurope") is None
    (check,) = arm.requests_to("POST", "/locations/westeurope/checkNameAvailability$")
    assert check.json == {"name": "sales-new", "type": "Microsoft.DBforPostgreSQL/flexibleServers"}


def test_without_a_region_the_name_is_checked_globally(arm, backend, sales):
    arm.taken_names.add("sales-copy")

    assert backend.name_available("sales-copy") == (
        "The name 'sales-copy' cannot be used in Azure: "
        "Specified server name 'sales-copy' is already used."
    )
    (check,) = arm.requests_to("POST", "checkNameAvailability")
    assert check.path.endswith("/providers/Microsoft.DBforPostgreSQL/checkNameAvailability")


def test_name_taken_in_the_region_is_said(arm, backend, sales):
    arm.taken_names.add("sales-copy")

    said = backend.name_available("sales-copy", "westeurope")

    assert said == (
        "The name 'sales-copy' cannot be used in westeurope: "
        "Specified server name 'sales-copy' is already used."
    )


def test_a_name_azure_would_refuse_is_refused_without_asking(arm, backend):
    assert "is not a valid server name" in backend.name_available("-bad", "westeurope")
    assert "is not a valid server name" in backend.name_available("Sales", "westeurope")
    assert not arm.requests_to("POST", "checkNameAvailability")


def test_a_taken_name_at_restore_time_is_a_conflict(arm, backend, sales):
    arm.taken_names.add("sales-r")

    with pytest.raises(BackendError) as caught:
        backend.begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))

    assert caught.value.code == "ServerNameAlreadyExists"
    assert "Azure answered 409 ServerNameAlreadyExists" in caught.value.message


def test_resume_after_the_operation_expired_reads_the_server(arm, make_backend, sales):
    arm.in_progress = 0
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))
    backend.wait_restore(token, lambda progress: None)
    arm.operations.clear()  # Azure forgets finished operations after a while

    result = make_backend().wait_restore(token, lambda progress: None)

    assert result.target_name == "sales-r"
