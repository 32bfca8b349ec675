"""A preview's lifecycle: start (record, unpack, configure, start the server), status
(starting, ready, failed), and teardown (close, expiry, a dead owner's leftovers).

A preview unpacks the node's latest backup ending at or before T into a directory of
its own (``<root>/previews/<id>``), and starts it as a standby that fetches WAL from
the source node's archive and, at T, ends its recovery and is promoted
(``recovery_target_action = 'promote'``), exactly as a restore to T does: transactions
open at T are rolled back and their locks released (a standby paused at T would still
hold them, and a table dropped just after T could not be read). The copy is a throwaway
primary of its own: nothing of it is archived, and queries run read-only (query.py).

The source is only read: the preview's server runs with ``archive_mode = off``, its
``restore_command`` only reads the source's archive and writes into the preview's own
``pg_wal``, and nothing of the source's data directory or backups is written. The
source node is sealed when it runs (one commit and a WAL switch, as for a restore):
recovery to T stops only at a commit after T, which must be in the archive.

Every preview is recorded in the catalog (``data["previews"]``) before any file of
it exists, so that ``close`` and ``sweep`` always find what there is to remove. Its
phase there: "creating" (``start`` is unpacking, its owner process named), "started"
(the server runs; ``status`` tells whether it is ready yet), "ready", or "failed"
(the server died: its files are gone, the record keeps why until closed or expired).

A preview runs as its group's OS user (osusers.py) and listens on a Unix socket only, in
that user's socket folder (the engine's shared one for groups without a user), on ports
counted down from just below the engine's base port, so they can never take a port a
group's node is given (those count up from the base port).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from .. import archive, backup, pgdata, walfeed
from ..catalog import group_record
from ..errors import Busy, LocalCloudError, NotFound, NotReady, OutsideWindow
from ..model import Preview, format_time, parse_time, utcnow
from ..node import (
    BASE_SETTINGS,
    HARMLESS,
    IDENT_MAP,
    LOG_PREFIX,
    Node,
    conf_quote,
    first_fatal,
    pid_alive,
    read_owned,
)
from ..proc import owner_alive, owner_record
from ..window import check_point, chosen_backup, replays_to_end

if TYPE_CHECKING:
    from ..layout import Layout

ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")

MAX_PREVIEWS = 8  # at once per engine root: each is a PostgreSQL instance

# Settings a hot standby needs at least as high as the primary had them; pg_controldata
# names them so.
STANDBY_MINIMUMS = {
    "max_connections": "max_connections setting",
    "max_worker_processes": "max_worker_processes setting",
    "max_wal_senders": "max_wal_senders setting",
    "max_prepared_transactions": "max_prepared_xacts setting",
    "max_locks_per_transaction": "max_locks_per_xact setting",
}


# Records and paths ---------------------------------------------------------------------


def previews_dir(engine: Layout) -> Path:
    return engine.root / "previews"


def preview_node(engine: Layout, record: dict) -> Node:
    """The preview's server, run as its group's OS user (the preview reads that group's
    backup and archive), listening in that user's socket folder."""
    owner = {"os_user": record.get("os_user"), "os_group": record.get("os_group")}
    return Node(
        pg=engine.pg_for(owner),
        label=f"preview {record['id']} of {record['group']}/{record['node']}",
        dir=previews_dir(engine) / record["id"],
        port=record["port"],
        socket_dir=engine.group_socket_dir(owner),
    )


def _view(record: dict) -> Preview:
    status = {"ready": "Ready", "failed": "Failed"}.get(record["phase"], "Starting")
    return Preview(
        id=record["id"],
        group=record["group"],
        node=record["node"],
        point=parse_time(record["point"]),
        status=status,
        created_at=parse_time(record["created_at"]),
        expires_at=parse_time(record["expires_at"]),
        message=record.get("message", ""),
    )


def _get(engine: Layout, preview_id: str) -> dict:
    record = None
    if isinstance(preview_id, str) and ID_PATTERN.match(preview_id):
        record = engine.catalog.read().get("previews", {}).get(preview_id)
    if record is None:
        raise NotFound(f"Preview '{preview_id}' does not exist (closed or expired).")
    return record


def _allocate_port(engine: Layout, data: dict, socket_dir: Path) -> int:
    """A port below the base port that no other preview has and no socket file uses."""
    taken = {record["port"] for record in data.get("previews", {}).values()}
    taken |= {node["port"] for group in data["groups"].values() for node in group["nodes"]}
    port = engine.base_port - 1
    while port >= 1024:
        sockets = (
            socket_dir / f".s.PGSQL.{port}",
            socket_dir / f".s.PGSQL.{port}.lock",
        )
        if port not in taken and not any(path.exists() for path in sockets):
            return port
        port -= 1
    raise LocalCloudError(f"No free port for a preview below {engine.base_port}.")


