import pytest

from portal.backends.base import BackendError, NotFound, RestoreRequest


def test_overview_has_coordinator_host_and_nodes(make_backend, orders):
    group = make_backend().get_server_group(orders.id)

    assert group.name == "orders"
    assert group.coordinator_host == "c.orders.postgres.database.azure.com"
    assert group.coordinator_port == 5432
    assert group.database == "citus" and group.admin_user == "citus"
    assert [(n.name, n.role) for n in group.nodes] == [
        ("orders-c", "coordinator"),
        ("orders-w0", "worker"),
        ("orders-w1", "worker"),
    ]
    assert group.tags == {"team": "payments"}
    assert group.subscription == orders.subscription and group.resource_group == "rg-prod"


def test_restore_window_runs_from_earliest_restore_time_to_now(make_backend, orders):
    window = make_backend().restore_window(orders.id)

    assert window.earliest == orders.earliest_restore
    assert window.earliest < window.latest


def test_restore_is_blocked_until_azure_reports_an_earliest_restore_point(
    arm, make_backend, orders
):
    orders.earliest_restore = None
    backend = make_backend()

    group = backend.get_server_group(orders.id)
    with pytest.raises(BackendError) as window:
        backend.restore_window(orders.id)
    with pytest.raises(BackendError) as restore:
        backend.begin_restore(RestoreRequest(orders.id, "orders-r", None))

    assert group.earliest_restore is None and not group.has_backup
    assert backend.restore_blocker(group) == (
        "Azure has not reported an earliest restore point for this cluster yet; "
        "restore becomes available when it does."
    )
    assert (
        window.value.message
        == restore.value.message
        == (
            "Azure has not reported an earliest restore point for orders yet; "
            "restore becomes available when it does."
        )
    )
    assert not arm.requests_to("PUT", "orders-r")


def test_unknown_cluster_is_not_found(make_backend, orders):
    with pytest.raises(NotFound) as caught:
        make_backend().get_server_group(orders.id + "-gone")

    assert "ResourceNotFound" in caught.value.message
    assert "orders-gone" in caught.value.message


def test_cluster_outside_the_configured_subscriptions_is_not_found(arm, make_backend):
    stranger = arm.add_cluster("99999999-0000-0000-0000-000000000000", "rg", "secret")

    with pytest.raises(NotFound):
        make_backend().get_server_group(stranger.id)
    assert arm.requests == []


def test_cluster_outside_the_resource_group_filter_is_not_found(arm, make_backend, orders):
    with pytest.raises(NotFound):
        make_backend(resource_group="rg-test").get_server_group(orders.id)


def test_alerts_url_opens_the_resource_in_the_azure_portal(make_backend, orders):
    assert make_backend().alerts_url(orders.id) == (
        f"https://portal.azure.com/#resource{orders.id}/alerts"
    )


def test_check_reports_malformed_subscription_ids(make_backend):
    assert make_backend(subscription_ids=["not-a-uuid"]).check() == [
        "'not-a-uuid' in AZURE_SUBSCRIPTION_IDS is not a subscription id."
    ]
