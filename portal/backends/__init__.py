"""The backend registry: one instance per entry of ``settings.PORTAL_BACKENDS``.

Each entry is ``{"BACKEND": "dotted.path.Class", "OPTIONS": {...}}``, the way
Django's own task and cache backends are configured. Instances are built once per
process and shared; ``reset_backends()`` forgets them (tests, settings changes).
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .base import Backend, BackendError, NotFound

_lock = threading.Lock()
_backends: dict[str, Backend] | None = None


def get_backends() -> dict[str, Backend]:
    global _backends
    with _lock:
        if _backends is None:
            built = {}
            for key, entry in settings.PORTAL_BACKENDS.items():
                backend_class = import_string(entry["BACKEND"])
                built[key] = backend_class(key=key, **entry.get("OPTIONS", {}))
            _backends = built
        return _backends


def get_backend(key: str) -> Backend:
    try:
        return get_backends()[key]
    except KeyError:
        raise NotFound(f"No backend named '{key}' is configured.") from None


def reset_backends(**kwargs) -> None:
    global _backends
    with _lock:
        _backends = None


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting == "PORTAL_BACKENDS":
        reset_backends()


setting_changed.connect(_on_setting_changed)

__all__ = ["Backend", "BackendError", "NotFound", "get_backend", "get_backends", "reset_backends"]