# Start ----------------------------------------------------------------------------------


def start(engine: Layout, name: str, point: datetime, node: str, ttl: timedelta) -> Preview:
    """Validate, record, unpack and start a preview; returns at once (status Starting).

    Whatever fails here removes everything this call made.
    """
    if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
        raise LocalCloudError("A preview needs a positive time-to-live.")
    if point is not None and not isinstance(point, datetime):
        raise OutsideWindow(f"The preview point {point!r} is not a date and time.")
    data = engine.catalog.read()
    group = group_record(data, name)
    _check_room(data)
    records = [record for record in group["nodes"] if record["name"] == node]
    if not records:
        raise NotFound(f"Server group '{name}' has no node '{node}'.")
    source_record = records[0]
    point = check_point(group, point)
    chosen = chosen_backup(source_record, point)
    # At or after a stopped node's last commit, the preview replays the whole archive
    # and waits there instead of pausing.
    replay_until = (
        format_time(parse_time(source_record["last_commit"]))
        if replays_to_end(group, source_record, point)
        else None
    )
    engine.prepare()
    source = engine.node(group, source_record)
    if source.is_running():
        archive.seal(source)

    now = utcnow()
    with engine.catalog.change() as data:
        group = group_record(data, name)
        previews = data.setdefault("previews", {})
        _check_room(data)
        preview_id = secrets.token_hex(6)
        while preview_id in previews:
            preview_id = secrets.token_hex(6)
        record = {
            "id": preview_id,
            "group": name,
            "node": node,
            "point": format_time(point),
            "port": _allocate_port(engine, data, engine.group_socket_dir(group)),
            "os_user": group.get("os_user"),
            "os_group": group.get("os_group"),
            "created_at": format_time(now),
            "expires_at": format_time(now + ttl),
            "phase": "creating",
            "owner": owner_record(),
            "backup": chosen["id"],
            "replay_until": replay_until,
            "message": "",
        }
        previews[preview_id] = record
    try:
        server = preview_node(engine, record)
        _build(engine, record, server, source, source_record, chosen)
        server.start()
        _wait_for_pid(server)
        with engine.catalog.change() as data:
            stored = data.get("previews", {}).get(preview_id)
            if stored is None:
                raise NotFound(f"Preview '{preview_id}' was closed while it started.")
            stored["phase"] = "started"
            stored.pop("owner", None)
            record = dict(stored)
    except BaseException:
        _destroy(engine, preview_id)
        raise
    return _view(record)


def _check_room(data: dict) -> None:
    live = [p for p in data.get("previews", {}).values() if p["phase"] != "failed"]
    if len(live) >= MAX_PREVIEWS:
        raise Busy(
            f"{len(live)} previews are open, the most there can be at once; close one "
            "or wait until one expires."
        )


def _wait_for_pid(server: Node, timeout: float = 10.0) -> None:
    """Wait until the postmaster wrote its pid file: from then on a preview whose server
    is not running has died. A bad setting makes it exit before: quote why."""
    deadline = time.monotonic() + timeout
    while server.postmaster_pid() is None:
        fresh = server.log_since(server.log_offset)
        if _has_fatal(fresh) or time.monotonic() > deadline:
            raise server.died("the server did not start")
        time.sleep(0.005)


