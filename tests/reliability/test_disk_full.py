"""The restore target's disk fills up: a clear error, everything of the target removed,
the source intact and restorable once there is room again.

The engine's root is a small tmpfs of its own. The source fits with room to spare for
its own WAL; a file takes the rest but for half of what the restore must unpack.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from localcloud import Engine
from localcloud.testing import create_ticks, kill_under, processes_under, remove_os_users
from portal.backends import get_backend
from restore_wizard.models import RestoreOperation
from restore_wizard.services.operations import restore_operation_start
from restore_wizard.services.runner import restore_operation_run

from .conftest import BASE_PORT, fill, fingerprint, nothing_left_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PORTS = BASE_PORT + 600


@pytest.fixture
def small_disk():
    mountpoint = Path(tempfile.mkdtemp(prefix="rel-full-", dir="/tmp"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256m,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        if os.environ.get("CI"):  # CI runs as root: a refusal there is a broken machine
            pytest.fail(f"mount -t tmpfs failed in CI: {mounted.stderr.strip()}")
        pytest.skip(
            "a small filesystem is needed and this machine refuses to mount one "
            f"(mount -t tmpfs: {mounted.stderr.strip() or mounted.returncode}; "
            "it needs root or CAP_SYS_ADMIN)"
        )
    engine = Engine(mountpoint / "lc", base_port=PORTS)
    try:
        yield engine
    finally:
        try:
            engine.stop_all()
        finally:
            kill_under(mountpoint)
            remove_os_users(engine)
            shutil.rmtree(engine.socket_dir, ignore_errors=True)
            shutil.rmtree(engine.sockets_root, ignore_errors=True)
            subprocess.run(["umount", str(mountpoint)], check=True)
            mountpoint.rmdir()
    assert processes_under(mountpoint) == []


def test_restore_that_fills_the_disk_fails_clearly_and_leaves_the_source_intact(
    small_disk, settings, operator
):
    engine = small_disk
    engine.create_group("df-src", workers=0, setup=create_ticks)
    fill(engine, "df-src", rows=20_000)
    engine.backup_group("df-src")
    expected = fingerprint(engine, "df-src")
    before = engine.catalog.read()["groups"]["df-src"]
    backup_size = before["nodes"][0]["backups"][-1]["size"]
    room = os.statvfs(engine.root)
    spare = room.f_bavail * room.f_frsize - backup_size // 2
    assert spare > 0, "the source takes too much of the small disk"
    filler = engine.root / "filler"
    with open(filler, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, spare)
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(engine.root), "base_port": PORTS},
        }
    }
    backend = get_backend("local")
    operation, _ = restore_operation_start(
        user=operator,
        backend=backend,
        group=backend.get_server_group("df-src"),
        choice="custom",
        point=backend.restore_window("df-src").latest,
        target_name="df-copy",
        idempotency_key=uuid.uuid4(),
    )

    restore_operation_run(operation_id=operation.pk)

    operation.refresh_from_db()
    assert operation.status == RestoreOperation.Status.FAILED
    assert operation.message.startswith("The restore to 'df-copy' failed and was rolled back: ")
    assert "No space left on device" in operation.message
    assert "Traceback" not in operation.message
    nothing_left_of(engine, "df-copy", [])
    assert engine.catalog.read()["groups"]["df-src"] == before
    assert engine.get_group("df-src").status == "Ready"
    assert fingerprint(engine, "df-src") == expected

    filler.unlink()
    engine.restore("df-src", "df-copy", backend.restore_window("df-src").latest)
    assert fingerprint(engine, "df-copy") == expected
