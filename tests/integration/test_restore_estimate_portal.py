"""The estimate before OK over a real localcloud: step 2 of the wizard, ``restore
--dry-run`` (text and --json), and the operation page's estimate beside the time taken."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.management.base import CommandError

from localcloud import Engine
from localcloud.testing import processes_under, temporary_engine
from restore_wizard.models import RestoreOperation
from tests.integration.cli import run
from tests.local_portal import serve_engine
from tests.ports import shifted_port

BASE_PORT = shifted_port(36432)
SOURCE = "est-src"
DETAILS = f"/servergroups/local/{SOURCE}/restore/details/"
ESTIMATE = f"/servergroups/local/{SOURCE}/restore/estimate/"


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group(SOURCE, workers=1)
        for node in engine.get_group(SOURCE).nodes:
            with engine.connect(SOURCE, node.name) as conn:
                conn.execute("CREATE TABLE t AS SELECT g FROM generate_series(1, 20000) g")
                conn.commit()
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture(autouse=True)
def local_only(settings, engine):
    serve_engine(settings, engine)


def backup_ids(engine: Engine) -> dict[str, str]:
    nodes = engine.catalog.read()["groups"][SOURCE]["nodes"]
    return {node["name"]: node["backups"][-1]["id"] for node in nodes}


@pytest.mark.django_db
def test_step_2_says_per_node_which_backup_how_many_bytes_and_how_long(engine, operator_client):
    page = operator_client.get(DETAILS, {"choice": "latest"}).content.decode()

    assert "How long the restore will take" in page
    assert 'id="estimate-summary"><strong>About ' in page
    assert "to unpack" in page and "of WAL to replay" in page
    for node, backup in backup_ids(engine).items():
        assert f"<td>{node}</td>" in page
        assert backup in page
    assert "conservative defaults" in page or "measured" in page


@pytest.mark.django_db
def test_a_custom_point_is_estimated_once_typed(engine, operator_client):
    # The custom step starts at the latest point, estimated; an emptied field has none.
    page = operator_client.get(DETAILS, {"choice": "custom"}).content.decode()
    emptied = operator_client.get(ESTIMATE, {"choice": "custom", "point": ""}).content.decode()
    assert 'id="estimate-summary"><strong>About ' in page
    assert "Enter the restore point to see how long the restore will take." in emptied

    point = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    typed = operator_client.get(
        f"/servergroups/local/{SOURCE}/restore/point/",
        {"point": point, "point_source": "utc"},
        headers={"HX-Request": "true"},
    )
    fragment = operator_client.get(
        ESTIMATE, {"choice": "custom", "point": point}, headers={"HX-Request": "true"}
    ).content.decode()

    # Typing a valid point tells the page; the estimate section asks again for that point.
    assert typed["HX-Trigger-After-Settle"] == "restore-point-changed"
    assert 'hx-trigger="restore-point-changed from:body"' in fragment
    assert "About " in fragment
    assert f'id="estimate-point"><time datetime="{point[:10]}' in fragment
    assert point[:19] in fragment
    for backup in backup_ids(engine).values():
        assert backup in fragment


@pytest.mark.django_db
def test_a_point_before_the_window_gets_no_estimate_but_the_reason(engine, operator_client):
    fragment = operator_client.get(
        ESTIMATE, {"choice": "custom", "point": "2001-01-01 00:00:00"}
    ).content.decode()

    assert "No estimate: The restore point" in fragment
    assert "before the earliest restore point" in fragment


@pytest.mark.django_db
def test_dry_run_prints_the_estimate_and_starts_nothing(engine):
    text = run("restore", SOURCE, "--latest", "--name", "est-dry", "--dry-run")
    answer = json.loads(
        run("restore", SOURCE, "--earliest", "--name", "est-dry", "--dry-run", "--json")
    )

    assert text.startswith(f"Dry run, nothing was started: restoring '{SOURCE}' to ")
    assert "About " in text and "to unpack" in text and "of WAL to replay" in text
    for node, backup in backup_ids(engine).items():
        assert f"  {node}: backup {backup} (ended " in text
    assert answer["status"] == "Dry run" and answer["target"] == "est-dry"
    estimate = answer["estimate"]
    assert estimate["seconds"] > 0
    assert [n["backup"] for n in estimate["nodes"]] == list(backup_ids(engine).values())
    assert all(n["unpack_bytes"] > 0 and n["wal_bytes"] >= 0 for n in estimate["nodes"])
    assert estimate["unpack_bytes"] == sum(n["unpack_bytes"] for n in estimate["nodes"])
    assert "est-dry" not in [g.name for g in engine.list_groups()]
    assert not RestoreOperation.objects.exists()


@pytest.mark.django_db
def test_dry_run_refuses_what_the_restore_would_refuse(engine):
    with pytest.raises(CommandError, match="source server group's own name"):
        run("restore", SOURCE, "--latest", "--name", SOURCE, "--dry-run")
    with pytest.raises(CommandError, match="before the earliest restore point"):
        run("restore", SOURCE, "--point", "2001-01-01T00:00:00Z", "--name", "x-1", "--dry-run")


@pytest.mark.django_db(transaction=True)
def test_the_operation_keeps_its_estimate_beside_the_time_it_took(engine, operator_client):
    run("restore", SOURCE, "--latest", "--name", "est-copy", "--wait", "--as", "olivia")

    operation = RestoreOperation.objects.get(target_name="est-copy")
    page = operator_client.get(f"/operations/{operation.pk}/").content.decode()

    assert operation.status == RestoreOperation.Status.SUCCEEDED
    assert operation.estimate["seconds"] > 0
    assert [n["node"] for n in operation.estimate["nodes"]] == ["coordinator", "worker-1"]
    assert 'id="operation-estimate">Estimated ' in page
    assert " · took " in page
    engine.delete_group("est-copy")
