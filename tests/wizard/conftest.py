"""The wizard against the Azure backend: the real SDK over FakeArm, the portal's own settings.

``use_azure`` is a plain function so that the browser suite can configure its live
server the same way; the ``azure`` fixture applies it for the tests in this folder.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from portal.backends import get_backend
from restore_wizard.services.operations import restore_operation_start
from tests.arm_portal import IMMEDIATE, serve_arm
from tests.fakes.azure_arm import SUB_A, Cluster, FakeArm

SOURCE = "orders"
RESOURCE_GROUP = "rg-prod"
LOCATION = "westeurope"
RESTORE_URL = f"/servergroups/azure/{SOURCE}/restore/"
DETAILS_URL = RESTORE_URL + "details/"


def build_arm() -> FakeArm:
    """An ARM with one production server group worth restoring.

    Its earliest restore point has a fraction of a second, as Azure's do, and it has
    firewall rules, changed parameters and roles for the post-restore tasks to compare.
    """
    arm = FakeArm()
    earliest = (datetime.now(UTC) - timedelta(days=7)).replace(microsecond=654321)
    orders = arm.add_cluster(
        SUB_A,
        RESOURCE_GROUP,
        SOURCE,
        location=LOCATION,
        node_count=2,
        earliest_restore=earliest,
        tags={"team": "payments"},
    )
    orders.firewall_rules = {
        "office": ("203.0.113.0", "203.0.113.255"),
        "vpn": ("198.51.100.7", "198.51.100.7"),
    }
    orders.parameters = {
        "work_mem": {"coordinator": "65536", "worker": "32768"},
        "max_connections": {"coordinator": "500"},
    }
    orders.roles = ["app_rw", "citus", "reporting"]
    arm.restore_plans = {}
    arm.default_plan.in_progress = 1
    return arm


def use_azure(settings, arm: FakeArm, *, tasks: str = IMMEDIATE) -> None:
    """Point the portal at Azure (through ``arm``) and run tasks with ``tasks``."""
    serve_arm(settings, "azure", "portal.backends.azure.AzureBackend", arm, SUB_A, tasks=tasks)


def start_orders_restore(user, name: str, key: uuid.UUID | None = None):
    """``user`` starts a restore of Azure's ``orders`` at its earliest point into ``name``
    (a fresh idempotency key unless ``key``), as the wizard's OK does."""
    backend = get_backend("azure")
    return restore_operation_start(
        user=user,
        backend=backend,
        group=backend.find_server_group("orders"),
        choice="earliest",
        point=None,
        target_name=name,
        idempotency_key=key or uuid.uuid4(),
    )


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """Users are made in almost every test here; the default hasher costs ~0.3 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def arm() -> FakeArm:
    return build_arm()


@pytest.fixture
def source(arm) -> Cluster:
    return arm.cluster(SUB_A, RESOURCE_GROUP, SOURCE)


@pytest.fixture
def azure(settings, arm) -> FakeArm:
    use_azure(settings, arm)
    return arm


def restore_puts(arm: FakeArm) -> list:
    """Every restore Azure was asked for (a PUT of a cluster)."""
    return arm.requests_to("PUT", r"/serverGroupsv2/[^/]+$")


def details_form(client, choice: str = "earliest") -> dict:
    """What step 2 hands the browser, as the browser would post it back."""
    html = client.get(DETAILS_URL, {"choice": choice}).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)[1]
    return {
        "choice": choice,
        "idempotency_key": key,
        "source_id": f"/subscriptions/{SUB_A}/resourceGroups/{RESOURCE_GROUP}"
        f"/providers/Microsoft.DBforPostgreSQL/serverGroupsv2/{SOURCE}",
        "subscription": SUB_A,
        "resource_group": RESOURCE_GROUP,
        "location": LOCATION,
    }


@pytest.fixture
def restore_into(operator_client, azure, django_capture_on_commit_callbacks):
    """Run the wizard's earliest restore into ``name`` to its end (immediate tasks)."""

    def run(name: str):
        from restore_wizard.models import RestoreOperation

        form = {**details_form(operator_client), "target_name": name}
        with django_capture_on_commit_callbacks(execute=True):
            response = operator_client.post(RESTORE_URL, form)
        assert response.status_code == 302, response.content.decode()
        return RestoreOperation.objects.get(target_name=name)

    return run


DAY_GROUP = "ledger-0000"
DAY_URL = f"/servergroups/local/{DAY_GROUP}/restore/"


@pytest.fixture
def day_window(settings):
    """A group with a day-long window and two DROP TABLEs one second apart."""
    settings.PORTAL_BACKENDS = {
        "local": {"BACKEND": "tests.fakes.doubles.TimelineBackend", "OPTIONS": {"count": 1}}
    }
    from portal.backends import get_backend

    return get_backend("local")
