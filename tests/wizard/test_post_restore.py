"""Post-restore tasks for a restored Azure group, and Copy from source (operators only)."""

import pytest
from django.test import Client

from portal.models import ActivityEvent

from .conftest import SUB_A

pytestmark = pytest.mark.django_db

TASKS_URL = "/servergroups/azure/orders-r1/post-restore/"


@pytest.fixture
def restored(azure, restore_into):
    restore_into("orders-r1")
    cluster = azure.cluster(SUB_A, "rg-prod", "orders-r1")
    cluster.roles = ["app_rw", "citus", "reporting"]
    return cluster


def test_post_restore_tasks_show_endpoint_rules_parameters_roles_and_alerts(
    operator_client, restored
):
    html = operator_client.get(TASKS_URL).content.decode()

    endpoint = html.split('id="task-endpoint"')[1].split("</li>")[0]
    assert "c.orders-r1.postgres.database.azure.com" in endpoint
    assert "<code>5432</code>" in endpoint and "<code>citus</code>" in endpoint
    firewall = html.split('id="task-firewall"')[1].split("</li>\n")[0]
    assert "Source (orders)" in firewall and "Restored (orders-r1)" in firewall
    assert "office: 203.0.113.0 – 203.0.113.255" in firewall
    assert "To do" in firewall and "Copy from source" in firewall
    parameters = html.split('id="task-parameters"')[1].split("</li>\n")[0]
    work_mem = "<code>work_mem</code></td><td>coordinator</td><td>65536</td><td>158720</td>"
    assert work_mem in parameters
    assert "<code>max_connections</code></td><td>coordinator</td><td>500</td>" in parameters
    assert "Copy from source" in parameters
    logins = html.split('id="task-logins"')[1].split("</li>\n")[0]
    assert "<li>app_rw</li>" in logins and "<li>reporting</li>" in logins
    alerts = html.split('id="task-alerts"')[1].split("</li>")[0]
    assert f"https://portal.azure.com/#resource{restored.id}/alerts" in alerts


def test_copy_firewall_rules_from_source_changes_azure(operator_client, azure, restored):
    response = operator_client.post(TASKS_URL + "copy-firewall/", follow=True)

    assert restored.firewall_rules == {
        "office": ("203.0.113.0", "203.0.113.255"),
        "vpn": ("198.51.100.7", "198.51.100.7"),
    }
    html = response.content.decode()
    assert "Copied 2 firewall rules from orders." in html
    firewall = html.split('id="task-firewall"')[1].split("</li>\n")[0]
    assert "Done" in firewall and "Copy from source" not in firewall
    event = ActivityEvent.objects.get(action="copy firewall rules")
    assert event.result == "succeeded" and event.detail == {"source": "orders", "copied": 2}


def test_copy_parameters_from_source_changes_azure(operator_client, azure, restored):
    response = operator_client.post(TASKS_URL + "copy-parameters/", follow=True)

    assert restored.parameters == {
        "work_mem": {"coordinator": "65536", "worker": "32768"},
        "max_connections": {"coordinator": "500"},
    }
    html = response.content.decode()
    assert "Copied 3 server parameters from orders." in html
    assert "need a restart" in html
    parameters = html.split('id="task-parameters"')[1].split("</li>\n")[0]
    assert "The server parameters of orders-r1 match those of orders." in parameters
    assert "Done" in parameters and "not copied" not in parameters


def test_viewer_cannot_copy_and_azure_is_unchanged(viewer, azure, restored):
    as_viewer = Client()
    as_viewer.force_login(viewer)

    html = as_viewer.get(TASKS_URL).content.decode()
    response = as_viewer.post(TASKS_URL + "copy-firewall/")

    assert "Copy from source" not in html
    assert response.status_code == 403
    assert restored.firewall_rules == {}
    assert not azure.requests_to("PUT", "firewallRules")


def test_restored_groups_overview_links_to_its_post_restore_tasks(operator_client, restored):
    html = operator_client.get("/servergroups/azure/orders-r1/").content.decode()

    assert f'href="{TASKS_URL}"' in html
    assert 'href="/servergroups/azure/orders/"' in html


def test_copy_for_a_group_that_was_not_restored_is_refused(operator_client, azure):
    response = operator_client.post("/servergroups/azure/orders/post-restore/copy-firewall/")

    assert response.status_code == 400
    assert "was not restored from another" in response.content.decode()