def _build(
    engine: Layout,
    record: dict,
    server: Node,
    source: Node,
    source_record: dict,
    chosen: dict,
) -> None:
    """Unpack ``chosen`` into the preview's data directory and write its configuration."""
    pg = server.pg
    pg.make_dir(server.dir)
    pg.make_dir(server.data)
    until = None if record["replay_until"] else parse_time(record["point"])
    ext = source_record["compression"]
    feeder = walfeed.feed_preview(server, source.archive, ext, chosen["start_wal"], until)
    pgdata.unpack_backup(pg, server.label, backup.backup_dir(source, chosen), server.data)
    feeder.attach(server.data / "pg_wal")

    settings = dict(BASE_SETTINGS)
    for key in ("archive_mode", "archive_timeout"):
        settings.pop(key, None)
    minimums = _standby_minimums(engine, server)
    for key, value in minimums.items():
        settings[key] = str(max(int(settings.get(key, value)), value))
    settings.update(
        {
            # A Unix socket in the group's private socket folder, nothing on TCP.
            "listen_addresses": "''",
            "port": str(record["port"]),
            "unix_socket_directories": conf_quote(str(server.socket_dir)),
            "cluster_name": conf_quote(f"preview-{record['id']}"),
            # It can never archive, so never into the source's archive.
            "archive_mode": "off",
            # Disposable: no fsync (also spares the sync of the unpacked files at start).
            "fsync": "off",
            "hot_standby": "on",
            "default_transaction_read_only": "on",
            # A query's sorts and hashes may spill, but not fill the disk.
            "temp_file_limit": "'256MB'",
            "restore_command": conf_quote(
                archive.restore_command(engine.bin_dir, source.archive, ext, feeder.stage)
            ),
            "recovery_target_time": conf_quote(record["point"]),
            # Promoted at T, not paused: a paused standby keeps the locks of the
            # transactions open at T (a DROP TABLE's lock is logged before its commit),
            # so their tables could not be read; promotion rolls them back, as a restore
            # to T does. The copy stays read-only for queries (query.py).
            "recovery_target_action": "'promote'",
            # Nothing changes in the copy: no vacuum or analyze of its own.
            "autovacuum": "off",
            "recovery_target_timeline": "'latest'",
        }
    )
    if record.get("replay_until"):
        # A stopped group at or after its last commit: no commit after T exists, so the
        # whole archive is replayed and the copy promoted at its end (``_probe``); with
        # a target set, that promotion would fail as "ended before the target".
        settings.pop("recovery_target_time")
    # The whole configuration is the preview's own: nothing of the source's (its
    # ALTER SYSTEM settings, ports, archive command) is read.
    pg.write_file(
        server.data / "postgresql.conf",
        "# Written by localcloud for a preview.\n"
        + "".join(f"{key} = {value}\n" for key, value in settings.items()),
    )
    # Peer authentication only: the engine's OS user as the superuser (tables, stop)
    # or as the group's admin role (queries); nobody else, and no password needed.
    pg.write_file(server.data / "pg_hba.conf", f"local all all peer map={IDENT_MAP}\n")
    admin = engine.catalog.group(record["group"])["admin_user"]
    server.write_ident({admin: pg.engine_user})
    pg.write_file(server.data / "standby.signal", "")


def _standby_minimums(engine: Layout, server: Node) -> dict[str, int]:
    """The backup's values of the settings a hot standby needs at least as high."""
    done = server.pg.run(server.label, "pg_controldata", "-D", str(server.data))
    found = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(":")
        for setting, label in STANDBY_MINIMUMS.items():
            if key.strip() == label and value.strip().isdigit():
                found[setting] = int(value.strip())
    return found


# Status ---------------------------------------------------------------------------------


def status(engine: Layout, preview_id: str) -> Preview:
    record = _get(engine, preview_id)
    if record["phase"] in ("creating", "failed"):
        return _view(record)
    server = preview_node(engine, record)
    if not server.is_running():
        return _fail(engine, record, _death_message(server))
    if record["phase"] == "ready":
        return _view(record)
    verdict, message = _probe(engine, record, server)
    if verdict == "failed":
        return _fail(engine, record, message)
    if verdict == "ready":
        with engine.catalog.change() as data:
            stored = data.get("previews", {}).get(preview_id)
            if stored is None:
                raise NotFound(f"Preview '{preview_id}' does not exist (closed or expired).")
            if stored["phase"] == "started":
                stored["phase"] = "ready"
                stored["ready_at"] = format_time(utcnow())
            record = dict(stored)
    return _view(record)


def _probe(engine: Layout, record: dict, server: Node) -> tuple[str, str]:
    """("ready" | "starting" | "failed", why it failed) of a running preview server."""
    log = server.log_tail()
    if "insufficient parameter settings" in log:
        lines = [
            LOG_PREFIX.sub("", line.strip())
            for line in log.splitlines()
            if "insufficient parameter settings" in line or "lower setting" in line
        ]
        return "failed", " ".join(dict.fromkeys(lines))
    try:
        with server.connect(timeout=2) as conn:
            in_recovery, replayed, waiting = conn.execute(
                "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(),"
                " (SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'startup')"
            ).fetchone()
            if not in_recovery:
                # Promoted at T (nothing else promotes it): every transaction open at T
                # was rolled back and its locks released, as in a restore to T.
                return "ready", ""
            # Waiting for WAL that the archive does not have (yet): all there is was
            # replayed.
            exhausted = waiting == "RecoveryRetrieveRetryInterval"
            until = parse_time(record.get("replay_until"))
            if until is not None:
                if exhausted or (replayed is not None and replayed >= until):
                    # No commit after T will come: end the recovery here, as a restore
                    # to the end of the archive does.
                    conn.execute("SELECT pg_promote(wait => false)")
                return "starting", ""
    except psycopg.OperationalError:
        return "starting", ""  # not consistent yet: still replaying the backup's WAL
    if exhausted:
        last = format_time(replayed) if replayed else "(none)"
        return "failed", (
            f"The archived WAL of {record['group']}/{record['node']} ends before "
            f"{record['point']}: its last commit replayed is at {last}. Is the node running "
            "and archiving?"
        )
    return "starting", ""


