def test_invalid_name_is_refused_without_asking_azure(arm, make_backend):
    problem = make_backend().name_available("Bad_Name")

    assert "not a valid server group name" in problem
    assert arm.requests == []


def test_free_name_is_available(arm, make_backend, orders):
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
