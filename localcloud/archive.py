"""Continuous WAL archiving: the engine-owned archive and restore commands, and sealing.

Archived files are compressed (zstd when installed, else gzip): with 1 MB segments an
``archive_timeout`` switch of a nearly empty segment costs a few kilobytes.

Sealing (``seal``) makes every commit made so far on a running node restorable from its
archive: recovery to T stops only at a commit record after T, and the segment holding
the newest commits is still being written. So a seal writes one commit now, switches to
a new segment (``pg_switch_wal()``) and waits until the old one is archived. A restore,
a preview and a stop seal the nodes they read (``Engine.seal_group`` seals a group).

Beside each archived file ``NAME.EXT`` lies ``NAME.EXT.sha256``, the SHA-256 of the
archived bytes in ``sha256sum``'s format, written (and synced) before the file itself:
a restore checks every file against it before recovery reads it (walfeed.py and the
restore command). Files archived before checksums were kept have none and are used
unchecked.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import stat
import time
from datetime import datetime
from pathlib import Path

from .errors import LocalCloudError, NodeFailed
from .node import Node, Postgres, read_owned

ARCHIVE_SCRIPT = """#!/bin/sh
# localcloud archive_command: archive-wal ARCHIVE_DIR EXT PATH NAME
# Readers must never see half a file: write a temporary file, fsync, rename. The
# checksum file goes first, so an archived file always has its checksum beside it.
set -eu
dir=$1 ext=$2 src=$3 name=$4
dest="$dir/$name.$ext"
unpack() { case $ext in zst) zstd -dqc "$1" ;; *) gzip -dc "$1" ;; esac; }
if [ -f "$dest" ]; then
    # Archived before a crash hid the success from the server: accept the same bytes only.
    unpack "$dest" | cmp -s - "$src"
    exit $?
fi
tmp="$dir/.$name.$ext.tmp"
sumtmp="$dir/.$name.$ext.sha256.tmp"
# Every failure exits 1: PostgreSQL aborts its archiver on a status above 125 (zstd
# crashes with 139 when it cannot open its output), and the postmaster restarts the
# archiver only up to a minute later, so one full or read-only archive stalls it.
fail() { rm -f "$tmp" "$sumtmp"; exit 1; }
case $ext in
    zst) zstd -q -1 -f -o "$tmp" "$src" || fail ;;
    *) gzip -1 -c "$src" > "$tmp" || fail ;;
esac
sum=$(sha256sum < "$tmp") || fail
printf '%s  %s\\n' "${sum%% *}" "$name.$ext" > "$sumtmp" || fail
# Readable by the group's lineage (a restore of it reads and adopts it), nobody else.
chmod 0640 "$tmp" "$sumtmp" || fail
sync "$tmp" "$sumtmp" || fail
mv -f "$sumtmp" "$dest.sha256" || fail
mv -f "$tmp" "$dest" || fail
sync "$dir"
"""

RESTORE_SCRIPT = """#!/bin/sh
# localcloud restore_command: restore-wal ARCHIVE_DIR EXT NAME PATH [STAGE]
# (A segment the feeder (walfeed.py) put in pg_wal never gets here: restore_command.
# STAGE is its folder, for the marks below.) Anything else is fetched from the archive
# here, checked against its checksum first.
set -eu
dir=$1 ext=$2 name=$3 dest=$4 stage=${5:-}
src="$dir/$name.$ext"
[ -f "$src" ] || exit 1
# Tell the feeder that recovery got here without it, so that it skips ahead. (Not ":",
# a special builtin: its failed redirection would end the script with status 2.)
[ -z "$stage" ] || true 2>/dev/null > "$stage/.taken-$name" || true
# A damaged file: with a feeder, exit 1 (as at the archive's end) and leave a mark, and
# the engine fails the restore if recovery needed the file (its look-ahead past T may
# ask for one it does not need). Without one, exit 126: recovery stops with an error.
refuse() {
    echo "localcloud: $src $1" >&2
    [ -n "$stage" ] || exit 126
    true 2>/dev/null > "$stage/.damaged-$name" || exit 126
    exit 1
}
if [ -f "$src.sha256" ]; then
    want=
    read -r want rest < "$src.sha256" || true
    have=$(sha256sum < "$src") || refuse "could not be read"
    [ "${have%% *}" = "$want" ] || refuse "does not match its checksum of when it was archived"
fi
case $ext in
    zst) zstd -dq -f -o "$dest" "$src" || refuse "could not be unpacked" ;;
    *) gzip -dc "$src" > "$dest" || refuse "could not be unpacked" ;;
