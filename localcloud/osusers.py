"""One operating-system user per group, one operating-system group per lineage.

When the engine runs as root, each group's nodes run as a system user of their own
(``lc_`` and 12 hex digits of the group's id; no home, no login shell) that owns only
that group's folders. Its primary group is the group of its lineage (``lcl_`` and the id
of the group the lineage started from): a group and every group restored from it, and
from those, share it. Archived WAL and backups are readable by that group (0640, folders
0750), data directories by their user only (0700). Why a lineage shares: a restore reads
its source's backup and archive, and adopts them with hard links, which share one inode
(one owner, one mode) with the source's files; a restored group holds its source's data
and admin password anyway. A group of another lineage reads nothing of it.

Users and the lineage group are removed with the last group of the lineage, so no
uid or gid that owns a file of the lineage is handed to an unrelated user meanwhile.
"""

from __future__ import annotations

import grp
import pwd
import subprocess

from .errors import LocalCloudError

NOLOGIN = "/usr/sbin/nologin"


def user_name(uid: str) -> str:
    return "lc_" + uid.replace("-", "")[:12]


def lineage_name(uid: str) -> str:
    return "lcl_" + uid.replace("-", "")[:12]


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed programs, names made by the engine
        list(command), capture_output=True, text=True, timeout=60, check=False, cwd="/"
    )


def exists_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def exists_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def ensure(user: str, group: str) -> None:
    """Create the lineage ``group`` and the system ``user`` in it (both idempotent)."""
    if not exists_group(group):
        done = _run("groupadd", "--system", group)
        if done.returncode not in (0, 9):  # 9: it exists (made meanwhile)
            raise LocalCloudError(f"Could not create the OS group {group}: {done.stderr.strip()}")
    if not exists_user(user):
        done = _run(
            "useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
            "--shell", NOLOGIN, "--gid", group, "--no-user-group", user,
        )  # fmt: skip
        if done.returncode not in (0, 9):
            raise LocalCloudError(f"Could not create the OS user {user}: {done.stderr.strip()}")


def remove_lineage(group: str) -> None:
    """Delete the users of lineage ``group`` (their processes must be gone), then it.

    Called with the last group of the lineage: until then a deleted group's user stays
    (no login, no processes), because its uid still owns files its restores adopted
    with hard links, and a new user given that uid would own them.
    """
    if not exists_group(group):
        return
    gid = grp.getgrnam(group).gr_gid
    for entry in pwd.getpwall():
        if entry.pw_gid == gid and entry.pw_name.startswith("lc_"):
            _run("userdel", entry.pw_name)
    _run("groupdel", group)