def _has_fatal(text: str) -> bool:
    """Whether the log says why the server stopped (not just refused an early client)."""
    return any(
        ("FATAL:" in line or "PANIC:" in line) and not any(h in line for h in HARMLESS)
        for line in text.splitlines()
    )


def _death_message(server: Node) -> str:
    text = server.log_tail()
    if _has_fatal(text):
        return f"The preview's server stopped: {first_fatal(text)}"
    return "The preview's server stopped without an error in its log (was it killed?)."


def _fail(engine: Layout, record: dict, message: str) -> Preview:
    """Remove the files and processes of a failed preview, keep its record saying why."""
    _remove_server(engine, record)
    with engine.catalog.change() as data:
        stored = data.get("previews", {}).get(record["id"])
        if stored is None:
            raise NotFound(f"Preview '{record['id']}' does not exist (closed or expired).")
        stored["phase"] = "failed"
        stored["message"] = message
        stored.pop("owner", None)
        record = dict(stored)
    return _view(record)


def ready(engine: Layout, preview_id: str) -> tuple[dict, Node]:
    preview = status(engine, preview_id)
    if preview.status == "Failed":
        raise NotReady(f"The preview failed: {preview.message}")
    if preview.status != "Ready":
        raise NotReady("The preview is still starting; try again in a moment.")
    record = _get(engine, preview_id)
    return record, preview_node(engine, record)


# Teardown -------------------------------------------------------------------------------


def _remove_server(engine: Layout, record: dict) -> None:
    """Stop the server, delete the preview's directory and the socket files a killed
    postmaster leaves in the shared socket directory."""
    server = preview_node(engine, record)
    server.remove()
    base = server.socket_dir / f".s.PGSQL.{record['port']}"
    lock = base.with_name(base.name + ".lock")
    try:
        owner = int(read_owned(lock, server.pg.uid, 4096).split(b"\n")[0])
    except (OSError, ValueError, LocalCloudError):
        owner = None
    if owner is None or not pid_alive(owner):
        lock.unlink(missing_ok=True)
        base.unlink(missing_ok=True)


def _destroy(engine: Layout, preview_id: str) -> bool:
    """Stop the preview's server, delete its files, then its record; True if recorded."""
    record = engine.catalog.read().get("previews", {}).get(preview_id)
    directory = previews_dir(engine) / preview_id
    if record is not None:
        _remove_server(engine, record)
    elif directory.exists():
        Node(engine.pg, f"preview {preview_id}", directory, 0, engine.socket_dir).remove()
    with engine.catalog.change() as data:
        return data.get("previews", {}).pop(preview_id, None) is not None


def close(engine: Layout, preview_id: str) -> bool:
    if not isinstance(preview_id, str) or not ID_PATTERN.match(preview_id):
        return False
    return _destroy(engine, preview_id)


def list_all(engine: Layout) -> list[Preview]:
    records = engine.catalog.read().get("previews", {}).values()
    return sorted((_view(record) for record in records), key=lambda p: (p.created_at, p.id))


def sweep(engine: Layout, now: datetime) -> list[str]:
    """Remove previews past their time-to-live, and what a dead ``start`` left; report a
    preview whose server died as Failed (its files removed). Returns the removed ids."""
    # The directories first: one made after this listing has its record already.
    directory = previews_dir(engine)
    on_disk = {path.name for path in directory.iterdir()} if directory.exists() else set()
    data = engine.catalog.read()
    records = data.get("previews", {})
    removed = []
    for preview_id, record in records.items():
        expired = parse_time(record["expires_at"]) <= now
        abandoned = record["phase"] == "creating" and not owner_alive(record.get("owner"))
        orphaned = record["group"] not in data["groups"]
        if expired or abandoned or orphaned:
            if _destroy(engine, preview_id):
                removed.append(preview_id)
        elif record["phase"] in ("started", "ready"):
            with contextlib.suppress(NotFound):
                status(engine, preview_id)  # a dead server is reported and cleaned up
    for name in sorted(on_disk - set(records)):
        _destroy(engine, name)  # files without a record: nothing can reach them
    return removed


def close_for_group(engine: Layout, name: str) -> list[str]:
    """Close every preview of group ``name`` (it is being deleted); returns their ids."""
    records = engine.catalog.read().get("previews", {})
    closed = []
    for preview_id, record in records.items():
        if record["group"] == name and _destroy(engine, preview_id):
            closed.append(preview_id)
    return closed


def close_all(engine: Layout) -> list[str]:
    """Close every preview and remove preview files without a record; returns the ids."""
    closed = [
        preview_id
        for preview_id in list(engine.catalog.read().get("previews", {}))
        if _destroy(engine, preview_id)
    ]
    directory = previews_dir(engine)
    if directory.exists():
        for path in directory.iterdir():
            _destroy(engine, path.name)
    return closed
