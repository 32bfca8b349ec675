"""Each group is its own tenant: attacks from a group's admin role, and from the
operating-system user that runs the nodes, that now fail, on real PostgreSQL."""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from localcloud import InvalidName, LocalCloudError, NotFound, RestoreFailed
from localcloud.agent import Agent
from localcloud.catalog import legacy_uid
from localcloud.engine import PG_BIN
from localcloud.names import name_problem
from localcloud.node import UnsafeFile, read_owned
from localcloud.preview import MAX_BYTES
from localcloud.testing import processes_under, temporary_engine
from portal.backends.local import LocalBackend
from tests.ports import shifted_port

BASE_PORT = shifted_port(35932)
REPO = Path(__file__).resolve().parents[2]
SERVER_ACCESS = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")


def secret_table(marker: str):
    def setup(node: str, conn) -> None:  # runs as the group's admin role
        conn.execute("CREATE TABLE secrets (value text)")
        conn.execute("INSERT INTO secrets VALUES (%s)", (marker,))
        conn.execute(
            "CREATE FUNCTION stubborn() RETURNS int LANGUAGE plpgsql AS $$ BEGIN LOOP BEGIN"
            " PERFORM pg_sleep(0.05); EXCEPTION WHEN query_canceled THEN NULL; END;"
            " END LOOP; END $$"
        )

    return setup


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("ten-a", workers=0, setup=secret_table("a-secret-value"))
        engine.create_group("ten-b", workers=0, setup=secret_table("b-secret-value"))
        yield engine
    assert processes_under(engine.root) == []


def admin(engine, name: str, **overrides) -> psycopg.Connection:
    group = engine.get_group(name)
    options = {
        "host": "127.0.0.1",
        "port": group.coordinator.port,
        "user": group.admin_user,
        "password": group.admin_password,
        "dbname": group.database,
        "autocommit": True,
        "connect_timeout": 5,
    }
    options.update(overrides)
    return psycopg.connect(**options)


def refused(conn: psycopg.Connection, statement: str) -> str:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    return caught.value.diag.sqlstate


def as_nobody(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        list(command),
        user="nobody",
        group="nogroup",
        extra_groups=[],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
        check=False,
    )


# The admin role ------------------------------------------------------------------------


def test_admin_cannot_take_server_access_roles_or_superuser(engine):
    with admin(engine, "ten-a") as conn:
        for role in SERVER_ACCESS:
            assert refused(conn, f"GRANT {role} TO citus") == "42501"
        assert refused(conn, "ALTER ROLE citus SUPERUSER") == "42501"
        assert refused(conn, "ALTER ROLE citus CREATEROLE") == "42501"
        assert refused(conn, "CREATE ROLE sneaky SUPERUSER") == "42501"
        assert refused(conn, "SELECT localcloud.create_role('pg_sneaky')") == "42939"
        # What it may do, as Azure's admin role: make roles, grant them, drop them.
        conn.execute("SELECT localcloud.create_role('app_reader', 'pw-123456')")
        conn.execute("GRANT app_reader TO citus")
        for role in SERVER_ACCESS:
            assert refused(conn, f"GRANT {role} TO app_reader") == "42501"
        assert refused(conn, "SELECT localcloud.drop_role('postgres')") == "42501"
        assert refused(conn, "SELECT localcloud.set_role_password('citus', 'x')") == "42501"
        conn.execute("SELECT localcloud.drop_role('app_reader')")
        conn.execute("CREATE DATABASE tenant_owned")
        conn.execute("DROP DATABASE tenant_owned")
        granted = conn.execute(
            "SELECT count(*) FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid"
            " WHERE g.rolname = ANY(%s)",
            (list(SERVER_ACCESS),),
        ).fetchone()[0]
    assert granted == 0


def test_admin_cannot_run_programs_or_read_files(engine):
    with admin(engine, "ten-a") as conn:
        assert refused(conn, "COPY secrets FROM PROGRAM 'id'") == "42501"
        assert refused(conn, "COPY secrets TO PROGRAM 'id'") == "42501"
        assert refused(conn, "COPY secrets FROM '/etc/passwd'") == "42501"
        assert refused(conn, "SELECT pg_read_file('/etc/passwd')") == "42501"
        assert refused(conn, "SELECT lo_import('/etc/passwd')") == "42501"
        assert refused(conn, "SELECT pg_ls_dir('.')") == "42501"
        for extension in ("file_fdw", "dblink", "postgres_fdw", "adminpack"):
            assert refused(conn, f"CREATE EXTENSION {extension}") == "42501"


