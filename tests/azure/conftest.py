"""Fixtures for the Azure backend: the real SDK over a fake ARM transport."""

import sys
from pathlib import Path

import pytest

# tests/azure has no __init__.py on purpose: as a package it would shadow the SDK's
# `azure` namespace. So the repository root must be importable for `tests.fakes.azure_arm`.
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from portal.backends.azure import AzureBackend  # noqa: E402
from tests.fakes.azure_arm import SUB_A, FakeArm, FakeCredential  # noqa: E402


@pytest.fixture
def arm() -> FakeArm:
    return FakeArm()


@pytest.fixture
def credential() -> FakeCredential:
    return FakeCredential()


@pytest.fixture
def make_backend(arm, credential):
    def make(**options) -> AzureBackend:
        options.setdefault("subscription_ids", [SUB_A])
        options.setdefault("polling_interval", 0)
        return AzureBackend(credential=credential, transport=arm, **options)

    return make


@pytest.fixture
def orders(arm):
    """A three-node production server group with a week of backups."""
    return arm.add_cluster(SUB_A, "rg-prod", "orders", node_count=2, tags={"team": "payments"})
