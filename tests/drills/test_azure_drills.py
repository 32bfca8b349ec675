"""Restore drills on Azure, through the real SDKs with only their HTTP transport
replaced: the drill restores into a scratch server, says plainly when the portal cannot
run its checks there, and deletes the scratch server with ``begin_delete`` (following
ARM's long-running operation), always. A DBA's Delete of a real group stays refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drills import services
from drills.models import Drill, DrillPlan
from portal.backends import BackendError, get_backend
from tests.fakes.azure_arm import SUB_A, FakeArm, FakeCredential
from tests.fakes.azure_flexible_arm import FlexibleArm

from .conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

RG = "rg-prod"


@pytest.fixture
def clouds(settings):
    """Both Azure backends, each over its own fake ARM; deletes take two polls."""
    cosmos, flexible = FakeArm(), FlexibleArm()
    cosmos.delete_in_progress = flexible.delete_in_progress = 2
    cosmos.add_cluster(SUB_A, RG, "orders", node_count=2)
    flexible.add_server(SUB_A, RG, "sales")
    options = {"subscription_ids": [SUB_A], "credential": FakeCredential(), "polling_interval": 0}
    settings.PORTAL_BACKENDS = {
        "azure": {
            "BACKEND": "portal.backends.azure.AzureBackend",
            "OPTIONS": {**options, "transport": cosmos},
        },
        "flexible": {
            "BACKEND": "portal.backends.azure_flexible.FlexibleBackend",
            "OPTIONS": {**options, "transport": flexible},
        },
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return {"azure": cosmos, "flexible": flexible}


def accept_cost(backend: str, group: str) -> None:
    DrillPlan.objects.create(backend=backend, group_name=group, cloud_cost_accepted=True)


def operation_polls(arm: FakeArm) -> int:
    return len(arm.requests_to("GET", "/azureAsyncOperation/"))


@pytest.mark.parametrize(("key", "group"), [("azure", "orders"), ("flexible", "sales")])
def test_an_azure_drill_restores_says_the_checks_could_not_run_and_deletes_the_server(
    clouds, operator, operator_client, key, group
):
    arm = clouds[key]
    accept_cost(key, group)
    drill = services.drill_start(
        backend_key=key, group_name=group, trigger=Drill.Trigger.USER, user=operator
    )
    scratch = drill.scratch_name
    assert scratch == f"{group}-drill-{drill.pk}"

    drill = services.drill_run(drill_id=drill.pk)

    # Its own outcome: the restore is proven, the data is not; never "Passed".
    assert drill.status == Drill.Status.UNCHECKED, drill.message
    assert drill.get_status_display() == "Restored, not checked"
    assert drill.rto_seconds is not None and drill.ready_at is not None
    # The restore went through the SDK: one PUT of the scratch resource.
    (put,) = arm.requests_to("PUT", f"/{scratch}$")
    assert put.json["properties"].get("sourceResourceId") or put.json["properties"].get(
        "sourceServerResourceId"
    )
    # Every check says it did not run, and why; the drill says so too.
    assert drill.checks and all(check["passed"] is None for check in drill.checks)
    assert "AZURE_DRILL_DB_USER" in drill.checks[0]["detail"]
    assert drill.message.startswith("The restore reached Ready and the scratch group was removed")
    assert "no check ran" in drill.message
    # The scratch server was deleted through begin_delete, its operation followed to the end.
    (delete,) = arm.requests_to("DELETE", f"/{scratch}$")
    assert delete.status == 202
    assert operation_polls(arm) >= 3
    assert {r.path.rsplit("/", 1)[-1] for r in arm.requests_to("DELETE", "")} == {scratch}
    assert scratch not in {name for (_, _, name) in arm._resources()}
    assert drill.cleaned_up and "Deleted the scratch" in drill.cleanup and scratch in drill.cleanup
    assert group in {name for (_, _, name) in arm._resources()}
    # The fleet does not count it as a passed drill, and says it apart.
    html = operator_client.get("/drills/").content.decode()
    assert "Never drilled" in html and f'href="/drills/{drill.pk}/"' in html
    assert "no check ran, so it is not a passed drill" in html
    # Its restore is listed as the drill's, linked to the drill.
    operation = drill.operation
    assert operation.origin == "drill"
    listing = operator_client.get("/operations/").content.decode()
    assert f'<a href="/drills/{drill.pk}/">restore drill {drill.pk}</a> (drill)' in listing
    assert "(command line)" not in listing
    page = operator_client.get(f"/operations/{operation.pk}/").content.decode()
    assert f'<a href="/drills/{drill.pk}/">restore drill {drill.pk}</a> (drill)' in page


def test_a_failed_azure_restore_still_deletes_what_azure_left(clouds):
    arm = clouds["azure"]
    accept_cost("azure", "orders")
    drill = services.drill_start(backend_key="azure", group_name="orders", trigger="cli")
    arm.plan_restore(drill.scratch_name, error=("InternalServerError", "The restore failed."))

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.FAILED
    assert "The restore failed." in drill.message
    assert drill.cleaned_up and arm.requests_to("DELETE", f"/{drill.scratch_name}$")
    assert arm.cluster(SUB_A, RG, drill.scratch_name) is None


def test_a_drill_never_deletes_a_server_it_did_not_create(clouds):
    """A server already named like the scratch (made outside the portal): the restore is
    refused (409) and the drill leaves that server alone."""
    arm = clouds["azure"]
    accept_cost("azure", "orders")
    drill = services.drill_start(backend_key="azure", group_name="orders", trigger="cli")
    someone_elses = arm.add_cluster(SUB_A, RG, drill.scratch_name)

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.FAILED and "already exists" in drill.message
    assert drill.cleanup == "Nothing was created."
    assert not arm.requests_to("DELETE", "")
    assert arm.cluster(SUB_A, RG, drill.scratch_name) is someone_elses


def test_with_a_database_role_the_checks_say_why_the_server_cannot_be_reached(clouds, settings):
    settings.PORTAL_BACKENDS["flexible"]["OPTIONS"]["drill_db_user"] = "portal-drills"
    accept_cost("flexible", "sales")
    drill = services.drill_start(backend_key="flexible", group_name="sales", trigger="cli")

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.UNCHECKED
    detail = drill.checks[0]["detail"]
    assert f"cannot reach {drill.scratch_name}.postgres.database.azure.com" in detail
    assert "firewall rule" in detail and "portal-drills" in detail
    assert drill.cleaned_up and clouds["flexible"].server(SUB_A, RG, drill.scratch_name) is None


@pytest.mark.parametrize(("key", "group"), [("azure", "orders"), ("flexible", "sales")])
def test_a_dbas_delete_stays_refused_and_only_scratch_names_are_deleted(clouds, key, group):
    arm = clouds[key]
    backend = get_backend(key)
    source = backend.find_server_group(group)

    assert not backend.can_delete and backend.can_delete_scratch
    with pytest.raises(BackendError, match="not supported from this portal"):
        backend.delete_server_group(source.id)
    with pytest.raises(BackendError, match="not a restore drill's scratch group"):
        backend.delete_scratch_group(source.id, group, "")
    with pytest.raises(BackendError, match="not a restore drill's scratch group"):
        backend.delete_scratch_group(source.id, f"{group}-drill-x", "")
    assert not arm.requests_to("DELETE", "")
    assert backend.delete_scratch_group(source.id, f"{group}-drill-9", "").startswith(
        "Nothing to delete: Azure has no"
    )
    assert not arm.requests_to("DELETE", "")


def test_azure_drills_are_off_until_an_operator_accepts_the_cost(clouds, operator_client):
    url = "/servergroups/azure/orders/drills/"
    html = operator_client.get(url).content.decode()
    assert "billed while it exists" in html
    assert "An operator can turn them on for this group" in html
    response = operator_client.post(url, {"action": "run"}, follow=True)
    assert "The drill was not started" in response.content.decode()
    assert not Drill.objects.exists()

    operator_client.post(
        url, {"action": "schedule", "frequency": "off", "cloud_cost_accepted": "on"}
    )
    operator_client.post(url, {"action": "run"})
    assert Drill.objects.get().scratch_name.startswith("orders-drill-")


def test_a_drill_to_the_earliest_point_asks_azure_for_that_point(clouds):
    accept_cost("azure", "orders")
    earliest = clouds["azure"].cluster(SUB_A, RG, "orders").earliest_restore
    drill = services.drill_start(
        backend_key="azure", group_name="orders", point_choice="earliest", trigger="cli"
    )
    drill = services.drill_run(drill_id=drill.pk)
    (put,) = clouds["azure"].requests_to("PUT", f"/{drill.scratch_name}$")
    asked = datetime.fromisoformat(put.json["properties"]["pointInTimeUTC"].replace("Z", "+00:00"))
    assert abs(asked - earliest) < timedelta(seconds=1) and asked.tzinfo == UTC


def test_a_scratch_server_azure_would_not_delete_is_deleted_on_a_later_try(clouds):
    arm = clouds["flexible"]
    accept_cost("flexible", "sales")
    drill = services.drill_start(backend_key="flexible", group_name="sales", trigger="cli")
    arm.script(
        "DELETE",
        f"/{drill.scratch_name}$",
        status=409,
        body={"error": {"code": "ServerBusy", "message": "The server is busy."}},
    )

    drill = services.drill_run(drill_id=drill.pk)

    assert drill.status == Drill.Status.FAILED and not drill.cleaned_up
    assert "The scratch group was not removed" in drill.message
    assert "ServerBusy" in drill.cleanup
    assert arm.server(SUB_A, RG, drill.scratch_name) is not None
    # Not again within the minute; then the scheduler's next try removes it.
    assert services.drills_cleanup_retry() == []
    later = datetime.now(UTC) + timedelta(minutes=2)
    assert services.drills_cleanup_retry(now=later) == [drill.pk]
    drill.refresh_from_db()
    assert drill.cleaned_up and "Deleted the scratch server" in drill.cleanup
    assert "tried again at" in drill.cleanup
    assert arm.server(SUB_A, RG, drill.scratch_name) is None
    assert services.drills_cleanup_retry(now=later + timedelta(minutes=2)) == []


def test_cancel_during_an_azure_restore_lets_it_finish_then_deletes_the_server(
    clouds, operator, monkeypatch
):
    """Azure cannot stop a restore once begun: the drill says so, lets it reach Ready,
    skips its checks and deletes the scratch server at once."""
    accept_cost("azure", "orders")
    drill = services.drill_start(backend_key="azure", group_name="orders", trigger="cli")
    run_restore = services.restore_operation_run
    said = []

    def cancel_while_it_runs(*, operation_id, echo=None):
        said.append(services.drill_cancel(drill_id=drill.pk, user=operator))
        run_restore(operation_id=operation_id, echo=echo)

    monkeypatch.setattr(services, "restore_operation_run", cancel_while_it_runs)

    drill = services.drill_run(drill_id=drill.pk)

    assert "cannot stop a restore once it has begun" in said[0]
    assert "removes the scratch group as soon as it is Ready" in said[0]
    assert drill.status == Drill.Status.CANCELLED
    assert drill.message.startswith("Cancelled by olivia at ") and drill.checks == []
    assert drill.operation.status == "succeeded"
    assert drill.cleaned_up and clouds["azure"].requests_to("DELETE", f"/{drill.scratch_name}$")
    assert clouds["azure"].cluster(SUB_A, RG, drill.scratch_name) is None


def test_the_heartbeat_goes_on_while_a_slow_delete_runs(clouds, monkeypatch):
    """A cloud's delete can take minutes: the drill must not look dead meanwhile, or
    another scheduler would finish it and delete the server a second time."""
    accept_cost("azure", "orders")
    drill = services.drill_start(backend_key="azure", group_name="orders", trigger="cli")
    monkeypatch.setattr(services, "HEARTBEAT_SECONDS", 0.1)
    remove = services.scratch_remove
    seen = {}

    def slow_remove(backend, drill):
        # The delete does not end until the heartbeat has beaten during it.
        seen["before"] = Drill.objects.get(pk=drill.pk).heartbeat_at
        seen["after"] = wait_for(
            lambda: (
                Drill.objects.filter(pk=drill.pk, heartbeat_at__gt=seen["before"])
                .values_list("heartbeat_at", flat=True)
                .first()
            ),
            timeout=60,
            what="a heartbeat during the delete",
        )
        return remove(backend, drill)

    monkeypatch.setattr(services, "scratch_remove", slow_remove)

    drill = services.drill_run(drill_id=drill.pk)

    assert seen["after"] > seen["before"]
    assert drill.status == Drill.Status.UNCHECKED and drill.cleaned_up
