import pytest

from portal.backends.base import BackendError, NotFound
from tests.fakes.azure_flexible_arm import SUB_A, SUB_B


def test_list_shows_single_servers_and_elastic_clusters_with_their_kind(
    arm, backend, sales, events
):
    groups = {g.name: g for g in backend.list_server_groups()}

    assert groups["sales"].kind == "Single server" and groups["sales"].node_count == 1
    assert groups["events"].kind == "Elastic cluster" and groups["events"].node_count == 4
    assert groups["sales"].cloud == "Azure flexible server"
    assert groups["events"].status == "Ready"
    # ServersListBySubscription.json: one request per subscription, the SDK's own paging.
    (listing,) = arm.requests_to("GET", "/providers/Microsoft.DBforPostgreSQL/flexibleServers$")
    assert listing.params["api-version"] == "2026-10-01" and listing.authorized


def test_one_resource_group_is_listed_alone(arm, make_backend, sales):
    arm.add_server(SUB_A, "rg-test", "scratch")

    groups = make_backend(resource_group="rg-test").list_server_groups()

    assert [g.name for g in groups] == ["scratch"]


def test_overview_essentials_of_a_geo_redundant_single_server(backend, sales):
    group = backend.get_server_group(sales.id)

    assert group.earliest_restore == sales.earliest_restore
    assert group.coordinator_host == "sales.postgres.database.azure.com"
    assert group.postgresql_version == "17" and group.location == "westeurope"
    assert group.paired_location == "northeurope" and group.geo_redundant_backup
    assert dict(group.essentials) == {
        "Kind": "Single server",
        "Compute": "Standard_D4ds_v5 (GeneralPurpose)",
        "Storage": "128 GiB",
        "Backup retention": "7 days",
        "Geo-redundant backup": "Enabled",
        "Availability zone": "1",
        "High availability": "Disabled",
    }


def test_overview_of_an_elastic_cluster_lists_its_nodes(backend, events):
    group = backend.get_server_group(events.id)

    assert [(n.name, n.role) for n in group.nodes] == [
        ("node-0", "coordinator"), ("node-1", "worker"), ("node-2", "worker"), ("node-3", "worker"),
    ]  # fmt: skip
    assert dict(group.essentials)["Kind"] == "Elastic cluster (4 nodes)"
    assert dict(group.essentials)["Geo-redundant backup"] == "Disabled"


def test_backup_and_restore_lists_full_backups_newest_first(arm, backend, sales):
    points = backend.restore_backups(sales.id)

    assert [p.completed for p in points] == sorted((b[3] for b in sales.backups), reverse=True)
    assert points[0].kind == "Full" and points[0].name.startswith("backup_")
    # BackupListByServer.json: completedTime carries +00:00, read as UTC to the microsecond.
    (listing,) = arm.requests_to("GET", "/flexibleServers/sales/backups$")
    assert listing.status == 200
    assert points[0].completed.microsecond == 123456


def test_choices_follow_geo_redundant_backup(backend, sales, events):
    assert backend.restore_choices(backend.get_server_group(sales.id)) == (
        "latest", "custom", "fast", "geo",
    )  # fmt: skip
    assert backend.restore_choices(backend.get_server_group(events.id)) == (
        "latest", "custom", "fast",
    )  # fmt: skip


def test_a_server_outside_the_configured_subscriptions_is_not_found(arm, backend):
    other = arm.add_server(SUB_B, "rg", "elsewhere")

    with pytest.raises(NotFound) as caught:
        backend.get_server_group(other.id)

    assert "not among the portal's flexible servers" in caught.value.message
    assert not arm.requests_to("GET", "/elsewhere$")


def test_a_server_without_an_earliest_restore_date_cannot_open_the_window(arm, backend):
    fresh = arm.add_server(SUB_A, "rg-prod", "fresh", earliest_restore=None)

    with pytest.raises(BackendError) as caught:
        backend.restore_window(fresh.id)

    assert "has not reported an earliest restore date for fresh" in caught.value.message
    assert not backend.get_server_group(fresh.id).has_backup