def test_admin_reaches_no_other_group(engine):
    b = engine.get_group("ten-b")
    a_password = engine.get_group("ten-a").admin_password
    attempts = [
        # TCP as the superuser (it has no password): a guess, the other group's password.
        {"user": "postgres", "password": "postgres"},
        {"user": "postgres", "password": a_password},
        # Its own admin role name and password on the other group's port.
        {"user": "citus", "password": a_password},
    ]
    for attempt in attempts:
        with pytest.raises(psycopg.OperationalError, match="authentication failed"):
            admin(engine, "ten-b", **attempt)
    # The socket, as any other local user: the socket directory is private.
    psql = str(Path(PG_BIN) / "psql")
    done = as_nobody(
        psql,
        "-h",
        str(b.coordinator.socket_dir),
        "-p",
        str(b.coordinator.port),
        "-U",
        "postgres",
        "-d",
        "citus",
        "-c",
        "SELECT value FROM secrets",
    )
    assert done.returncode != 0 and "b-secret-value" not in done.stdout
    # Files of the other group's data directory, from the admin role.
    with admin(engine, "ten-a") as conn:
        path = f"{b.coordinator.data_dir}/PG_VERSION"
        assert refused(conn, f"SELECT pg_read_file('{path}')") == "42501"
        assert refused(conn, f"SELECT lo_import('{path}')") == "42501"
        assert refused(conn, f"SELECT pg_stat_file('{path}')") == "42501"
    for node in engine.get_group("ten-a").nodes + b.nodes:
        hba = Path(node.data_dir, "pg_hba.conf").read_text()
        assert "trust" not in [word for line in hba.splitlines() for word in line.split()]


def test_each_group_runs_as_its_own_os_user_that_reaches_no_other_group(engine):
    a, b = os_user(engine, "ten-a"), os_user(engine, "ten-b")
    assert a != b and "postgres" not in (a, b)
    for name, user in (("ten-a", a), ("ten-b", b)):
        for node in engine.get_group(name).nodes:
            pid = int(Path(node.data_dir, "postmaster.pid").read_text().split()[0])
            assert Path(f"/proc/{pid}").stat().st_uid == pwd.getpwnam(user).pw_uid
    other = engine.get_group("ten-b").coordinator
    archived = sorted(Path(other.data_dir).parent.joinpath("archive").iterdir())[0]
    for path in (other.data_dir, f"{other.data_dir}/PG_VERSION", str(archived)):
        done = subprocess.run(  # noqa: S603
            ["cat", path], user=a, extra_groups=[], capture_output=True, cwd="/", check=False
        )
        assert done.returncode != 0 and b"Permission denied" in done.stderr


def test_preview_refuses_an_admin_role_that_was_superuser_at_the_point(engine):
    with engine.connect("ten-a") as conn:
        conn.execute("ALTER ROLE citus SUPERUSER")
    point = datetime.now(UTC)
    try:
        preview = engine.preview_start("ten-a", point)
        wait_ready(engine, preview.id)
        with pytest.raises(LocalCloudError, match="was a superuser"):
            engine.preview_query(preview.id, "SELECT pg_read_file('/etc/passwd')")
        engine.preview_close(preview.id)
    finally:
        with engine.connect("ten-a") as conn:
            conn.execute("ALTER ROLE citus NOSUPERUSER")


# Privilege separation: what the node's OS user controls leaks nothing -------------------


@pytest.fixture
def secret_file():
    directory = Path(tempfile.mkdtemp(prefix="secret-"))  # 0700, root's
    path = directory / "secret_key"
    marker = f"TOP-SECRET-{uuid.uuid4().hex}"
    path.write_text(f"{marker}\n")
    path.chmod(0o600)
    yield path, marker
    path.unlink()
    directory.rmdir()


def os_user(engine, group: str) -> str:
    return engine.catalog.read()["groups"][group]["os_user"]


def plant_link(user: str, target: Path, link: Path) -> None:
    """As a group's OS user, as an attacker who got a shell as that user would."""
    subprocess.run(  # noqa: S603
        ["ln", "-sfn", str(target), str(link)], user=user, extra_groups=[], check=True, cwd="/"
    )