esac
"""

CHECKSUM = ".sha256"  # beside each archived file, see the module docstring
MAX_COMMAND = 1023  # PostgreSQL 15 cuts a longer archive command without a word

SEGMENT_SIZE = 1024 * 1024  # initdb --wal-segsize=1


def compression() -> str:
    return "zst" if shutil.which("zstd") else "gz"


def install_scripts(pg: Postgres, bin_dir: Path) -> None:
    """The scripts belong to the engine's user (root), readable and runnable by the
    nodes' group only: the nodes' user must not be able to change what root installs."""
    bin_dir.mkdir(mode=0o710, parents=True, exist_ok=True)
    os.chmod(bin_dir, 0o710)
    if pg.gid is not None:
        os.chown(bin_dir, 0, pg.gid, follow_symlinks=False)
    mode = 0o750 if pg.gid is not None else 0o700
    for name, text in (("archive-wal", ARCHIVE_SCRIPT), ("restore-wal", RESTORE_SCRIPT)):
        path = bin_dir / name
        with contextlib.suppress(OSError, NodeFailed):
            info = os.lstat(path)
            if (
                info.st_uid == os.geteuid()
                and info.st_mode & 0o777 == mode
                and read_owned(path, os.geteuid()).decode() == text
            ):
                continue
        tmp = bin_dir / f".{name}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o750)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        if pg.gid is not None:
            os.chown(tmp, 0, pg.gid, follow_symlinks=False)
        os.replace(tmp, path)


def _inline(script: str, name: str) -> str:
    """``sh -c SCRIPT NAME``: the script travels in the setting itself, so a node needs
    no file of the engine's to run it (and no user can change it for another).

    PostgreSQL reads ``%%`` in the setting as ``%`` (and ``%f``, ``%p`` as names): every
    ``%`` of the script is doubled so that the shell sees the script as written. It also
    cuts an archive command at 1023 bytes once ``%p`` and ``%f`` are filled in, without a
    word: comments and indentation stay out (``MAX_COMMAND``).
    """
    lines = (line.strip() for line in script.splitlines())
    body = "\n".join(line for line in lines if line and not line.startswith("#"))
    return f"sh -c {shlex.quote(body.replace('%', '%%'))} {name}"


def archive_command(bin_dir: Path, archive: Path, ext: str) -> str:
    command = f"{_inline(ARCHIVE_SCRIPT, 'archive-wal')} {shlex.quote(str(archive))} {ext} %p %f"
    filled = command.replace("%%", "%").replace("%p", f"pg_wal/{'0' * 24}").replace("%f", "0" * 24)
    if len(filled.encode()) > MAX_COMMAND:
        raise LocalCloudError(
            f"The archive folder {archive} is too long a path for PostgreSQL's archive "
            f"command (at most {MAX_COMMAND} bytes in all): use a shorter localcloud root."
        )
    return command


def restore_command(bin_dir: Path, archive: Path, ext: str, stage: Path | None = None) -> str:
    """``stage``: the folder of a feeder (walfeed.py) that puts segments ahead of recovery
    into ``pg_wal`` itself, and into ``stage`` while the data directory is not there yet.

    With a feeder, a segment it has put in ``pg_wal`` (its ``.fed-NAME`` mark says so)
    costs one shell and no program: the command leaves a ``.taken-NAME`` mark for the
    feeder and answers "not in the archive" (status 1), and recovery then reads the file
    from ``pg_wal`` (PostgreSQL looks there whenever the restore command has no file).
    Anything else runs the restore script, also for a segment unpacked from the backup
    into ``pg_wal``: the backup's last segment is complete only in the archive.
    """
    script = f"{_inline(RESTORE_SCRIPT, 'restore-wal')} {shlex.quote(str(archive))} {ext} %f %p"
    if stage is None:
        return script
    quoted = shlex.quote(str(stage))
    # Not ":" for the mark: a special builtin's failed redirection (the feeder's folder
    # gone) would end the shell.
    fast = f"[ -f {quoted}/.fed-%f ] && {{ true 2>/dev/null > {quoted}/.taken-%f; exit 1; }}; "
    return f"{fast}{script} {quoted}"


def wal_file_name(timeline: int, lsn: int, segment_size: int = SEGMENT_SIZE) -> str:
    segments_per_id = 0x100000000 // segment_size
    segment = lsn // segment_size
    return f"{timeline:08X}{segment // segments_per_id:08X}{segment % segments_per_id:08X}"


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def segment_number(name: str, segment_size: int = SEGMENT_SIZE) -> int:
    """The position of a WAL segment file (the 16 hex digits after the timeline)."""
    return int(name[8:16], 16) * (0x100000000 // segment_size) + int(name[16:24], 16)


def parse_history(text: str) -> list[tuple[int, int]]:
    """A timeline history file as (parent timeline, switch LSN) pairs, oldest first."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if fields and not fields[0].startswith("#"):
            entries.append((int(fields[0]), parse_lsn(fields[1])))
    return entries


