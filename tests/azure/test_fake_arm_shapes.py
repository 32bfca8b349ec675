"""The fake ARM's raw answers keep the shapes of Azure's published examples (API 2022-11-08,
``Azure/azure-rest-api-specs``, ``specification/postgresqlhsc/.../examples/``) and of the
recorded real restore, so the backend tests exercise what Azure sends, not what we wish."""

from datetime import UTC, datetime, timedelta

from azure.core.rest import HttpRequest

from tests.fakes.azure_arm import API_VERSION, ARM, SUB_A

CLUSTERS = f"/subscriptions/{SUB_A}/resourceGroups/rg-prod/providers/Microsoft.DBforPostgreSQL"
# The property names of ClusterGet.json's body.
CLUSTER_PROPERTIES = {
    "provisioningState", "state", "postgresqlVersion", "citusVersion", "maintenanceWindow",
    "administratorLogin", "preferredPrimaryZone", "enableHa", "enableShardsOnCoordinator",
    "coordinatorServerEdition", "coordinatorStorageQuotaInMb", "coordinatorVCores",
    "coordinatorEnablePublicIpAccess", "nodeServerEdition", "nodeCount", "nodeStorageQuotaInMb",
    "nodeVCores", "nodeEnablePublicIpAccess", "serverNames", "sourceResourceId",
    "sourceLocation", "readReplicas", "earliestRestoreTime", "privateEndpointConnections",
}  # fmt: skip


def send(arm, method: str, path: str, body=None):
    url = f"{ARM}{path}?api-version={API_VERSION}"
    response = arm.send(HttpRequest(method, url, json=body))
    return response.status_code, (response.json() if response.content else None), response.headers


def test_cluster_get_has_cluster_gets_properties_and_no_point_in_time(arm, orders):
    status, body, _ = send(arm, "GET", f"{CLUSTERS}/serverGroupsv2/orders")

    assert status == 200
    assert set(body) == {"id", "name", "type", "tags", "location", "systemData", "properties"}
    assert set(body["properties"]) == CLUSTER_PROPERTIES
    assert body["properties"]["sourceResourceId"] is None
    assert body["properties"]["serverNames"][0] == {
        "name": "orders-c",
        "fullyQualifiedDomainName": "c.orders.postgres.database.azure.com",
    }


def test_restore_put_answers_201_provisioning_with_both_headers_and_no_lineage(arm, orders):
    point = datetime.now(UTC) - timedelta(days=1)
    request = {
        "location": "westeurope",
        "properties": {
            "sourceResourceId": orders.id,
            "sourceLocation": "westeurope",
            "pointInTimeUTC": point.isoformat(),
        },
    }

    status, body, headers = send(arm, "PUT", f"{CLUSTERS}/serverGroupsv2/orders-r", request)
    later_status, later, _ = send(arm, "GET", f"{CLUSTERS}/serverGroupsv2/orders-r")

    assert status == 201 and later_status == 200
    assert "/azureAsyncOperation/" in headers["Azure-AsyncOperation"]
    assert "/operationResults/" in headers["Location"]
    properties = body["properties"]
    assert properties["provisioningState"] == properties["state"] == "Provisioning"
    assert properties["earliestRestoreTime"] is None
    assert properties["sourceResourceId"] is None and "sourceLocation" not in properties
    assert "pointInTimeUTC" not in properties and "pointInTimeUTC" not in later["properties"]
    assert later["properties"]["sourceResourceId"] is None
    assert "sourceLocation" not in later["properties"]


def test_name_check_answers_the_string_true_and_an_empty_message(arm, orders):
    request = {"name": "name1", "type": "Microsoft.DBforPostgreSQL/serverGroupsv2"}

    status, body, _ = send(
        arm, "POST", f"/subscriptions/{SUB_A}/providers/Microsoft.DBforPostgreSQL/"
        "checkNameAvailability", request,
    )  # fmt: skip

    assert status == 200
    assert body == {"nameAvailable": "True", "message": "", **request}


def test_configuration_updates_answer_201_and_202_with_only_the_value(arm, orders):
    path = f"{CLUSTERS}/serverGroupsv2/orders"
    update = {"properties": {"value": "off"}}

    coordinator = send(arm, "PUT", f"{path}/coordinatorConfigurations/array_nulls", update)
    node = send(arm, "PUT", f"{path}/nodeConfigurations/array_nulls", update)

    answers = [(coordinator, "coordinator", 201), (node, "node", 202)]
    for (status, body, headers), kind, expected in answers:
        assert status == expected
        assert body["type"] == f"Microsoft.DBforPostgreSQL/serverGroupsv2/configurations/{kind}"
        assert body["id"] == f"{orders.id}/configurations/array_nulls"
        assert body["properties"] == {"value": "off"}
        assert {"Azure-AsyncOperation", "Location"} <= set(headers)


def test_configuration_list_items_carry_no_requires_restart(arm, orders):
    _, body, _ = send(arm, "GET", f"{CLUSTERS}/serverGroupsv2/orders/configurations")

    first = body["value"][0]
    assert first["type"] == "Microsoft.DBforPostgreSQL/serverGroupsv2/configurations"
    assert "requiresRestart" not in first["properties"]
    assert [g["role"] for g in first["properties"]["serverRoleGroupConfigurations"]] == [
        "Coordinator",
        "Worker",
    ]
    assert body["nextLink"] is None


def test_delete_answers_202_then_204_once_gone(arm, orders):
    path = f"{CLUSTERS}/serverGroupsv2/orders"

    status, body, headers = send(arm, "DELETE", path)
    send(arm, "GET", headers["Azure-AsyncOperation"].split(ARM)[1].split("?")[0])
    again, _, _ = send(arm, "DELETE", path)

    assert status == 202 and body is None and "Location" in headers
    assert again == 204
