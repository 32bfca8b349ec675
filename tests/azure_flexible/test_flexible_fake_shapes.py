"""The fake answers with the keys of Azure's published examples (2025-08-01 folder)."""

from datetime import UTC, datetime

# ServersGet.json, properties and top level (a single server; an elastic cluster adds
# ServersClusterCreate.json's "cluster").
SERVERS_GET_TOP = {"sku", "systemData", "properties", "location", "id", "name", "type"}
SERVERS_GET_PROPERTIES = {
    "replica", "storage", "network", "privateEndpointConnections", "dataEncryption",
    "authConfig", "fullyQualifiedDomainName", "version", "minorVersion",
    "administratorLogin", "state", "availabilityZone", "backup", "highAvailability",
    "maintenanceWindow", "replicationRole", "replicaCapacity",
}  # fmt: skip


def test_a_server_has_the_keys_of_servers_get(arm, sales, events):
    single, cluster = sales.to_json(), events.to_json()

    assert set(single) - {"tags"} == SERVERS_GET_TOP
    assert set(single["properties"]) == SERVERS_GET_PROPERTIES
    assert set(cluster["properties"]) == SERVERS_GET_PROPERTIES | {"cluster"}
    assert cluster["properties"]["cluster"] == {"clusterSize": 4, "defaultDatabaseName": "postgres"}
    assert set(single["properties"]["backup"]) == {
        "backupRetentionDays", "geoRedundantBackup", "earliestRestoreDate",
    }  # fmt: skip
    # "2025-06-01T18:35:22.123456Z": microseconds and Z.
    assert single["properties"]["backup"]["earliestRestoreDate"].endswith(".250000Z")


def test_a_backup_has_the_keys_and_time_form_of_backup_list_by_server(arm, backend, sales):
    backend.restore_backups(sales.id)
    (listing,) = arm.requests_to("GET", "/backups$")
    _, body, _ = arm._list_backups(sales.subscription, "rg-prod", "sales", None)

    item = body["value"][0]
    assert set(item) == {"properties", "id", "name", "type"}
    assert set(item["properties"]) == {"backupType", "source", "completedTime"}
    completed = item["properties"]["completedTime"]
    assert completed.endswith("+00:00")  # "2024-08-01T14:30:22.123456+00:00"
    assert datetime.fromisoformat(completed).tzinfo is not None
    assert datetime.fromisoformat(completed) <= datetime.now(UTC)
    assert listing.status == 200


def test_a_restore_put_answers_202_with_both_headers_and_no_body(arm, backend, sales):
    from portal.backends.base import RestoreRequest

    backend.begin_restore(RestoreRequest(sales.id, "sales-r", None, choice="latest"))

    status, body, headers = arm._put_server(
        sales.subscription, "rg-prod", "sales-s",
        {"location": "westeurope", "properties": {
            "createMode": "PointInTimeRestore", "sourceServerResourceId": sales.id,
            "pointInTimeUTC": datetime.now(UTC).isoformat()}},
    )  # fmt: skip
    assert (status, body) == (202, None)
    assert set(headers) == {"Azure-AsyncOperation", "Location"}
    assert "/azureAsyncOperation/" in headers["Azure-AsyncOperation"]
    assert "/operationResults/" in headers["Location"]
