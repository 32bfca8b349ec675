import json
from datetime import UTC, datetime, timedelta

import pytest

from portal.backends.azure import AzureBackend
from portal.backends.base import BackendError, RestoreRequest
from tests.fakes.azure_arm import SUB_A, FakeArm

ARM_FAILURE = (
    "InternalServerError",
    "An unexpected error occured while processing the request. Tracking ID: '3f1c'",
)


def restore_body(arm, name):
    (put,) = arm.requests_to("PUT", f"/serverGroupsv2/{name}$")
    return put.json


def test_earliest_choice_sends_the_clusters_earliest_restore_time(arm, make_backend, orders):
    orders.earliest_restore = datetime.now(UTC).replace(microsecond=123456) - timedelta(days=3)

    make_backend().begin_restore(RestoreRequest(orders.id, "orders-early", None))

    assert restore_body(arm, "orders-early") == {
        "location": "westeurope",
        "properties": {
            "sourceResourceId": orders.id,
            "sourceLocation": "westeurope",
            "pointInTimeUTC": orders.earliest_restore.strftime("%Y-%m-%dT%H:%M:%S.123456Z"),
        },
    }


def test_custom_choice_sends_the_chosen_point(arm, make_backend, orders):
    point = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)

    make_backend().begin_restore(RestoreRequest(orders.id, "orders-five", point))

    body = restore_body(arm, "orders-five")
    assert body["properties"]["pointInTimeUTC"] == point.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert body["properties"]["sourceResourceId"] == orders.id
    assert body["properties"]["sourceLocation"] == "westeurope"


def test_point_outside_the_window_is_refused_before_azure_is_asked(arm, make_backend, orders):
    too_early = orders.earliest_restore - timedelta(minutes=1)

    with pytest.raises(BackendError) as caught:
        make_backend().begin_restore(RestoreRequest(orders.id, "orders-old", too_early))

    assert "outside the restore window" in caught.value.message
    assert not arm.requests_to("PUT", "orders-old")


def test_token_holds_what_resuming_needs_and_no_credential(arm, make_backend, orders, credential):
    token = make_backend().begin_restore(RestoreRequest(orders.id, "orders-r", None))

    state = json.loads(token)
    assert state["subscription"] == orders.subscription
    assert state["resource_group"] == "rg-prod" and state["name"] == "orders-r"
    assert state["continuation_token"]
    assert credential.TOKEN not in token
    # begin_restore only submits: nothing polls the operation yet.
    assert not arm.requests_to("GET", "azureAsyncOperation")


def test_polling_goes_from_in_progress_to_succeeded(arm, make_backend, orders):
    arm.plan_restore("orders-r", in_progress=3)
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))
    reports = []

    result = backend.wait_restore(token, reports.append)

    assert [p.phase for p in reports] == [
        "Submitted", "Restoring", "Restoring", "Restoring", "Succeeded",
    ]  # fmt: skip
    assert reports[-1].nodes == {"orders-r-c": 100, "orders-r-w0": 100, "orders-r-w1": 100}
    assert len(arm.requests_to("GET", "azureAsyncOperation")) == 4
    assert result.target_name == "orders-r"
    assert result.target_id == orders.id.replace("/orders", "/orders-r")
    assert result.point_in_time == orders.earliest_restore
    (put,) = arm.requests_to("PUT", "/serverGroupsv2/orders-r$")
    assert put.status == 201  # ClusterCreatePITR.json and the recorded exchange
    restored = backend.get_server_group(result.target_id)
    assert restored.status == "Ready"
    assert restored.coordinator_host == "c.orders-r.postgres.database.azure.com"


def test_a_restored_cluster_is_what_real_azure_answers(arm, make_backend, orders):
    # The recorded exchange: no source, no point, no earliest restore point, even when Ready.
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))
    result = backend.wait_restore(token, lambda progress: None)

    restored = backend.get_server_group(result.target_id)

    assert restored.restored_from == "" and restored.restore_point is None
    assert restored.earliest_restore is None
    assert backend.restore_blocker(restored).startswith(
        "Azure has not reported an earliest restore point for this cluster yet"
    )
    arm.report_earliest_restore(arm.cluster(SUB_A, "rg-prod", "orders-r"), datetime.now(UTC))
    assert backend.restore_blocker(backend.get_server_group(result.target_id)) is None


