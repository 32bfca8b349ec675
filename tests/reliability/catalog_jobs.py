"""Engine calls run in other OS processes by test_catalog_concurrency (spawned, so each
is a fresh interpreter with its own catalog handle, as the web, worker and agent are)."""

from __future__ import annotations

from pathlib import Path

from localcloud import Engine, LocalCloudError


def run(root: str, base_port: int, action: str, name: str, source: str = "") -> tuple[str, str]:
    """One engine call; returns (name, "ok") or (name, the error's code: message)."""
    engine = Engine(Path(root), base_port=base_port)
    try:
        if action == "create":
            engine.create_group(name, workers=1)
        elif action == "restore":
            engine.restore(source, name)
        elif action == "delete":
            engine.delete_group(name)
        else:
            raise ValueError(action)
    except LocalCloudError as error:
        return name, f"{error.code}: {error.message}"
    return name, "ok"
