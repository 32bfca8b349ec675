"""A flexible server's blade: Overview, Backup and restore, Networking, Server parameters,
Nodes and Connection strings, over the real SDK and FlexibleArm."""

import pytest

from portal.instants import utc_text
from tests.fakes.azure_flexible_arm import SUB_A

from .flexible import build_flexible_arm, use_flexible

pytestmark = pytest.mark.django_db
BLADE = "/servergroups/flexible/sales/"


@pytest.fixture
def flexible(settings):
    arm = build_flexible_arm()
    arm.server(SUB_A, "rg-prod", "sales").parameters = {"work_mem": "65536"}
    use_flexible(settings, arm)
    return arm


def page(client, suffix: str = "") -> str:
    response = client.get(BLADE + suffix)
    assert response.status_code == 200, response.content.decode()
    return response.content.decode()


def test_overview_essentials(operator_client, flexible):
    html = page(operator_client)

    for label, value in [
        ("Kind", "Single server"), ("Compute", "Standard_D4ds_v5 (GeneralPurpose)"),
        ("Storage", "128 GiB"), ("Backup retention", "7 days"),
        ("Geo-redundant backup", "Enabled"), ("Availability zone", "1"),
        ("High availability", "Disabled"),
    ]:  # fmt: skip
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html
    assert "Earliest restore point" in html and "westeurope" in html


def test_backup_and_restore_lists_the_full_backups_with_their_completion_times(
    operator_client, flexible
):
    html = page(operator_client, "backup-and-restore/")

    assert "Full backups (automatic and on-demand)" in html
    newest = max(flexible.server(SUB_A, "rg-prod", "sales").backups, key=lambda b: b[3])
    assert f"<code>{newest[0]}</code></td><td>Full</td>" in html
    assert utc_text(newest[3]) in html  # as every page writes an instant
    assert 'id="window-earliest"' in html


def test_networking_parameters_nodes_and_connection_strings(operator_client, flexible):
    assert "203.0.113.0" in page(operator_client, "networking/")
    assert "work_mem" in page(operator_client, "parameters/")
    assert "sales.postgres.database.azure.com" in page(operator_client, "nodes/")
    assert "sales.postgres.database.azure.com" in page(operator_client, "connection-strings/")


def test_an_elastic_cluster_shows_its_nodes(operator_client, flexible):
    html = operator_client.get("/servergroups/flexible/events/nodes/").content.decode()

    assert html.count("events.postgres.database.azure.com") >= 4
    assert "node-3" in html