def link_file(pg: Postgres, source: Path, target: Path) -> None:
    """``target`` becomes the same immutable file as ``source``: a hard link (no bytes
    copied; it outlives the source's name), or a copy on another file system."""
    try:
        # linkat() without AT_SYMLINK_FOLLOW: a planted link is linked, never followed.
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        return
    except OSError:
        # Another file system: copy as the node's user, who can read only its own files.
        tmp = target.with_name(f".{target.name}.tmp")
        pg.run(str(target), "cp", "--no-dereference", "--", str(source), str(tmp))
        pg.run(str(target), "mv", "-f", "--", str(tmp), str(target))


def link_ancestry(
    pg: Postgres,
    source: Path,
    target: Path,
    ext: str,
    start_wal: str,
    history: list[tuple[int, int]],
) -> int:
    """Put into archive ``target`` what a recovery from a backup starting at ``start_wal``
    needs from archive ``source`` to reach the last switch of ``history`` (the history
    of the timeline a restore created): the history files of the ancestor timelines and
    every segment from ``start_wal`` on, on each ancestor timeline before its switch.

    The segment holding a switch point is left out: past the switch it holds the
    source's later WAL, and recovery reads that segment from the next timeline.
    Returns how many files were linked.
    """
    spans: dict[int, tuple[int, int]] = {}  # timeline -> [first segment, switch segment)
    begin = 0
    for timeline, switch in history:
        spans[timeline] = (begin, switch // SEGMENT_SIZE)
        begin = switch // SEGMENT_SIZE
    first = segment_number(start_wal)
    segment = re.compile(rf"^([0-9A-F]{{8}})[0-9A-F]{{16}}\.{re.escape(ext)}$")
    timeline_file = re.compile(rf"^([0-9A-F]{{8}})\.history\.{re.escape(ext)}$")
    linked = 0
    for path in sorted(source.iterdir()):
        if match := segment.match(path.name):
            span = spans.get(int(match[1], 16))
            number = segment_number(path.name)
            wanted = span is not None and max(first, span[0]) <= number < span[1]
        elif match := timeline_file.match(path.name):
            wanted = int(match[1], 16) in spans
        else:
            wanted = False
        if wanted:
            link_file(pg, path, target / path.name)
            linked += 1
            checksum = path.with_name(path.name + CHECKSUM)
            if os.path.lexists(checksum):
                link_file(pg, checksum, target / checksum.name)
    return linked


def seal(node: Node, timeout: float = 30.0) -> datetime:
    """Make every commit so far restorable from the archive; returns the seal's commit time.

    Recovery to T stops only at a commit after T, so write one commit now, switch to a
    new segment and wait until the old one is archived.
    """
    with node.connect() as conn:
        conn.execute("SELECT pg_current_xact_id()")  # autocommit: one commit record
        committed = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        deadline = time.monotonic() + timeout
        while True:
            row = conn.execute(
                "SELECT last_archived_wal, last_failed_wal, last_failed_time FROM pg_stat_archiver"
            ).fetchone()
            if row[0] is not None and row[0][:24] >= segment:
                return committed
            if time.monotonic() > deadline:
                raise NodeFailed(
                    f"{node.label}: WAL segment {segment} was not archived within "
                    f"{timeout:.0f} s (last failure: {row[1] or 'none'}); see {node.log}."
                )
            time.sleep(0.01)


def cleanup(pg: Postgres, node: Node, oldest_needed: str, ext: str) -> None:
    """Delete archived WAL older than ``oldest_needed``, and its checksums (history files
    stay)."""
    for suffix in (f".{ext}", f".{ext}{CHECKSUM}"):
        pg.run(node.label, "pg_archivecleanup", "-x", suffix, str(node.archive), oldest_needed)


def archive_size(node: Node) -> int:
    """Bytes of the regular files in the archive (a planted link is not followed)."""
    sizes = (os.lstat(path) for path in node.archive.iterdir())
    return sum(info.st_size for info in sizes if stat.S_ISREG(info.st_mode))


def check_tools() -> list[str]:
    problems = []
    for tool in ("sh", "sync", "cmp", "sha256sum", "ln"):
        if shutil.which(tool) is None:
            problems.append(f"The archive command needs '{tool}' on PATH.")
    if shutil.which("zstd") is None and shutil.which("gzip") is None:
        problems.append("The archive command needs zstd or gzip.")
    return problems
