"""A pass of the WAL event index over one group's archives.

Per node and timeline, from where the last pass stopped: the archived segments are
decompressed ``BATCH_SEGMENTS`` at a time into a scratch directory (as the node's OS
user: the archive is that user's), pg_waldump reads them, ``waldump.Reader`` turns its
lines into events and activity, and ``store.save`` keeps each batch with the new
position in one transaction. A pass that stops (the group is deleted or restarted, a
segment is damaged) leaves a position the next one resumes from.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from .. import archive
from ..errors import LocalCloudError, NodeFailed
from ..node import Node
from ..proc import in_parallel
from . import store
from .pgclass import CatalogReader
from .records import SegmentFiles
from .waldump import RMGRS, Batch, Names, Reader, RelInfo, Stream, bad_segment, format_lsn

BATCH_SEGMENTS = 64  # segments decompressed and read per pg_waldump run
SEGMENT_FILE = re.compile(r"^([0-9A-F]{8})([0-9A-F]{16})\.(zst|gz)$")


@dataclass(frozen=True)
class ArchivedNode:
    """One node of a group as a pass reads it: its name in the group, its server and
    archive, and the compression of its archived segments ("zst" or "gz")."""

    name: str
    node: Node
    compression: str


def segments(node: Node, ext: str) -> dict[int, dict[int, Path]]:
    """timeline -> segment number -> archived file."""
    found: dict[int, dict[int, Path]] = {}
    try:
        entries = list(node.archive.iterdir())
    except FileNotFoundError:
        return found
    for path in entries:
        match = SEGMENT_FILE.match(path.name)
        if match and match[3] == ext:
            found.setdefault(int(match[1], 16), {})[archive.segment_number(path.name)] = path
    return found


Snapshot = tuple[dict[tuple[int, int], RelInfo], dict[int, str], dict[tuple[int, int], str]]


def server_names(node: Node) -> Snapshot | None:
    """Every relation file, database and schema of the running ``node`` now; None when
    it does not run or cannot be asked (stopping, out of connections)."""
    if not node.is_running():
        return None
    relations: dict[tuple[int, int], RelInfo] = {}
    databases: dict[int, str] = {}
    schemas: dict[tuple[int, int], str] = {}
    try:
        with node.connect() as server:
            rows = server.execute(
                "SELECT oid, datname, datallowconn AND NOT datistemplate FROM pg_database"
            ).fetchall()
        for oid, datname, connectable in rows:
            databases[oid] = datname
            if not connectable:
                continue
            with node.connect(datname) as server:
                for filenode, schema, rel, kind, rel_oid in server.execute(
                    "SELECT pg_relation_filenode(c.oid), n.nspname, c.relname, c.relkind, c.oid"
                    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE pg_relation_filenode(c.oid) IS NOT NULL"
                ):
                    relations[(oid, filenode)] = RelInfo(schema, rel, kind, rel_oid)
                for nsp_oid, schema in server.execute("SELECT oid, nspname FROM pg_namespace"):
                    schemas[(oid, nsp_oid)] = schema
    except psycopg.Error:
        return None
    return relations, databases, schemas


def names(conn, group: str, source: ArchivedNode) -> Names:
    """The node's names: those kept, refreshed from the server when it runs (what
    changed is kept for the next passes)."""
    kept = store.load_names(conn, group, source.name)
    fresh = server_names(source.node)
    if fresh is None:
        return kept
    relations, databases, schemas = fresh
    store.save_names(
        conn,
        group,
        source.name,
        {key: info for key, info in relations.items() if kept.relations.get(key) != info},
        {oid: name for oid, name in databases.items() if kept.databases.get(oid) != name},
        {key: name for key, name in schemas.items() if kept.schemas.get(key) != name},
    )
    return Names(
        {**kept.relations, **relations},
        {**kept.databases, **databases},
        {**kept.schemas, **schemas},
    )


def unpack(node: Node, files: list[Path], ext: str, into: Path) -> None:
    """Decompress archived segments into ``into`` (readable by the PostgreSQL user)."""
    if ext == "zst":
        try:
            node.pg.run(
                node.label, "zstd", "-dq", "-f", "--output-dir-flat", str(into), *map(str, files)
            )
        except NodeFailed as error:
            raise LocalCloudError(
                f"{node.label}: could not decompress archived WAL for the event index "
                f"({error}); check the files named in {node.archive}."
            ) from error
        return
    for path in files:
        # As the node's user: the archive is that user's, and a link there must not
        # make the engine read anything else.
        target = into / path.name[:24]
        try:
            node.pg.run(
                node.label, "sh", "-c", 'gzip -dc -- "$1" > "$2"', "gunzip", str(path), str(target)
            )
        except NodeFailed as error:
            raise LocalCloudError(
                f"{node.label}: could not decompress the archived WAL segment {path} "
                f"for the event index: {error}."
            ) from error


def run_waldump(
    node: Node, directory: Path, stream: Stream, end: int, reader: Reader
) -> tuple[int, str]:
    """Run pg_waldump from the stream's position to ``end`` (the end of the last segment
    in ``directory``: without it pg_waldump waits 5 s for the next segment to appear);
    feeds every line to ``reader``; returns pg_waldump's exit status and error output."""
    args = ["-p", str(directory), "-t", str(stream.timeline)]
    args += ["-s", format_lsn(stream.resume_lsn), "-e", format_lsn(end)]
    for rmgr in RMGRS:
        args += ["-r", rmgr]
    try:
        process = node.pg.open("pg_waldump", *args)
    except OSError as error:
        raise LocalCloudError(
            f"{node.label}: cannot run pg_waldump ({error.strerror}: "
            f"{node.pg.program('pg_waldump')}); the WAL event index needs the PostgreSQL "
            f"15 server binaries in {node.pg.bin_dir}."
        ) from error
    text = ""
    finished = False
    try:
        for text in process.stdout:
            reader.line(text)
        finished = True
    except (ValueError, KeyError, IndexError) as error:
        segment = archive.wal_file_name(stream.timeline, stream.resume_lsn)
        raise LocalCloudError(
            f"{node.label}: unexpected pg_waldump output in WAL segment {segment} of "
            f"{node.archive} ({error}): {text.strip()[:200]}"
        ) from error
    finally:
        if not finished:
            process.kill()
        errors = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        process.wait()
    return process.returncode, errors


