"""The portal's own files under ``var/``: created private, and checked at start-up.

What is secret there: the SQLite database (session keys and password hashes) with its
``-wal`` and ``-shm`` files, and ``secret_key`` (it signs sessions). Each is created
readable by its owner only, whatever the process's umask: files through ``os.open``
with mode 0600, and the database before SQLite opens it, because SQLite gives the
``-wal``, ``-shm`` and ``-journal`` files it creates the mode of the database file.

``var/`` itself is 0711: its owner lists and writes it, nobody else can list it or
read a file in it, and other users may only pass through it to a path they already
know. localcloud's root lives in it by default, and when the engine runs as root the
PostgreSQL servers run as other users who must reach their own folders there.

This module imports no Django: settings.py uses it before Django is set up.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

VAR_MODE = 0o711
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_dir(path: Path, mode: int = VAR_MODE) -> Path:
    """Create ``path`` (and its parents) if missing; a folder this code creates gets
    ``mode`` at once. An existing folder keeps its mode: the start-up check judges it."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        path.chmod(mode)
    return path


def private_file_create(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only, atomically."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sqlite_file_create(path: Path) -> None:
    """Create an empty SQLite database file with mode 0600 before SQLite does (with
    0644 less the umask), so that its -wal and -shm files are private too."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, FILE_MODE)


def secret_key_read_or_create(path: Path) -> str:
    """The key generated once per checkout, so nothing secret lives in the repository."""
    if not path.exists():
        private_dir(path.parent)
        private_file_create(path, secrets.token_urlsafe(50))
    return path.read_text().strip()


def open_to_others(path: Path, *, folder: bool = False) -> str | None:
    """Why ``path`` is not private, or None: a file must have no permission for group
    or others; a folder may let others pass through (x) but not list or write it."""
    try:
        mode = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:
        return None
    if path.is_symlink():
        return f"{path} is a symbolic link; the portal's files must be plain files."
    allowed = 0o011 if folder else 0
    if mode & 0o077 & ~allowed:
        wanted = VAR_MODE if folder else FILE_MODE
        return (
            f"{path} is readable or writable by other users (mode {mode:04o}). "
            f"Fix it with: chmod {wanted:o} {path}"
        )
    return None


def private_files_problems(*, var_dir: Path, secret_key: Path | None, sqlite: Path | None):
    """Every portal file or folder that other local users could read or write."""
    found = [open_to_others(var_dir, folder=True)]
    if secret_key is not None:
        found.append(open_to_others(secret_key))
    if sqlite is not None:
        found += [open_to_others(Path(f"{sqlite}{suffix}")) for suffix in SQLITE_SUFFIXES]
    return [problem for problem in found if problem]
