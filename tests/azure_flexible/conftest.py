"""Fixtures for the flexible server backend: the real SDK over a fake ARM transport."""

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

# No __init__.py here, as in tests/azure: the repository root must be importable.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from portal.backends.azure_flexible import FlexibleBackend  # noqa: E402
from tests.fakes.azure_arm import FakeCredential  # noqa: E402
from tests.fakes.azure_flexible_arm import SUB_A, FlexibleArm, FlexServer  # noqa: E402


@pytest.fixture
def arm() -> FlexibleArm:
    return FlexibleArm()


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def make_backend(arm, credential):
    def make(**options) -> FlexibleBackend:
        options.setdefault("subscription_ids", [SUB_A])
        options.setdefault("polling_interval", 0)
        return FlexibleBackend(credential=credential, transport=arm, **options)

    return make


@pytest.fixture
def backend(make_backend) -> FlexibleBackend:
    return make_backend()


@pytest.fixture
def sales(arm) -> FlexServer:
    """A single server with geo-redundant backup, changed parameters and firewall rules."""
    server = arm.add_server(
        SUB_A,
        "rg-prod",
        "sales",
        geo_redundant=True,
        earliest_restore=(datetime.now(UTC) - timedelta(days=6)).replace(microsecond=250000),
        tags={"team": "sales"},
    )
    server.firewall_rules = {
        "office": ("203.0.113.0", "203.0.113.255"),
        "vpn": ("198.51.100.7", "198.51.100.7"),
    }
    server.parameters = {"work_mem": "65536", "max_connections": "500"}
    return server


@pytest.fixture
def events(arm) -> FlexServer:
    """An elastic cluster of four nodes, without geo-redundant backup."""
    return arm.add_server(SUB_A, "rg-prod", "events", cluster_size=4, location="eastus")
