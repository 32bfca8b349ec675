"""WAL fed ahead of recovery.

Recovery asks ``restore_command`` for one segment at a time and waits while it runs; a
shell and a zstd per 1 MB segment there made a WAL-bound restore spend most of its time
fetching. A ``Feeder`` decompresses the segments a recovery will need ahead of it, a
batch at a time, straight into the node's ``pg_wal``, and leaves a ``.fed-NAME`` mark
in its staging folder. For such a segment the restore command costs one shell and no
program: it answers "not in the archive", and PostgreSQL reads the file from ``pg_wal``
(``archive.restore_command``). A shell and an ``ln`` per segment, the way before this,
cost a WAL-bound restore of 1,243 segments about 4 s.

- Where: while the backup is still being unpacked there is no ``pg_wal`` yet, so the
  first batches go to a staging folder beside the data directory (the same file
  system); ``attach`` moves them into ``pg_wal`` once the data directory is made, and
  every later batch goes there directly. Each file is renamed into place whole, and its
  ``archive_status/NAME.done`` is written first, as PostgreSQL does for a file it
  restored itself: the new node never archives the source's WAL as its own. During
  recovery PostgreSQL creates no segment file in ``pg_wal`` of its own (it recycles
  none then) and removes only segments older than its restart point, so the feeder's
  files never meet its own.
- Which segments: from the backup's start segment on, in order, along the timelines
  recovery follows (``recovery_target_timeline = 'latest'``: the newest timeline whose
  history file is in the archive), until the archive ends or just past T. A segment is
  archived once it is complete, so the first one archived after T, or one soon after,
  holds the commit that ends recovery: the feeding stops ``PAST_POINT`` segments later.
- Bounded: at most ``workers`` batches of ``batch`` segments at once, and never more
  than ``ahead`` segments fed and not yet asked for by recovery (1 MB each on disk;
  nothing is held in memory). One shell per worker for the whole feed; one ``sha256sum``
  and one ``zstd`` per batch.
  What recovery asked for is known from the ``.taken-NAME`` marks the restore command
  leaves in the staging folder. Segments recovery has replayed stay in ``pg_wal`` until
  its next restart point, as the ones it restores itself do.
- Checked: each archived file is compared with the checksum written beside it when it
  was archived, before it is fed. At a mismatch the feeding stops there. The restore
  command checks what it fetches itself the same way and, refusing a file, leaves a
  ``.damaged-NAME`` mark and answers as if the archive ended there: recovery to T then
  fails on its own when it needed the file ("recovery ended before configured recovery
  target was reached"; its look-ahead may ask for files past T it does not need), and
  ``check_end`` fails a recovery that was to reach the archive's end. Either way the
  error names the file (``explain``).
- Never needed for correctness: a segment the feeder has not fed in time is fetched
  and checked by the restore command itself, which
  leaves a ``.taken-NAME`` mark so the feeder skips ahead; a feeder that fails only
  stops feeding.
- Privileges: every program runs as the node's OS user, who owns the staging folder and
  the data directory; the engine only lists the staging folder and removes files in it
  through a descriptor of the folder opened without following links, after checking
  whose it is.

A feeder ends when ``close`` is called (the node's recovery ended, failed, or was
cancelled), when it has fed its last segment, or when ``alive`` says the node is gone.
``close`` waits for the batches under way and removes the staging folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from . import archive
from .errors import NodeFailed
from .node import Node, Postgres, UnsafeFile

STAGE = "walfeed"  # the staging folder, beside the data directory
WORKERS = 2
BATCH = 16
AHEAD = 64  # segments fed and not yet asked for: 64 MB of disk
PAST_POINT = 2  # segments fed past the first one archived after T
POLL = 0.005  # seconds between looks at the staging folder while it is full

SEGMENT_NAME = re.compile(r"^[0-9A-F]{24}$")
FED = ".fed-"  # NAME is in pg_wal, put there by the feeder (complete, checked)
TAKEN = re.compile(r"^\.taken-([0-9A-F]{24})$")
DAMAGED = re.compile(r"^\.damaged-([0-9A-F]{24}|[0-9A-F]{8}\.history)$")

# The feeding, as the node's user: one shell per worker for the whole restore (a process
# started by the engine forks all of it, threads and memory: once per batch was seconds
# of system time beside a recovery that needs the CPU). It reads batches from its input,
# two lines each: pg_wal (or "-" for the staging folder), then the archived files. Per
# batch: the checksum of each archived file against the one recorded beside it; the
# files before the first mismatch are decompressed into OUT, then moved into pg_wal or
# STAGE (renames: recovery never sees half a file); "end" answers the batch.
WORKER_SCRIPT = """
set -eu
archive=$1 ext=$2 out=$3 stage=$4
batch() {
    wal=$1
    shift
    cd "$archive"
    rm -rf "$out"
    mkdir -m 700 "$out"
    sha256sum -- "$@" > "$out/.sums"
    good=
    while read -r have file; do
        want=-
        if [ -f "$file.sha256" ]; then
            want=
            read -r want rest < "$file.sha256" || true
        fi
        if [ "$want" != - ] && [ "$want" != "$have" ]; then
            echo "damaged $file"
            break
        fi
        [ "$want" != - ] || echo "unchecked $file"
        good="$good $file"
    done < "$out/.sums"
    rm -f "$out/.sums"
    [ -n "$good" ] || return 0
    case $ext in
        zst) zstd -d -q -f --output-dir-flat "$out" -- $good ;;
        *) for file in $good; do gzip -dc -- "$file" > "$out/${file%.gz}"; done ;;
    esac
    cd "$out"
    set -- *
    if [ "$wal" = - ]; then
        mv -f -- "$@" "$stage/"
        return 0
    fi
    for file; do
        true > "$wal/archive_status/$file.done"
    done
    mv -f -- "$@" "$wal/"
    for file; do
        true > "$stage/.fed-$file"
    done
}
while IFS= read -r wal && read -r files; do
    batch "$wal" $files < /dev/null
    echo end
