import pytest

from portal.backends.base import BackendError, RestoreRequest


def test_invalid_name_is_refused_without_asking_azure(arm, make_backend):
    problem = make_backend().name_available("Bad_Name")

    assert "not a valid server group name" in problem
    assert arm.requests == []


@pytest.mark.parametrize("name", ["12345", "007", "-orders", "orders-", "ab", "a" * 41])
def test_names_azures_pattern_refuses_are_refused_before_any_request(
    arm, make_backend, orders, name
):
    backend = make_backend()

    problem = backend.name_available(name)
    with pytest.raises(BackendError) as caught:
        backend.begin_restore(RestoreRequest(orders.id, name, None))

    assert problem == caught.value.message
    assert problem.startswith(f"'{name}' is not a valid server group name")
    assert "not digits only" in problem
    assert arm.requests_to("POST", "checkNameAvailability") == []
    assert arm.requests_to("PUT", "serverGroupsv2/") == []


def test_all_digit_names_are_told_so(make_backend):
    assert (
        make_backend()
        .name_available("12345")
        .startswith(
            "'12345' is not a valid server group name: Azure refuses a name of digits only."
        )
    )


def test_digits_with_a_letter_or_hyphen_are_fine(make_backend, orders):
    assert make_backend().name_available("2024-q1") is None


def test_free_name_is_available(arm, make_backend, orders):
    # CheckNameAvailability.json answers nameAvailable as the string "True", message "".
    assert make_backend().name_available("orders-restored") is None

    (check,) = arm.requests_to("POST", "checkNameAvailability$")
    assert check.json == {
        "name": "orders-restored",
        "type": "Microsoft.DBforPostgreSQL/serverGroupsv2",
    }


def test_taken_name_says_why(make_backend, orders):
    assert make_backend().name_available("orders") == (
        "The name 'orders' cannot be used in Azure: Server group name 'orders' already exists."
    )


def test_name_taken_in_someone_elses_subscription_is_refused(arm, make_backend):
    arm.add_subscription("00000000-0000-0000-0000-00000000000a")
    arm.taken_names.add("popular")

    assert "already exists" in make_backend().name_available("popular")
