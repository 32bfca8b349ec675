"""portal.files: which modes count as private, and files created private whatever the umask."""

import os
import sqlite3

import pytest

from portal import files


@pytest.fixture
def open_umask():
    """The loosest umask: what the portal creates must be private anyway."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.parametrize(
    ("mode", "private"),
    [(0o700, True), (0o711, True), (0o701, True), (0o750, False), (0o755, False), (0o713, False)],
)
def test_a_folder_may_be_passed_through_but_not_listed_or_written(tmp_path, mode, private):
    folder = tmp_path / "var"
    folder.mkdir()
    folder.chmod(mode)

    problem = files.open_to_others(folder, folder=True)

    assert (problem is None) == private
    if problem:
        assert f"chmod 711 {folder}" in problem


@pytest.mark.parametrize(
    ("mode", "private"),
    [(0o600, True), (0o400, True), (0o640, False), (0o604, False), (0o601, False)],
)
def test_a_file_must_have_no_permission_for_others(tmp_path, mode, private):
    path = tmp_path / "secret_key"
    path.write_text("x")
    path.chmod(mode)

    assert (files.open_to_others(path) is None) == private


def test_a_symbolic_link_in_place_of_a_file_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("x")
    target.chmod(0o600)
    link = tmp_path / "secret_key"
    link.symlink_to(target)

    assert "symbolic link" in files.open_to_others(link)


def test_the_secret_key_and_database_are_created_private_under_an_open_umask(tmp_path, open_umask):
    var_dir = files.private_dir(tmp_path / "var")
    key = files.secret_key_read_or_create(var_dir / "secret_key")
    database = var_dir / "portal.sqlite3"
    files.sqlite_file_create(database)
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    try:
        modes = {p.name: p.stat().st_mode & 0o777 for p in var_dir.iterdir()}
    finally:
        conn.close()

    assert len(key) >= 50
    assert modes == {
        "secret_key": 0o600,
        "portal.sqlite3": 0o600,
        "portal.sqlite3-wal": 0o600,
        "portal.sqlite3-shm": 0o600,
    }
    assert var_dir.stat().st_mode & 0o777 == 0o711
    assert (
        files.private_files_problems(
            var_dir=var_dir, secret_key=var_dir / "secret_key", sqlite=database
        )
        == []
    )
