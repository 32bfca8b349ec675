"""Where the server groups under one root live: the folders, sockets and OS users of
their nodes, and the ``Postgres`` each node's programs run as.

``Layout`` is what every part of localcloud that works on a group's files needs (the
restore, the preview, the WAL event index); ``Engine`` is a ``Layout`` and adds the
lifecycle on top, so those parts never import the engine.

Whatever the engine creates (catalog, lock files, event index) gets an explicit mode;
the programs it runs get umask 077 (node.Postgres). The process umask is the portal's,
left alone.
"""

from __future__ import annotations

import grp
import hashlib
import os
import stat
from pathlib import Path

from . import archive, firewall, osusers
from .catalog import Catalog
from .errors import LocalCloudError
from .node import Node, Postgres
from .records import GroupRecord, NodeRecord

PG_BIN = "/usr/lib/postgresql/15/bin"


class Layout:
    """The files of the groups under ``root``, and how their programs run."""

    def __init__(
        self,
        root: str | Path,
        *,
        base_port: int = 15432,
        pg_bin: str | Path = PG_BIN,
        os_user: str = "postgres",
    ):
        self.root = Path(root).absolute()
        self.base_port = base_port
        self.pg = Postgres(pg_bin, os_user)
        self.catalog = Catalog(self.root)
        self.bin_dir = self.root / "bin"
        self._prepared = False
        self._pgs: dict[tuple[str, str], Postgres] = {}

    # Paths ---------------------------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        """One short socket directory for every node of this root (paths < 108 bytes)."""
        local = self.root / "run"
        if len(str(local)) <= 80:
            return local
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        return Path("/tmp") / f"localcloud-{digest}"

    @property
    def sockets_root(self) -> Path:
        """Root's folder (0711) of the per-user socket folders of groups that run as an
        OS user of their own (the full socket path must stay under 108 bytes)."""
        local = self.root / "sockets"
        if len(str(local)) <= 72:
            return local
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        return Path("/tmp") / f"localcloud-{digest}-sockets"

    def group_dir(self, name: str) -> Path:
        return self.root / "groups" / name

    def pg_for(self, group: GroupRecord) -> Postgres:
        """How the programs of ``group`` run: as its own OS user when it has one (see
        osusers.py), else as the engine's PostgreSQL user (groups made before, or an
        engine that does not run as root)."""
        user = group.get("os_user")
        if not user:
            return self.pg
        key = (user, group["os_group"])
        if key not in self._pgs:
            if not osusers.exists_user(user):
                return self.pg  # not made yet (a restore just reserved) or removed
            self._pgs[key] = Postgres(self.pg.bin_dir, user, group["os_group"])
        return self._pgs[key]

    def group_socket_dir(self, group: GroupRecord) -> Path:
        user = group.get("os_user")
        return self.sockets_root / user if user else self.socket_dir

    def node(self, group: GroupRecord | str, record: NodeRecord) -> Node:
        """One node of ``group`` (its catalog record, or its name)."""
        if isinstance(group, str):
            group = self.catalog.read()["groups"].get(group) or {"name": group}
        return Node(
            pg=self.pg_for(group),
            label=f"{group['name']}/{record['name']}",
            dir=self.group_dir(group["name"]) / record["name"],
            port=record["port"],
            socket_dir=self.group_socket_dir(group),
        )

    def nodes(self, group: GroupRecord) -> list[Node]:
        return [self.node(group, record) for record in group["nodes"]]

    def make_group_dirs(self, group: GroupRecord) -> None:
        """The group's OS user (when it has one), its folder and its socket folder."""
        if group.get("os_user"):
            osusers.ensure(group["os_user"], group["os_group"])
        pg = self.pg_for(group)
        if group.get("os_user"):
            pg.make_dir(self.group_socket_dir(group), 0o700)
        pg.make_dir(self.group_dir(group["name"]), pg.share_mode)

    def prepare(self) -> None:
        """Create the root so that the PostgreSQL user can traverse it and nobody else
        can list or read anything in it; refuse to go on when something is not private."""
        if self._prepared:
            return
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.root.chmod(0o711)
        groups = self.root / "groups"
        groups.mkdir(mode=0o711, exist_ok=True)
        groups.chmod(0o711)
        self.pg.make_dir(self.socket_dir, 0o700)
        # Root's, passable by every group's OS user into a folder of its own.
        for shared in (self.sockets_root, self.root / "previews", self.root / "events-tmp"):
            shared.mkdir(mode=0o711, parents=True, exist_ok=True)
            os.chown(shared, os.geteuid(), os.getegid(), follow_symlinks=False)
            shared.chmod(0o711)
        archive.install_scripts(self.pg, self.bin_dir)
        self._tighten()
        problems = self.private_problems()
        if problems:
            raise LocalCloudError(" ".join(problems))
        self._prepared = True

    def _tighten(self) -> None:
        """Take group and other access away from what earlier versions of the engine
        left readable (a lock file, the event index, group directories)."""
        me = os.geteuid()
        shared = ("groups", "bin", "events-tmp", "sockets", "previews")
        entries = [path for path in self.root.iterdir() if path.name not in shared]
        entries += list((self.root / "groups").iterdir())
        for path in entries:
            info = os.lstat(path)
            mine = info.st_uid in (me, self.pg.uid)
            if mine and not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o077:
                # Safe as root: these are entries of directories only root can change.
                os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)

    def private_problems(self) -> list[str]:
        """Entries under the root another local user could read, list or change (every
        deeper file sits in a directory of mode 0700); [] when all is private."""
        allowed = {
            self.root: 0o011,
            self.root / "groups": 0o011,
            self.root / "events-tmp": 0o011,
            self.root / "sockets": 0o011,
            self.root / "previews": 0o011,
            self.bin_dir: 0o010,
        }
        # A group with an OS user of its own shares its folder with its lineage's group.
        lineage = {
            self.group_dir(name): group["os_group"]
            for name, group in self.catalog.read()["groups"].items()
            if group.get("os_group")
        }
        paths = [self.root, *self.root.iterdir()] if self.root.exists() else []
        for parent in (self.root / "groups", self.root / "previews"):
            if parent.is_dir():
                paths += list(parent.iterdir())
        problems = []
        for path in paths:
            info = os.lstat(path)
            permitted = allowed.get(path, 0)
            if path in lineage and osusers.exists_group(lineage[path]):
                if info.st_gid == grp.getgrnam(lineage[path]).gr_gid:
                    permitted = 0o050
            extra = stat.S_IMODE(info.st_mode) & 0o077 & ~permitted
            if stat.S_ISLNK(info.st_mode):
                problems.append(f"{path} is a symbolic link; the engine made none there.")
            elif extra:
                problems.append(
                    f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}); "
                    f"run: chmod go-rwx {path}"
                )
        if problems:
            problems.insert(
                0,
                f"The localcloud root {self.root} holds admin passwords and every group's "
                "data, so it must be private to its owner:",
            )
        return problems

    # Node setup shared by create and restore ---------------------------------------

    def configure(self, group: GroupRecord, record: NodeRecord, node: Node) -> None:
        node.write_config(
            archive.archive_command(self.bin_dir, node.archive, record["compression"])
        )
        node.write_hba(firewall.hba_cidrs(group.get("firewall_rules", [])))