def test_history_file_replaced_by_a_link_leaks_nothing(engine, secret_file):
    secret, marker = secret_file
    planted = []

    def progress(phase: str, node: str | None, percent: int) -> None:
        if phase == "backing up" and percent == 80 and node:
            data = engine.group_dir("ten-linked") / node / "data"
            for history in (data / "pg_wal").glob("*.history"):
                plant_link(os_user(engine, "ten-linked"), secret, history)
                planted.append(history)

    with pytest.raises(RestoreFailed) as caught:
        engine.restore("ten-a", "ten-linked", progress=progress)
    assert planted
    assert marker not in str(caught.value)
    assert "symbolic link" in str(caught.value)
    with pytest.raises(NotFound):
        engine.get_group("ten-linked")


def test_server_log_replaced_by_a_link_is_not_read(engine, secret_file):
    secret, marker = secret_file
    group = engine.catalog.read()["groups"]["ten-b"]
    node = engine.nodes(group)[0]
    saved = node.dir / "server.log.saved"
    os.rename(node.log, saved)
    try:
        plant_link(os_user(engine, "ten-b"), secret, node.log)
        assert marker not in node.log_tail()
        assert marker not in str(node.died("test"))
        with pytest.raises(UnsafeFile):
            read_owned(node.log, engine.pg.uid)
    finally:
        node.log.unlink()
        os.rename(saved, node.log)


# Files under the root ------------------------------------------------------------------


def test_every_path_under_the_root_is_unreadable_by_another_user(engine):
    preview = engine.preview_start("ten-b", datetime.now(UTC))
    wait_ready(engine, preview.id)
    engine.restore("ten-b", "ten-b-copy")
    engine.index_events("ten-b")
    try:
        paths = [str(engine.root)]
        for folder, dirs, files in os.walk(engine.root):
            paths += [os.path.join(folder, name) for name in dirs + files]
        assert len(paths) > 1000
        probe = (
            "import os, sys\n"
            "for line in sys.stdin:\n"
            "    path = line.rstrip('\\n')\n"
            "    if os.access(path, os.R_OK) or os.access(path, os.W_OK):\n"
            "        print(path)\n"
        )
        done = subprocess.run(  # noqa: S603
            ["/usr/bin/python3", "-c", probe],
            input="\n".join(paths) + "\n",
            user="nobody",
            group="nogroup",
            extra_groups=[],
            capture_output=True,
            text=True,
            cwd="/",
            timeout=120,
            check=True,
        )
        assert done.stdout == ""
        assert engine.private_problems() == []
    finally:
        engine.preview_close(preview.id)
        engine.delete_group("ten-b-copy")


def test_a_root_open_to_others_is_refused_at_start_with_the_fix(engine):
    lock = engine.root / "catalog.lock"
    lock.chmod(0o644)
    try:
        problems = " ".join(engine.private_problems())
        assert str(lock) in problems and "chmod go-rwx" in problems
        assert any(str(lock) in line for line in engine.check())
    finally:
        lock.chmod(0o600)


# Previews: the server's deadline and a byte budget --------------------------------------