@dataclass
class Pass:
    """What one pass over a group needs beside the stream it reads."""

    root: Path
    group: str
    threshold: int  # a DELETE/UPDATE of this many rows is an event
    still_wanted: Callable[[], bool]

    @property
    def scratch(self) -> Path:
        return self.root / "events-tmp"


def index_stream(
    run: Pass,
    conn,
    source: ArchivedNode,
    stream: Stream,
    found: dict[int, Path],
    known: Names,
) -> int:
    """Read one timeline of one node from the stream's position to its last segment,
    ``BATCH_SEGMENTS`` at a time, saving the position after each batch."""
    node, ext = source.node, source.compression
    records = 0
    numbers = sorted(found)
    catalog = CatalogReader()  # row versions of the catalog read so far in this stream
    # Root's; the PostgreSQL user may only pass through it into its own subdirectory.
    run.scratch.mkdir(mode=0o711, exist_ok=True)
    run.scratch.chmod(0o711)
    while run.still_wanted():
        start = stream.resume_lsn // archive.SEGMENT_SIZE
        later = [number for number in numbers if number >= start]
        if not later:
            return records
        if later[0] != start:
            # Expired (or lost) segments: go on at the oldest one still there; what was
            # open before the hole is lost, and so is the commit before the next one.
            stream.resume_lsn = later[0] * archive.SEGMENT_SIZE
            stream.pending.clear()
            stream.last_commit = None
            start = later[0]
        chosen = []
        for number in later[:BATCH_SEGMENTS]:
            if number != start + len(chosen):
                break
            chosen.append(number)
        resumed_at = stream.resume_lsn
        directory = Path(tempfile.mkdtemp(prefix=f"{run.group}-{node.dir.name}-", dir=run.scratch))
        files = SegmentFiles(directory, stream.timeline, node.pg.uid)
        reader = Reader(stream, known, run.threshold, files.record, catalog)
        try:
            node.pg.own(directory)
            unpack(node, [found[number] for number in chosen], ext, directory)
            end = (chosen[-1] + 1) * archive.SEGMENT_SIZE
            status, errors = run_waldump(node, directory, stream, end, reader)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if reader.switched_at is not None:
            # Past a SWITCH the segment holds nothing: the next run starts at the next one.
            stream.resume_lsn = (reader.switched_at // archive.SEGMENT_SIZE + 1) * (
                archive.SEGMENT_SIZE
            )
        if status != 0:
            # A damaged segment (or an unreadable one): name it.
            segment = bad_segment(errors, stream)
            lines = errors.strip().splitlines()
            raise LocalCloudError(
                f"{node.label}: pg_waldump could not read the archived WAL segment "
                f"{node.archive / (segment + '.' + ext)}: "
                f"{lines[-1] if lines else f'exit status {status}'}. The WAL event index "
                "stops before it; a restore past this point would fail there too: check the "
                "file and the node's archive."
            )
        store.save(conn, run.group, stream, reader.batch, known)
        records += reader.batch.records
        following = chosen[-1] + 1
        if following in found:
            if stream.resume_lsn == resumed_at:
                return records  # one record longer than a batch: cannot happen in practice
            continue  # the end of this batch, not of the archive
        after = [number for number in numbers if number > following]
        if not after:
            return records  # the end of the archived WAL
        stream.resume_lsn = after[0] * archive.SEGMENT_SIZE  # a hole: see above
        stream.pending.clear()
        stream.last_commit = None
        store.save(conn, run.group, stream, Batch())
    return records


def index_group(
    root: Path,
    group: str,
    nodes: Sequence[ArchivedNode],
    *,
    threshold: int,
    still_wanted: Callable[[], bool],
    earliest: Callable[[], datetime | None],
) -> int:
    """Read the archived WAL of ``group`` not indexed yet; returns how many WAL records
    were read. ``still_wanted`` is asked between batches (False: the group is gone or
    no longer Ready or Stopped, stop); ``earliest`` gives the window's start, before
    which events are pruned (None: no window). Raises LocalCloudError (naming node and
    file) when a segment cannot be read or pg_waldump is missing."""
    run = Pass(root, group, threshold, still_wanted)
    with store.group_lock(root, group):
        if not still_wanted():
            return 0
        # Nodes in parallel: most of a pass is decompression, pg_waldump and the
        # servers' catalogs, all outside this process.
        records = sum(in_parallel(list(nodes), lambda source: index_node(run, source)))
        start = earliest()
        if start is not None and still_wanted():
            with contextlib.closing(store.connect(root)) as conn:
                store.prune(conn, group, start)
    return records


def index_node(run: Pass, source: ArchivedNode) -> int:
    """Every timeline of one node's archive, from where the last pass stopped."""
    records = 0
    with contextlib.closing(store.connect(run.root)) as conn:
        # List the archive before reading the catalog: every record read then precedes
        # the snapshot of the names.
        timelines = segments(source.node, source.compression)
        known = names(conn, run.group, source)
        for timeline in sorted(timelines):
            found = timelines[timeline]
            stream = store.load_stream(conn, run.group, source.name, timeline, min(found))
            records += index_stream(run, conn, source, stream, found, known)
            if not run.still_wanted():
                break
    return records