done
"""

# Once the data directory is made (``attach``), as the node's user: what was staged goes
# into pg_wal, replacing the backup's own copy of a segment (the backup's last segment
# holds its WAL only up to the backup's end: the archived one is complete); every
# segment in pg_wal is marked archived already (``.done``).
ATTACH_SCRIPT = """
set -eu
stage=$1 wal=$2
mkdir -p -m 700 "$wal/archive_status"
segment() {
    case $1 in *[!0-9A-F]*) return 1 ;; esac
    [ ${#1} -eq 24 ] && [ -f "$1" ]
}
cd "$stage"
for file in *; do
    segment "$file" || continue
    true > "$wal/archive_status/$file.done"
    mv -f -- "$file" "$wal/"
    true > ".fed-$file"
done
cd "$wal"
for file in *; do
    segment "$file" || continue
    true > "archive_status/$file.done"
done
"""

# One archived file against its checksum, as the node's user: good, damaged or unchecked.
CHECK_SCRIPT = """
set -eu
cd "$1"
[ -f "$2.sha256" ] || { echo unchecked; exit 0; }
want=
read -r want rest < "$2.sha256" || true
have=$(sha256sum < "$2")
if [ "${have%% *}" = "$want" ]; then echo good; else echo damaged; fi
"""


def timelines(
    pg: Postgres, label: str, folder: Path, ext: str, first: int
) -> list[tuple[int, int]]:
    """(timeline, its first segment number), oldest first, along the path recovery
    follows from timeline ``first`` to the newest timeline whose history is in ``folder``."""
    newest = first
    while os.path.lexists(folder / f"{newest + 1:08X}.history.{ext}"):
        newest += 1
    if newest == first:
        return [(first, 0)]
    path = folder / f"{newest:08X}.history.{ext}"
    unpack = ("zstd", "-dqc", "--") if ext == "zst" else ("gzip", "-dc", "--")
    try:
        history = archive.parse_history(pg.run(label, *unpack, str(path)).stdout)
    except (ValueError, IndexError) as error:
        raise NodeFailed(f"{label}: {path} is not a timeline history file.") from error
    spans = []
    begin = 0
    for timeline, switch in history:
        spans.append((timeline, begin))
        begin = switch // archive.SEGMENT_SIZE
    spans.append((newest, begin))
    return spans


def planned(
    folder: Path, ext: str, first: int, spans: list[tuple[int, int]], until: datetime | None
) -> Iterator[str]:
    """Names of the segments recovery will ask for from segment number ``first`` on, in
    order, while the archive has them; with ``until`` (T), ``PAST_POINT`` more after the
    first one archived after T."""
    number = first
    past = None
    while past is None or past < PAST_POINT:
        timeline = next(t for t, begin in reversed(spans) if begin <= number)
        name = archive.wal_file_name(timeline, number * archive.SEGMENT_SIZE)
        try:
            info = os.lstat(folder / f"{name}.{ext}")
        except FileNotFoundError:
            return
        if not stat.S_ISREG(info.st_mode):
            return
        yield name
        if past is not None:
            past += 1
        elif until is not None and info.st_mtime > until.timestamp():
            past = 0
        number += 1


class Feeder:
    """Feeds one recovering node from archive ``folder``; see the module docstring.

    Positions are segment numbers less the start segment's: the plan's index.
    """

    def __init__(
        self,
        pg: Postgres,
        label: str,
        folder: Path,
        ext: str,
        stage: Path,
        start_wal: str,
        *,
        until: datetime | None = None,
        alive: Callable[[], bool] | None = None,
        workers: int | None = None,
        batch: int = BATCH,
        ahead: int = AHEAD,
    ):
        self.pg = pg
        self.label = label
        self.folder = folder
        self.ext = ext
        self.stage = stage
        self.start_wal = start_wal
        self.first = archive.segment_number(start_wal)
        self.until = until
        self.alive = alive
        self.batch = batch
        self.ahead = max(ahead, batch)
        self.threads = [
            threading.Thread(target=self._work, args=(number,), daemon=True)
            for number in range(WORKERS if workers is None else workers)
        ]
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.plan: Iterator[str] | None = None
        self.claimed = 0  # plan entries handed to workers (or skipped)
        self.taken = 0  # plan entries recovery has gone past
        self.fed = 0
        self.unchecked = 0  # files archived before checksums were kept
        self.damaged: str | None = None  # the first archived file that failed its check
        self.error: str | None = None  # why the feeding stopped early
        self.closed = False
        self.into: Path | None = None  # pg_wal, once attached
        self.staging = 0  # batches under way into the staging folder
        self.settled = threading.Condition(self.lock)

    # Lifecycle ------------------------------------------------------------------------

    def start(self) -> Feeder:
        """Make the staging folder and start feeding; returns at once."""
        self.pg.make_dir(self.stage)
        with self._folder():
            pass  # it is the node's own
        try:
            spans = timelines(
                self.pg, self.label, self.folder, self.ext, int(self.start_wal[:8], 16)
            )
        except NodeFailed as error:
            self.error = str(error)  # the restore command finds its way alone
            return self
        self.plan = planned(self.folder, self.ext, self.first, spans, self.until)
        for thread in self.threads:
            thread.start()
        return self

    def attach(self, wal: Path) -> None:
        """The data directory is made: from now on feed into ``wal`` (its ``pg_wal``),
        and move there what was staged. Call before the server starts."""
        with self.lock:
            self.into = wal
            while self.staging:  # batches claimed before now still go to the stage
                self.settled.wait()
        self.pg.run(self.label, "sh", "-c", ATTACH_SCRIPT, "walfeed", str(self.stage), str(wal))

    def close(self) -> None:
        """Stop feeding, wait for the batches under way, remove the staging folder."""
        if self.closed:
            return
        self.closed = True
        self.stopping.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join()
        if os.path.lexists(self.stage):
            self.pg.run(self.label, "rm", "-rf", "--", str(self.stage))

    @contextlib.contextmanager
    def _folder(self) -> Iterator[int]:
        """A descriptor of the staging folder, opened without following a link, once it
        is known to be the node's user's: what the engine does there goes through it."""
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.stage, flags)
        except OSError as error:
            raise UnsafeFile(f"{self.stage} is not a folder of the node's own: {error}") from error
        try:
            if self.pg.uid is not None and os.fstat(fd).st_uid != self.pg.uid:
                raise UnsafeFile(f"{self.stage} is not the node's own folder; remove it.")
            yield fd
        finally:
            os.close(fd)

    def __enter__(self) -> Feeder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # What recovery made of it ----------------------------------------------------------

    def refused(self) -> list[str]:
        """Archived files recovery asked for and the restore command refused (damaged,
        or they could not be unpacked), from its marks; oldest segment first."""
        if not os.path.lexists(self.stage):
            return []
        with self._folder() as fd:
            names = [m.group(1) for e in os.listdir(fd) if (m := DAMAGED.match(e))]
        return sorted(names, key=lambda name: name[8:])

    def check_end(self, to_the_end: bool) -> None:
        """After recovery promoted: when it was to run to the archive's end, any refused
        file was one it needed (the end lies past it). A recovery to T that promoted
        reached T, so a file refused then was only looked ahead at."""
        if to_the_end and (names := self.refused()):
            raise self._refusal(names[0])

    def explain(self, error: NodeFailed) -> NodeFailed:
        """``error`` (the recovering server stopped), naming the archived file it stopped
        short at when the restore command refused one."""
        names = self.refused()
        return self._refusal(names[0], error) if names else error

    def _refusal(self, name: str, error: NodeFailed | None = None) -> NodeFailed:
        path = self.folder / f"{name}.{self.ext}"
        if self.damaged == name or self._check(path) == "damaged":
            return NodeFailed(
                f"{self.label}: the archived WAL file {path} does not match the checksum "
                f"recorded when it was archived ({path.name}{archive.CHECKSUM}): the archive "
                "is damaged from there on. Choose a restore point before that file was "
                "written, or restore from a copy of the archive."
            )
        cause = f" ({error})" if error else ""
        return NodeFailed(
            f"{self.label}: the archived WAL file {path} could not be unpacked (damaged, "
            f"unreadable, or no room left); see the server log{cause}."
        )

    def _check(self, path: Path) -> str:
        """One archived file against its checksum: good, damaged, unchecked or unreadable."""
        try:
            done = self.pg.run(
                self.label, "sh", "-c", CHECK_SCRIPT, "walfeed", str(path.parent), path.name
            )
        except NodeFailed:
            return "unreadable"
        return done.stdout.strip()

    # Work -------------------------------------------------------------------------------

    def _work(self, number: int) -> None:
        worker: subprocess.Popen | None = None
        try:
            while batch := self._claim():
                try:
                    if worker is None:
                        worker = self.pg.open(
                            "sh", "-c", WORKER_SCRIPT, "walfeed", str(self.folder), self.ext,
                            str(self.stage / f".in-{number}"), str(self.stage),
                            stdin=subprocess.PIPE,
                        )  # fmt: skip
                    self._feed(worker, *batch)
                finally:
                    if batch[2] is None:
                        with self.lock:
                            self.staging -= 1
                            self.settled.notify_all()
        except Exception as error:  # the restore command fetches what is not fed
            with self.lock:
                self.error = self.error or f"{type(error).__name__}: {error}"
            self.stopping.set()
        finally:
            if worker is not None and worker.returncode is None:
                with contextlib.suppress(OSError):
                    worker.communicate()  # its input ends: it exits

    def _claim(self) -> tuple[int, list[str], Path | None] | None:
        """The next batch (its position, names, and pg_wal or None for the staging
        folder) once there is room; None when done."""
        while not self.stopping.is_set():
            if self.alive is not None and not self.alive():
                return None
            with self.lock:
                if self.plan is None:
                    return None
                self._look()
                while self.claimed < self.taken and next(self.plan, None) is not None:
                    self.claimed += 1  # recovery is ahead: skip what it already has
                if self.ahead - (self.claimed - self.taken) >= self.batch:
                    names = [name for _, name in zip(range(self.batch), self.plan, strict=False)]
                    if not names:
                        self.plan = None
                        return None
                    position = self.claimed
                    self.claimed += len(names)
                    if self.into is None:
                        self.staging += 1
                    return position, names, self.into
            self.stopping.wait(POLL)
        return None

    def _position(self, name: str) -> int:
        return archive.segment_number(name) - self.first

    def _look(self) -> None:
        """How far recovery got, from the restore command's ``.taken-NAME`` marks (each
        mark and the segment's ``.fed-NAME`` go once read)."""
        with self._folder() as fd:
            for entry in os.listdir(fd):
                if match := TAKEN.match(entry):
                    self.taken = max(self.taken, self._position(match.group(1)) + 1)
                    for done in (entry, f"{FED}{match.group(1)}"):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(done, dir_fd=fd)

    def _feed(
        self, worker: subprocess.Popen, position: int, names: list[str], wal: Path | None
    ) -> None:
        files = [f"{name}.{self.ext}" for name in names]
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write(f"{wal or '-'}\n{' '.join(files)}\n")
        worker.stdin.flush()
        words: list[str] = []
        for line in worker.stdout:
            if line.strip() == "end":
                break
            words += line.split()
        else:
            _, stderr = worker.communicate()
            raise NodeFailed(f"{self.label}: feeding WAL stopped: {stderr.strip()[:300]}")
        damaged = [words[i + 1] for i, word in enumerate(words[:-1]) if word == "damaged"]
        fed = files.index(damaged[0]) if damaged else len(names)
        with self.lock:
            self.fed += fed
            self.unchecked += words.count("unchecked")
            if damaged and self.damaged is None:
                self.damaged = names[fed]
                self.plan = None
                self.stopping.set()


def feed_preview(
    server: Node, folder: Path, ext: str, start_wal: str, until: datetime | None
) -> Feeder:
    """Start feeding a preview's recovery (before its backup is unpacked); attach it to
    the preview's ``pg_wal`` once the backup is unpacked. Its staging folder is the one
    the restore command is given.

    Nobody closes this feeder: it ends once it has fed up to T (``until``), when the
    server has started and stopped, or when the preview's folder is gone; the staging
    folder goes with the preview's."""

    def alive() -> bool:
        return server.postmaster_pid() is None or server.is_running()

    stage = server.dir / STAGE
    return Feeder(
        server.pg, server.label, folder, ext, stage, start_wal, until=until, alive=alive
    ).start()