def wait_ready(engine, preview_id: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while (preview := engine.preview_status(preview_id)).status == "Starting":
        assert time.monotonic() < deadline, f"preview {preview_id} not ready in {timeout} s"
        time.sleep(0.05)
    assert preview.status == "Ready", preview.message
    return preview


def test_a_function_that_traps_cancels_ends_at_the_deadline(engine):
    preview = engine.preview_start("ten-a", datetime.now(UTC))
    try:
        wait_ready(engine, preview.id)
        started = time.monotonic()
        with pytest.raises(LocalCloudError, match="deadline of 2 s"):
            engine.preview_query(preview.id, "SELECT stubborn()", timeout=2)
        # Before this, it ran until the preview's server stopped (the cancel was trapped).
        assert time.monotonic() - started < 15
        server_rows = engine.preview_query(
            preview.id,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%stubborn()%'"
            " AND pid <> pg_backend_pid()",
        )
        assert server_rows.rows == (("0",),)
    finally:
        engine.preview_close(preview.id)


def test_a_300_mb_result_is_cut_with_a_message(engine):
    preview = engine.preview_start("ten-a", datetime.now(UTC))
    try:
        wait_ready(engine, preview.id)
        result = engine.preview_query(
            preview.id,
            "SELECT g, repeat('x', 30000) AS wide FROM generate_series(1, 10000) g",
            limit=10000,
            timeout=60,
        )
        assert result.truncated and "cut after" in result.message
        assert 0 < len(result.rows) * 30000 <= MAX_BYTES
        assert result.rows[0][0] == "1"
    finally:
        engine.preview_close(preview.id)


# Lineage by identity --------------------------------------------------------------------


def test_copy_from_a_source_deleted_and_recreated_under_its_name_is_refused(engine):
    engine.create_group("lin-src", workers=0)
    engine.restore("lin-src", "lin-copy")
    backend = LocalBackend(root=engine.root, base_port=BASE_PORT)
    copy = backend.get_server_group("lin-copy")
    assert copy.restored_from_uid == backend.get_server_group("lin-src").uid
    assert copy.uid and copy.uid != copy.restored_from_uid
    engine.delete_group("lin-src")
    with pytest.raises(NotFound, match="has been deleted"):
        engine.copy_firewall_rules("lin-src", "lin-copy")
    engine.create_group("lin-src", workers=0)
    engine.set_firewall_rule("lin-src", "everyone", "0.0.0.0", "255.255.255.255")
    try:
        for copy_settings in (engine.copy_firewall_rules, engine.copy_parameters):
            with pytest.raises(NotFound, match="another created under its name"):
                copy_settings("lin-src", "lin-copy")
        assert engine.get_group("lin-copy").firewall_rules == ()
    finally:
        engine.delete_group("lin-src")
        engine.delete_group("lin-copy")


def test_records_from_before_ids_get_a_stable_id_and_no_guessed_source(engine):
    record = {"name": "old", "created_at": "2026-01-01T00:00:00.000000+00:00"}
    assert legacy_uid(record) == legacy_uid(dict(record))
    with engine.catalog.change() as data:
        data["groups"]["ten-b"].pop("uid")
    first = engine.catalog.read()["groups"]["ten-b"]["uid"]
    assert first == engine.catalog.read()["groups"]["ten-b"]["uid"]


# Smaller items --------------------------------------------------------------------------


def test_a_name_with_a_trailing_newline_is_refused_clearly(engine):
    assert "line break" in name_problem("ten-c\n")
    with pytest.raises(InvalidName, match="line break"):
        engine.create_group("ten-c\n", workers=0)
    with pytest.raises(InvalidName):
        engine.begin_restore("ten-a", "ten-c\n")


def test_previews_stop_when_the_agent_stops(engine):
    engine.preview_start("ten-a", datetime.now(UTC))
    env = dict(os.environ, LOCALCLOUD_ROOT=str(engine.root), PORTAL_BACKENDS="local")
    env["LOCALCLOUD_BASE_PORT"] = str(BASE_PORT)
    agent = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "localcloud_agent", "--interval", "30"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout.readline(), agent.stderr.read()
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=60) == 0
    out = agent.stdout.read()
    assert "closed 1 preview(s)" in out, out + agent.stderr.read()
    assert engine.list_previews() == []
    assert processes_under(engine.root / "previews") == []
    assert json.loads(json.dumps(engine.catalog.read().get("previews", {}))) == {}


def test_the_agent_refuses_to_start_on_a_root_others_can_enter(tmp_path):
    root = tmp_path / "lc"
    root.mkdir()
    stray = root / "catalog.json"
    stray.write_text("{}")
    # Not the engine's (its owner is another user): the engine does not fix it, it says so.
    os.chown(stray, 65534, 65534)
    stray.chmod(0o644)
    env = dict(os.environ, LOCALCLOUD_ROOT=str(root), PORTAL_BACKENDS="local")
    env["LOCALCLOUD_BASE_PORT"] = str(BASE_PORT)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "localcloud_agent", "--once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert f"chmod go-rwx {stray}" in done.stderr and "Traceback" not in done.stderr


def test_a_group_made_before_these_rules_is_secured_by_the_agent(engine):
    """As the previous version left a group: trust in pg_hba, CREATEROLE, and a
    server-access role already taken."""
    group = engine.catalog.read()["groups"]["ten-b"]
    node = engine.nodes(group)[0]
    old_hba = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
    node.pg.write_file(node.data / "pg_hba.conf", old_hba)
    with engine.connect("ten-b") as conn:
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("ALTER ROLE citus CREATEROLE")
        conn.execute("GRANT pg_execute_server_program TO citus")
    with engine.catalog.change() as data:
        data["groups"]["ten-b"].pop("security")

    assert "ten-b: applied the current security rules" in Agent(engine).run_once()

    with admin(engine, "ten-b") as conn:
        assert refused(conn, "COPY secrets FROM PROGRAM 'id'") == "42501"
        assert refused(conn, "GRANT pg_read_server_files TO citus") == "42501"
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        admin(engine, "ten-b", user="postgres", password="postgres")
    assert "trust" not in (node.data / "pg_hba.conf").read_text()
