"""The portal pointed at a test's own localcloud engine: its one backend, named "local"."""

from __future__ import annotations

from localcloud import Engine


def serve_engine(settings, engine: Engine, *, poll_seconds: float | None = None) -> Engine:
    """Make ``engine`` the portal's only cloud (and, if given, how often pages poll)."""
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(engine.root), "base_port": engine.base_port},
        }
    }
    if poll_seconds is not None:
        settings.PORTAL_POLL_SECONDS = poll_seconds
    return engine
