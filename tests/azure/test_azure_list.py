from datetime import UTC

from portal.backends.azure import AzureBackend
from tests.fakes.azure_arm import SUB_A, SUB_B, FakeArm


def test_lists_clusters_of_every_subscription(arm, make_backend):
    arm.add_cluster(SUB_A, "rg-prod", "orders")
    arm.add_cluster(SUB_B, "rg-eu", "billing", location="northeurope")

    groups = make_backend(subscription_ids=[SUB_A, SUB_B]).list_server_groups()

    assert [(g.name, g.subscription, g.resource_group, g.location) for g in groups] == [
        ("billing", SUB_B, "rg-eu", "northeurope"),
        ("orders", SUB_A, "rg-prod", "westeurope"),
    ]
    assert {g.backend for g in groups} == {"azure"} and {g.cloud for g in groups} == {"Azure"}
    assert len(arm.requests_to("GET", r"/providers/Microsoft.DBforPostgreSQL/serverGroupsv2$")) == 2


def test_subscription_ids_may_be_a_comma_separated_string(arm, make_backend):
    arm.add_cluster(SUB_A, "rg-prod", "orders")
    arm.add_cluster(SUB_B, "rg-eu", "billing")

    backend = make_backend(subscription_ids=f" {SUB_A}, {SUB_B} ,")

    assert backend.subscription_ids == [SUB_A, SUB_B]
    assert len(backend.list_server_groups()) == 2


def test_resource_group_filter_lists_only_that_group(arm, make_backend):
    arm.add_cluster(SUB_A, "rg-prod", "orders")
    arm.add_cluster(SUB_A, "rg-test", "scratch")

    groups = make_backend(resource_group="rg-prod").list_server_groups()

    assert [g.name for g in groups] == ["orders"]
    assert arm.requests_to("GET", "/resourceGroups/rg-prod/providers/Microsoft.DBforPostgreSQL")


def test_list_is_cached_until_refresh(arm, make_backend):
    arm.add_cluster(SUB_A, "rg-prod", "orders")
    backend = make_backend(cache_seconds=60)

    backend.list_server_groups()
    arm.add_cluster(SUB_A, "rg-prod", "billing")

    assert [g.name for g in backend.list_server_groups()] == ["orders"]
    backend.refresh()
    assert [g.name for g in backend.list_server_groups()] == ["billing", "orders"]
    assert len(arm.requests_to("GET", "serverGroupsv2$")) == 2


def test_zero_cache_seconds_asks_azure_every_time(arm, make_backend):
    arm.add_cluster(SUB_A, "rg-prod", "orders")
    backend = make_backend(cache_seconds=0)

    backend.list_server_groups()
    backend.list_server_groups()

    assert len(arm.requests_to("GET", "serverGroupsv2$")) == 2


def test_list_fields_come_from_the_cluster(arm, make_backend):
    source = arm.add_cluster(SUB_A, "rg-prod", "orders", node_count=4, postgresql_version="16")

    (original,) = make_backend().list_server_groups()

    assert original.node_count == 5
    assert original.postgresql_version == "16"
    assert original.status == "Ready"
    assert original.has_backup
    assert original.earliest_restore == source.earliest_restore
    assert original.earliest_restore.tzinfo == UTC
    assert original.id == source.id
    assert original.restored_from == "" and original.restore_point is None


def test_a_cluster_restored_outside_the_portal_shows_what_arm_says(arm, make_backend):
    # ClusterCreatePITR.json's body: the source is named, the point is not.
    source = arm.add_cluster(SUB_A, "rg-prod", "orders")
    arm.add_cluster(
        SUB_A, "rg-prod", "orders-copy", source_resource_id=source.id,
        source_location="westeurope", earliest_restore=None, state="Stopped",
    )  # fmt: skip

    copy = {g.name: g for g in make_backend().list_server_groups()}["orders-copy"]

    assert copy.restored_from == "orders"
    assert copy.restore_point is None
    assert copy.status == "Stopped"
    assert not copy.has_backup


def test_listing_follows_next_link_across_pages(credential):
    arm = FakeArm(page_size=2)
    for name in ["alpha", "bravo", "charlie"]:
        arm.add_cluster(SUB_A, "rg-prod", name)
    backend = AzureBackend(subscription_ids=[SUB_A], credential=credential, transport=arm)

    groups = backend.list_server_groups()

    assert [g.name for g in groups] == ["alpha", "bravo", "charlie"]
    first, second = arm.requests_to("GET", "serverGroupsv2$")
    assert "$skipToken" not in first.params
    assert second.params["$skipToken"] == "2"
    assert second.params["api-version"] == "2022-11-08"


def test_requests_carry_a_bearer_token(arm, make_backend, credential):
    arm.add_cluster(SUB_A, "rg-prod", "orders")

    make_backend().list_server_groups()

    assert all(r.authorized for r in arm.requests)
    assert credential.calls >= 1