def test_the_new_group_shows_as_provisioning_while_azure_works(arm, make_backend, orders):
    backend = make_backend(cache_seconds=0)
    backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))

    statuses = {g.name: g.status for g in backend.list_server_groups()}

    assert statuses == {"orders": "Ready", "orders-r": "Provisioning"}


def test_a_cluster_that_names_its_source_shows_as_restoring(credential):
    arm = FakeArm(lineage="example")  # ClusterCreatePITR.json names the source
    orders = arm.add_cluster(SUB_A, "rg-prod", "orders")
    backend = AzureBackend(
        subscription_ids=[SUB_A], credential=credential, transport=arm, cache_seconds=0
    )
    backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))

    statuses = {g.name: g.status for g in backend.list_server_groups()}

    assert statuses == {"orders": "Ready", "orders-r": "Restoring"}


def test_failed_operation_reaches_the_user_word_for_word(arm, make_backend, orders):
    arm.plan_restore("orders-r", in_progress=1, error=ARM_FAILURE)
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))

    with pytest.raises(BackendError) as caught:
        backend.wait_restore(token, lambda progress: None)

    assert caught.value.code == "InternalServerError"
    assert caught.value.message == (
        "Azure could not restore into orders-r: InternalServerError: "
        "An unexpected error occured while processing the request. Tracking ID: '3f1c'"
    )


def test_abandoning_a_failed_restore_deletes_the_failed_cluster(arm, make_backend, orders):
    arm.plan_restore("orders-r", error=ARM_FAILURE)
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))
    with pytest.raises(BackendError):
        backend.wait_restore(token, lambda progress: None)

    said = backend.abandon_restore(token)

    assert said == "Deleted the failed server group orders-r in resource group rg-prod."
    (delete,) = arm.requests_to("DELETE", "orders-r$")
    assert delete.status == 202  # ClusterDelete.json
    assert arm.cluster(orders.subscription, "rg-prod", "orders-r") is None


def test_abandoning_when_azure_kept_nothing_deletes_nothing(arm, make_backend, orders):
    arm.plan_restore("orders-r", error=ARM_FAILURE, keep_failed_cluster=False)
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))
    with pytest.raises(BackendError):
        backend.wait_restore(token, lambda progress: None)

    assert backend.abandon_restore(token) == (
        "Nothing to clean up: Azure has no server group orders-r."
    )
    assert not arm.requests_to("DELETE", "orders-r")


def test_abandoning_a_running_restore_leaves_it_alone(arm, make_backend, orders):
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))

    assert "Left orders-r in place" in backend.abandon_restore(token)
    assert not arm.requests_to("DELETE", "orders-r")


def test_restore_resumes_after_a_restart_with_a_new_backend(arm, make_backend, orders):
    arm.plan_restore("orders-r", in_progress=2)
    token = make_backend().begin_restore(RestoreRequest(orders.id, "orders-r", None))
    stored = json.loads(json.dumps(token))  # what the operation row keeps

    after_restart = make_backend()
    result = after_restart.wait_restore(stored, lambda progress: None)

    assert result.target_name == "orders-r"
    assert arm.cluster(orders.subscription, "rg-prod", "orders-r").state == "Ready"
    assert len(arm.requests_to("PUT", "orders-r")) == 1


def test_resume_after_the_operation_expired_reads_the_cluster(arm, make_backend, orders):
    arm.plan_restore("orders-r", in_progress=0)
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))
    backend.wait_restore(token, lambda progress: None)
    arm.operations.clear()

    result = make_backend().wait_restore(token, lambda progress: None)

    assert result.target_name == "orders-r"


def test_unreadable_token_is_a_clear_error(make_backend):
    with pytest.raises(BackendError) as caught:
        make_backend().wait_restore("not json", lambda progress: None)

    assert caught.value.message == "This restore's Azure token is unreadable."


def test_restore_onto_an_existing_name_is_a_conflict(arm, make_backend, orders):
    arm.add_cluster(orders.subscription, "rg-prod", "orders-r")

    with pytest.raises(BackendError) as caught:
        make_backend().begin_restore(RestoreRequest(orders.id, "orders-r", None))

    assert caught.value.code == "ServerGroupNameAlreadyExists"
    assert "Server group name 'orders-r' already exists." in caught.value.message
