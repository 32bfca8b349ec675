import pytest
from azure.core.exceptions import ServiceRequestError

from portal.backends.base import BackendError, NotFound, RestoreRequest
from tests.fakes.azure_arm import FakeCredential, arm_error
from tests.fakes.azure_flexible_arm import SUB_A

LIST = "/flexibleServers$"


def failure(call) -> BackendError:
    with pytest.raises(BackendError) as caught:
        call()
    return caught.value


def test_401_is_a_credentials_message(arm, backend, sales):
    arm.script(
        "GET", LIST, status=401,
        body=arm_error("InvalidAuthenticationToken", "The access token is invalid."),
    )  # fmt: skip

    error = failure(backend.list_server_groups)

    assert "Azure did not accept the portal's credentials" in error.message
    assert FakeCredential.TOKEN not in error.message


def test_403_names_the_missing_permission(arm, backend, sales):
    arm.forbidden.add(SUB_A)

    error = failure(backend.list_server_groups)

    assert error.code == "AuthorizationFailed"
    assert "'Microsoft.DBforPostgreSQL/flexibleServers/read'" in error.message


def test_404_of_a_missing_server_is_not_found(arm, backend, sales):
    error = failure(lambda: backend.get_server_group(sales.id.replace("/sales", "/gone")))

    assert isinstance(error, NotFound)
    assert "ResourceNotFound" in error.message


def test_409_keeps_arms_words(arm, backend, sales):
    arm.script(
        "PUT", "sales-r$", status=409,
        body=arm_error("OperationInProgress", "Another operation is in progress on sales."),
    )  # fmt: skip

    error = failure(
        lambda: backend.begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))
    )

    assert error.message == (
        "Could not start restoring sales into sales-r: Azure answered 409 "
        "OperationInProgress: Another operation is in progress on sales."
    )


def test_429_waits_as_asked_then_says_when(arm, backend, sales):
    arm.script(
        "GET", LIST, status=429, headers={"Retry-After": "17"}, times=100,
        body=arm_error("TooManyRequests", "Too many requests."),
    )  # fmt: skip

    error = failure(backend.list_server_groups)

    assert error.message.endswith("(429 TooManyRequests). Try again in 17 seconds.")
    assert not error.permanent
    assert set(arm.sleeps) == {17}


def test_network_failure_is_temporary(arm, backend, sales):
    arm.script("GET", LIST, error=ServiceRequestError("Name resolution failed"), times=100)

    error = failure(backend.list_server_groups)

    assert "could not be reached" in error.message and not error.permanent


def test_5xx_is_temporary_with_arms_words(arm, backend, sales):
    arm.script(
        "GET", LIST, status=503, times=100,
        body=arm_error("ServiceUnavailable", "The service is unavailable."),
    )  # fmt: skip

    error = failure(backend.list_server_groups)

    assert error.message == (
        "Could not list flexible servers: Azure answered 503 ServiceUnavailable: "
        "The service is unavailable."
    )
    assert not error.permanent


def test_quota_error_in_the_target_region_says_what_to_do(arm, backend, sales):
    arm.script(
        "PUT", "sales-dr$", status=409,
        body=arm_error("QuotaExceeded", "Operation results in exceeding quota limits of Core."),
    )  # fmt: skip

    error = failure(
        lambda: backend.begin_restore(RestoreRequest(sales.id, "sales-dr", None, choice="geo"))
    )

    assert error.code == "QuotaExceeded"
    assert error.message.startswith(
        "Could not start restoring sales into sales-dr in northeurope: Azure refused for lack "
        "of quota in the target region (QuotaExceeded: Operation results in exceeding quota "
        "limits of Core.). Ask for a quota increase"
    )


def test_throttled_polling_waits_and_carries_on(arm, backend, sales):
    token = backend.begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))
    arm.script("GET", "azureAsyncOperation", status=429, headers={"Retry-After": "3"})

    assert backend.wait_restore(token, lambda progress: None).target_name == "sales-r"
    assert 3 in arm.sleeps


def test_unreadable_token_is_a_clear_error(backend):
    assert failure(lambda: backend.wait_restore("nope", lambda p: None)).message == (
        "This restore's Azure token is unreadable."
    )


def test_quota_error_reported_by_the_operation_says_what_to_do(arm, backend, sales):
    arm.restore_error["sales-dr"] = (
        "QuotaExceeded",
        "Operation results in exceeding quota limits of Core in northeurope.",
    )
    token = backend.begin_restore(RestoreRequest(sales.id, "sales-dr", None, choice="geo"))

    error = failure(lambda: backend.wait_restore(token, lambda progress: None))

    assert error.code == "QuotaExceeded"
    assert error.message.startswith(
        "Azure could not restore into sales-dr for lack of quota in the target region "
        "(QuotaExceeded: Operation results in exceeding quota limits of Core in northeurope.)."
    )
