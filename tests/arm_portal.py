"""The portal pointed at one Azure backend whose SDK talks to a fake ARM (only its HTTP
transport is replaced), with tasks run by ``tasks``."""

from tests.fakes.azure_arm import FakeCredential

IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"


def serve_arm(
    settings, key: str, backend: str, arm, subscription: str, *, tasks: str = IMMEDIATE
) -> None:
    """Make ``backend`` (a dotted class path), registered as ``key``, the portal's only
    cloud, in ``subscription``, with ``arm`` as its transport and no polling delay."""
    settings.PORTAL_BACKENDS = {
        key: {
            "BACKEND": backend,
            "OPTIONS": {
                "subscription_ids": [subscription],
                "credential": FakeCredential(),
                "transport": arm,
                "polling_interval": 0,
            },
        }
    }
    settings.TASKS = {"default": {"BACKEND": tasks}}
