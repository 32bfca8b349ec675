import logging

import pytest
from azure.core.exceptions import ServiceRequestError

from portal.backends.base import BackendError, NotFound, RestoreRequest
from tests.fakes.azure_arm import SUB_A, SUB_B, FakeCredential, arm_error


def failure(backend_call) -> BackendError:
    with pytest.raises(BackendError) as caught:
        backend_call()
    return caught.value


def test_missing_credentials_are_a_clear_message(arm, orders):
    from portal.backends.azure import AzureBackend

    credential = FakeCredential(fail="DefaultAzureCredential failed to retrieve a token.")
    backend = AzureBackend(subscription_ids=[SUB_A], credential=credential, transport=arm)

    error = failure(backend.list_server_groups)

    assert error.message.startswith(
        "Could not list server groups: Azure did not accept the portal's credentials "
        "(DefaultAzureCredential failed to retrieve a token.)."
    )
    assert "AZURE_CLIENT_SECRET" in error.message
    assert error.permanent and error.code == "AuthenticationFailed"


def test_rejected_token_401_is_a_credentials_message(arm, make_backend, orders):
    arm.script(
        "GET", "serverGroupsv2$", status=401,
        body=arm_error("InvalidAuthenticationToken", "The access token is invalid."),
    )  # fmt: skip

    error = failure(make_backend().list_server_groups)

    assert "Azure did not accept the portal's credentials" in error.message
    assert FakeCredential.TOKEN not in error.message


def test_forbidden_subscription_403_names_the_missing_permission(arm, make_backend, orders):
    arm.forbidden.add(SUB_A)

    error = failure(make_backend().list_server_groups)

    assert error.message.startswith(
        f"Could not list server groups in subscription {SUB_A}: Azure denied the portal's "
        "identity access. AuthorizationFailed: The client "
    )
    assert "'Microsoft.DBforPostgreSQL/serverGroupsv2/read'" in error.message
    assert error.code == "AuthorizationFailed" and error.permanent


def test_unknown_subscription_404_is_named(make_backend):
    missing = "00000000-0000-0000-0000-0000000000ff"

    error = failure(make_backend(subscription_ids=[missing]).list_server_groups)

    assert f"subscription {missing} was not found" in error.message
    assert error.code == "SubscriptionNotFound"


def test_one_failing_subscription_does_not_hide_the_others(arm, make_backend, orders):
    arm.add_cluster(SUB_B, "rg", "billing")
    arm.forbidden.add(SUB_B)
    backend = make_backend(subscription_ids=[SUB_A, SUB_B])

    groups = backend.list_server_groups()

    assert [g.name for g in groups] == ["orders"]
    assert len(backend.list_problems) == 1
    assert SUB_B in backend.list_problems[0]
    assert backend.check() == backend.list_problems


def test_missing_resource_group_404_is_not_found(make_backend, orders):
    error = failure(make_backend(resource_group="rg-gone").list_server_groups)

    assert isinstance(error, NotFound)
    assert "ResourceGroupNotFound: Resource group 'rg-gone' could not be found." in error.message


def test_conflict_409_keeps_arms_words(arm, make_backend, orders):
    arm.script(
        "PUT", "orders-r$", status=409,
        body=arm_error("OperationInProgress", "Another operation is in progress on orders."),
    )  # fmt: skip

    error = failure(
        lambda: make_backend().begin_restore(RestoreRequest(orders.id, "orders-r", None))
    )

    assert error.message == (
        "Could not start restoring orders into orders-r: Azure answered 409 "
        "OperationInProgress: Another operation is in progress on orders."
    )


def test_throttling_429_is_retried_after_the_asked_delay(arm, make_backend, orders):
    arm.script("GET", "serverGroupsv2$", status=429, headers={"Retry-After": "7"})

    groups = make_backend().list_server_groups()

    assert [g.name for g in groups] == ["orders"]
    assert arm.sleeps == [7]


def test_lasting_throttling_429_is_a_temporary_error_saying_when(arm, make_backend, orders):
    arm.script(
        "GET", "serverGroupsv2$", status=429, headers={"Retry-After": "17"}, times=100,
        body=arm_error("TooManyRequests", "Too many requests."),
    )  # fmt: skip

    error = failure(make_backend().list_server_groups)

    assert error.message == (
        f"Could not list server groups: Azure is throttling the portal's requests in "
        f"subscription {SUB_A} (429 TooManyRequests). Try again in 17 seconds."
    )
    assert not error.permanent
    assert set(arm.sleeps) == {17}


def test_throttled_polling_waits_and_carries_on(arm, make_backend, orders):
    backend = make_backend()
    token = backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))
    arm.script("GET", "azureAsyncOperation", status=429, headers={"Retry-After": "3"})

    assert backend.wait_restore(token, lambda progress: None).target_name == "orders-r"
    assert 3 in arm.sleeps


def test_network_unreachable_is_a_temporary_error(arm, make_backend, orders):
    arm.script(
        "GET", "serverGroupsv2$", error=ServiceRequestError("Name resolution failed"), times=100
    )

    error = failure(make_backend().list_server_groups)

    assert error.message == (
        "Could not list server groups: Azure Resource Manager (management.azure.com) could not "
        "be reached. Check the network or proxy, then try again."
    )
    assert not error.permanent


def test_failures_are_logged_without_the_token(arm, make_backend, orders, caplog):
    arm.forbidden.add(SUB_A)
    caplog.set_level(logging.DEBUG)

    failure(make_backend().list_server_groups)

    assert "AuthorizationFailed" in caplog.text
    assert FakeCredential.TOKEN not in caplog.text


def test_an_answer_without_an_arm_code_reads_cleanly(arm, make_backend, orders):
    arm.script("GET", "serverGroupsv2$", status=400, body={"error": {"message": "Bad request."}})

    error = failure(make_backend().list_server_groups)

    assert error.message == "Could not list server groups: Azure answered 400: Bad request."
