"""WAL fed ahead of recovery.

Recovery asks ``restore_command`` for one segment at a time and waits while it runs; a
shell and a zstd per 1 MB segment there made a WAL-bound restore spend most of its time
fetching. A ``Feeder`` decompresses the segments a recovery will need ahead of it, a
batch at a time, into a staging folder beside the node's data directory (the same file
system), and the restore command then only links a file that is already there into
place (``archive.RESTORE_SCRIPT``); the feeder removes its own name once recovery has
the file.

- Which segments: from the backup's start segment on, in order, along the timelines
  recovery follows (``recovery_target_timeline = 'latest'``: the newest timeline whose
  history file is in the archive), until the archive ends or just past T. A segment is
  archived once it is complete, so the first one archived after T, or one soon after,
  holds the commit that ends recovery: the feeding stops ``PAST_POINT`` segments later.
- Bounded: at most ``workers`` batches of ``batch`` segments at once, and never more
  than ``ahead`` segments staged and not yet taken by recovery (1 MB each on disk;
  nothing is held in memory). One shell, one ``sha256sum`` and one ``zstd`` per batch.
- Checked: each archived file is compared with the checksum written beside it when it
  was archived, before it is staged. At a mismatch the feeding stops there. The restore
  command checks what it fetches itself the same way and, refusing a file, leaves a
  ``.damaged-NAME`` mark and answers as if the archive ended there: recovery to T then
  fails on its own when it needed the file ("recovery ended before configured recovery
  target was reached"; its look-ahead may ask for files past T it does not need), and
  ``check_end`` fails a recovery that was to reach the archive's end. Either way the
  error names the file (``explain``).
- Never needed for correctness: a segment the feeder has not staged in time is fetched
  and checked by the restore command itself, which leaves a ``.taken-NAME`` mark so the
  feeder skips ahead; a feeder that fails only stops feeding. Staged segments recovery
  went past without them are removed.
- Privileges: every program runs as the node's OS user, who owns the staging folder;
  the engine only lists that folder and removes files in it through a descriptor of
  the folder opened without following links, after checking whose it is.

A feeder ends when ``close`` is called (the node's recovery ended, failed, or was
cancelled), when it has fed its last segment, or when ``alive`` says the node is gone.
``close`` waits for the batches under way and removes the staging folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
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
AHEAD = 64  # segments staged and not yet taken: 64 MB of disk
PAST_POINT = 2  # segments fed past the first one archived after T
POLL = 0.005  # seconds between looks at the staging folder while it is full

SEGMENT_NAME = re.compile(r"^[0-9A-F]{24}$")
TAKEN = re.compile(r"^\.taken-([0-9A-F]{24})$")
DAMAGED = re.compile(r"^\.damaged-([0-9A-F]{24}|[0-9A-F]{8}\.history)$")

# One batch, as the node's user: the checksum of each archived file against the one
# recorded beside it; the files before the first mismatch are decompressed into OUT,
# then moved into STAGE (renames: the restore command never sees half a file).
BATCH_SCRIPT = """
set -eu
archive=$1 ext=$2 out=$3 stage=$4
shift 4
rm -rf "$out"
mkdir -m 700 "$out"
cd "$archive"
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
[ -n "$good" ] || exit 0
case $ext in
    zst) zstd -d -q -f --output-dir-flat "$out" -- $good ;;
    *) for file in $good; do gzip -dc -- "$file" > "$out/${file%.gz}"; done ;;
esac
cd "$out"
mv -f -- * "$stage/"
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
        self.staged: set[str] = set()  # staged, not yet seen taken
        self.fed = 0
        self.unchecked = 0  # files archived before checksums were kept
        self.damaged: str | None = None  # the first archived file that failed its check
        self.error: str | None = None  # why the feeding stopped early
        self.closed = False

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
        out = self.stage / f".in-{number}"
        try:
            while batch := self._claim():
                self._feed(*batch, out)
        except Exception as error:  # the restore command fetches what is not fed
            with self.lock:
                self.error = self.error or f"{type(error).__name__}: {error}"
            self.stopping.set()

    def _claim(self) -> tuple[int, list[str]] | None:
        """The next batch (its position and names) once there is room; None when done."""
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
                    return position, names
            self.stopping.wait(POLL)
        return None

    def _position(self, name: str) -> int:
        return archive.segment_number(name) - self.first

    def _look(self) -> None:
        """What recovery took, from the staging folder: staged files it linked (their
        own name is removed) and marks of files it fetched itself; staged files it went
        past without them are removed too."""
        present = set()
        with self._folder() as fd:
            for entry in os.listdir(fd):
                if SEGMENT_NAME.match(entry):
                    present.add(entry)
                elif match := TAKEN.match(entry):
                    self.taken = max(self.taken, self._position(match.group(1)) + 1)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry, dir_fd=fd)
            for name in self.staged & present:
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(name, dir_fd=fd, follow_symlinks=False).st_nlink > 1:
                        present.discard(name)  # recovery has it
                        os.unlink(name, dir_fd=fd)
            for name in self.staged - present:
                self.taken = max(self.taken, self._position(name) + 1)
            self.staged &= present
            for name in [name for name in self.staged if self._position(name) < self.taken]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=fd)
                self.staged.discard(name)

    def _feed(self, position: int, names: list[str], out: Path) -> None:
        files = [f"{name}.{self.ext}" for name in names]
        process = self.pg.open(
            "sh", "-c", BATCH_SCRIPT, "walfeed", str(self.folder), self.ext, str(out),
            str(self.stage), *files,
        )  # fmt: skip
        stdout, stderr = process.communicate()
        words = stdout.split()
        if process.returncode != 0:
            raise NodeFailed(f"{self.label}: feeding WAL stopped: {stderr.strip()[:300]}")
        damaged = [words[i + 1] for i, word in enumerate(words[:-1]) if word == "damaged"]
        fed = files.index(damaged[0]) if damaged else len(names)
        with self.lock:
            self.staged.update(names[:fed])
            self.fed += fed
            self.unchecked += words.count("unchecked")
            if damaged and self.damaged is None:
                self.damaged = names[fed]
                self.plan = None
                self.stopping.set()


def feed_preview(
    server: Node, folder: Path, ext: str, start_wal: str, until: datetime | None
) -> Path:
    """Start feeding a preview's recovery (before its backup is unpacked); returns the
    staging folder its restore command takes from.

    Nobody closes this feeder: it ends once it has fed up to T (``until``), when the
    server has started and stopped, or when the preview's folder is gone; the staging
    folder goes with the preview's."""

    def alive() -> bool:
        return server.postmaster_pid() is None or server.is_running()

    stage = server.dir / STAGE
    Feeder(server.pg, server.label, folder, ext, stage, start_wal, until=until, alive=alive).start()
    return stage
