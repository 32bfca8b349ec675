"""The portal's var/ folder, database and secret key are unreadable by other local users,
created so, and the start-up check refuses to run when one is not."""

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def manage(*args, var_dir: Path):
    skip = {"SECRET_KEY", "PORTAL_ENV", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(PORTAL_VAR_DIR=str(var_dir), PORTAL_BACKENDS="")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def nobody_can_read(path: Path) -> bool:
    probe = ["runuser", "-u", "nobody", "--", "test", "-r", str(path)]
    return subprocess.run(probe).returncode == 0


@pytest.fixture
def fresh_var():
    """A portal started for the first time, in a folder every user may pass through
    (as a checkout under /srv or /home would be)."""
    parent = Path(tempfile.mkdtemp(prefix="portal-var-", dir="/tmp"))
    parent.chmod(0o755)
    var_dir = parent / "var"
    migrated = manage("migrate", "-v0", var_dir=var_dir)
    assert migrated.returncode == 0, migrated.stderr
    yield var_dir
    subprocess.run(["rm", "-rf", str(parent)], check=True)


def test_nothing_the_portal_creates_under_var_is_readable_by_another_user(fresh_var):
    # A writer holds the database open in WAL mode, so that -wal and -shm exist too.
    writer = sqlite3.connect(fresh_var / "portal.sqlite3")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE held_open (x)")
    writer.execute("INSERT INTO held_open VALUES (1)")
    writer.commit()
    control = fresh_var.parent / "world-readable"
    control.write_text("x")
    control.chmod(0o644)
    try:
        paths = [fresh_var, *sorted(fresh_var.rglob("*"))]
        names = {path.name for path in paths}
        assert {"portal.sqlite3", "portal.sqlite3-wal", "portal.sqlite3-shm", "secret_key"} <= names
        # The probe itself works: nobody reads a world-readable file beside var/.
        assert nobody_can_read(control)
        readable = [str(path) for path in paths if nobody_can_read(path)]
    finally:
        writer.close()
    assert readable == []
    assert (fresh_var.stat().st_mode & 0o777) == 0o711
    assert ((fresh_var / "secret_key").stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("name", ["portal.sqlite3", "secret_key"])
def test_the_start_up_check_names_a_readable_file_and_the_fix(fresh_var, name):
    target = fresh_var / name
    target.chmod(0o644)

    result = manage("check", var_dir=fresh_var)

    assert result.returncode != 0
    assert f"{target} is readable or writable by other users (mode 0644)" in result.stderr
    assert f"chmod 600 {target}" in result.stderr


def test_the_start_up_check_refuses_a_var_folder_others_can_list(fresh_var):
    fresh_var.chmod(0o755)

    result = manage("check", var_dir=fresh_var)

    assert result.returncode != 0
    assert f"chmod 711 {fresh_var}" in result.stderr


def test_the_web_server_refuses_to_start_with_a_readable_database(fresh_var):
    (fresh_var / "portal.sqlite3").chmod(0o640)
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DATABASE_URL"}}
    env.update(PORTAL_VAR_DIR=str(fresh_var), PORTAL_BACKENDS="")

    result = subprocess.run(
        [sys.executable, "-c", "import portal.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"chmod 600 {fresh_var / 'portal.sqlite3'}" in result.stderr


def test_a_clean_start_passes_the_check(fresh_var):
    result = manage("check", var_dir=fresh_var)

    assert result.returncode == 0, result.stderr
