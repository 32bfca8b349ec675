"""The one read-only query path of a preview: how a DBA's SQL runs, and why it cannot
change anything or run for ever. Everything that decides a query's safety is here, so it
can be reviewed on its own; it knows nothing of how a preview is started.

Queries run as the group's admin role (a plain role), never as the superuser, who could
write files on this machine (``lo_export``, ``COPY ... TO PROGRAM``): a table the admin
role may not read on the source cannot be read in a preview either. The roles are the
source's as they were at T, so the query is refused when the admin role was then a
superuser, or a member of one or of a server-access role (``roles.too_powerful``).

One statement only: the text must start as a query (SELECT, VALUES, TABLE, WITH), it is
sent through the extended protocol (which refuses a second statement) as the body of a
cursor (``DECLARE ... CURSOR FOR``, which refuses data-modifying statements), inside
``BEGIN READ ONLY`` (the transaction cannot be switched to read-write once the query
has its snapshot), and rolled back. The copy is promoted at T (lifecycle.py), so these
are what keeps it as it was: the server itself no longer refuses writes as a standby
would. The few writes PostgreSQL 15 still lets a function make in a read-only
transaction (``lo_create``, temporary tables) are undone by the rollback, and last no
longer than the statement timeout.

The deadline is the server's: a statement timeout, and at the deadline the engine ends
the query's backend from a superuser connection (``pg_terminate_backend``), which a
PL/pgSQL handler for ``query_canceled`` cannot trap. Rows are fetched in chunks and
counted in bytes as well: past ``MAX_BYTES`` the result is cut, with a message.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time

import psycopg
from psycopg import sql as pgsql

from .. import roles
from ..errors import LocalCloudError, NotReady
from ..model import QueryResult
from ..node import Node

MAX_SQL = 10_000
MAX_LIMIT = 10_000
MAX_TIMEOUT = 60.0
MAX_VALUE = 500  # characters of one value shown
MAX_BYTES = 16 << 20  # of raw values fetched for one query, whatever the row limit
FETCH_ROWS = 500  # at most per round trip; fewer when rows are wide

ONE_QUERY = (
    "Only one read-only query (SELECT, VALUES, TABLE or WITH ... SELECT) can run in a preview."
)
QUERY_START = re.compile(r"^(select|values|table|with)\b", re.IGNORECASE)


def check(sql: str, *, limit: int, timeout: float) -> str:
    """The query's text, or a ``LocalCloudError`` saying why it cannot run (before any
    connection is made)."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise LocalCloudError(f"The row limit must be between 1 and {MAX_LIMIT}.")
    if not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
        raise LocalCloudError(f"The timeout must be more than 0 and at most {MAX_TIMEOUT:.0f} s.")
    text = (sql or "").strip()
    body = _strip_comments(text).strip().rstrip(";").strip()
    if not body:
        raise LocalCloudError("The query is empty.")
    if len(text) > MAX_SQL:
        raise LocalCloudError(f"The query is longer than {MAX_SQL:,} characters.")
    if "\x00" in text:
        raise LocalCloudError("The query contains a NUL character.")
    if not QUERY_START.match(body.lstrip("( \t\r\n")):
        raise LocalCloudError(ONE_QUERY)
    return text


def run(server: Node, group: dict, sql: str, *, limit: int, timeout: float) -> QueryResult:
    """Run ONE read-only query on ``server`` as ``group``'s admin role, in a read-only
    transaction, through a cursor that returns at most ``limit`` rows and ``MAX_BYTES``
    bytes; the server ends it at ``timeout`` seconds, whatever the query does."""
    text = check(sql, limit=limit, timeout=timeout)
    conn = _connect_as_admin(server, group)
    deadline = _Deadline(server, conn.info.backend_pid, timeout)
    started = time.monotonic()
    try:
        with conn:
            deadline.start()
            conn.execute("BEGIN READ ONLY")
            # The statement timeout comes first, so that an ordinary query is cancelled
            # (and says so); termination at the deadline is for one that traps cancels.
            grace = min(0.2, timeout / 5)
            conn.execute(
                pgsql.SQL("SET LOCAL statement_timeout = {}").format(
                    pgsql.Literal(max(1, int((timeout - grace) * 1000)))
                )
            )
            cursor = conn.cursor()
            # prepare=True: the extended protocol, which refuses more than one statement.
            cursor.execute(CURSOR_PREFIX + text, prepare=True)
            columns, rows, message = _fetch(conn, cursor, limit)
            conn.execute("ROLLBACK")
    except psycopg.Error as error:
        if deadline.fired and not isinstance(error, psycopg.errors.QueryCanceled):
            raise LocalCloudError(
                f"The query was stopped at its deadline of {timeout:g} s (the server ended it)."
            ) from error
        raise _query_error(error, timeout, len(CURSOR_PREFIX)) from error
    finally:
        deadline.cancel()
        conn.close()
    elapsed = (time.monotonic() - started) * 1000
    truncated = len(rows) > limit or bool(message)
    return QueryResult(columns, tuple(rows[:limit]), truncated, round(elapsed, 1), message)


CURSOR_PREFIX = "DECLARE preview_rows NO SCROLL CURSOR FOR "


def _connect_as_admin(server: Node, group: dict) -> psycopg.Connection:
    """A connection as the group's admin role (peer authentication: no password), or a
    refusal when that role had superuser or server-access rights at T."""
    try:
        conn = psycopg.connect(
            host=str(server.socket_dir),
            port=server.port,
            user=group["admin_user"],
            dbname=group["database"],
            connect_timeout=5,
            autocommit=True,
            application_name="localcloud preview",
        )
    except psycopg.OperationalError as error:
        raise NotReady(f"The preview cannot be reached: {error}") from error
    try:
        refused = roles.too_powerful(conn)
    except psycopg.Error as error:
        conn.close()
        raise NotReady(f"The preview cannot be reached: {error}") from error
    if refused:
        conn.close()
        raise LocalCloudError(
            f"At this point in time the admin role '{group['admin_user']}' was a superuser, "
            "or a member of a superuser or of a server-access role (pg_execute_server_program, "
            "pg_read_server_files, pg_write_server_files); a preview never runs a query with "
            "those rights. Tables can still be listed."
        )
    return conn


class _Deadline:
    """Ends the query's backend at the deadline from a superuser connection: a statement
    timeout or a cancel is an error a PL/pgSQL handler can catch, termination is not."""

    def __init__(self, server: Node, pid: int, timeout: float):
        self.server = server
        self.pid = pid
        self.fired = False
        self.timer = threading.Timer(timeout, self._terminate)
        self.timer.daemon = True

    def start(self) -> None:
        self.timer.start()

    def cancel(self) -> None:
        self.timer.cancel()

    def _terminate(self) -> None:
        self.fired = True
        with contextlib.suppress(psycopg.Error), self.server.connect(timeout=2) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (self.pid,))


def _fetch(
    conn: psycopg.Connection, cursor: psycopg.Cursor, limit: int
) -> tuple[tuple[str, ...], list[tuple[str | None, ...]], str]:
    """(columns, up to ``limit`` + 1 rows, why it stopped early or "").

    In chunks sized from the widest row seen so far, so the bytes held stay near
    ``MAX_BYTES``: a row limit alone lets 10,000 rows of 30 kB each take 300 MB.
    """
    encoding = conn.info.encoding
    columns: tuple[str, ...] = ()
    rows: list[tuple[str | None, ...]] = []
    fetched = 0
    widest = 0
    while len(rows) <= limit:
        room = MAX_BYTES - fetched
        if room <= 0:
            return columns, rows, _cut_message(rows)
        count = min(limit + 1 - len(rows), FETCH_ROWS, max(1, room // widest) if widest else 1)
        cursor.execute(pgsql.SQL("FETCH FORWARD {} FROM preview_rows").format(count))
        result = cursor.pgresult
        columns = tuple(result.fname(index).decode(encoding) for index in range(result.nfields))
        for row in range(result.ntuples):
            raw = [result.get_value(row, col) for col in range(result.nfields)]
            size = sum(len(value) for value in raw if value is not None)
            widest = max(widest, size)
            fetched += size
            if fetched > MAX_BYTES:
                return columns, rows, _cut_message(rows)
            rows.append(tuple(_value(value, encoding) for value in raw))
        if result.ntuples < count:
            break
    return columns, rows, ""


def _cut_message(rows: list) -> str:
    return (
        f"The result was cut after {len(rows):,} rows: a preview shows at most "
        f"{MAX_BYTES >> 20} MB of data per query. Select fewer or narrower columns, or "
        "add a WHERE clause."
    )


def _value(raw: bytes | None, encoding: str) -> str | None:
    if raw is None:
        return None
    value = raw.decode(encoding, errors="replace")
    return value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + "…"


def _strip_comments(text: str) -> str:
    """The SQL without leading comments, to see which statement it is."""
    while True:
        text = text.lstrip()
        if text.startswith("--"):
            text = text.partition("\n")[2]
        elif text.startswith("/*"):
            end = text.find("*/")
            text = text[end + 2 :] if end >= 0 else ""
        else:
            return text


def _query_error(error: psycopg.Error, timeout: float, offset: int) -> LocalCloudError:
    diag = error.diag
    message = diag.message_primary or str(error).strip()
    state = diag.sqlstate or ""
    if isinstance(error, psycopg.errors.QueryCanceled) or state == "57014":
        return LocalCloudError(f"The query was cancelled after {timeout:g} s (statement timeout).")
    if "multiple commands" in message or "data-modifying statements" in message:
        return LocalCloudError(ONE_QUERY)
    if state == "25006":  # read_only_sql_transaction
        return LocalCloudError(f"A preview is read-only: {message}.")
    if state == "42501":  # insufficient_privilege
        return LocalCloudError(
            f"The group's admin role may not do this: {message}. Preview queries run as the "
            "admin role, with its privileges (a table created by another role, such as the "
            "superuser, needs a GRANT to it on the source)."
        )
    if state == "42601":  # syntax_error
        where = ""
        if diag.statement_position and int(diag.statement_position) > offset:
            where = f" (at character {int(diag.statement_position) - offset})"
        return LocalCloudError(f"Syntax error: {message}{where}.")
    if isinstance(error, psycopg.OperationalError) and not state:
        return NotReady(f"The preview's server went away during the query: {message}")
    detail = f" {diag.message_detail}" if diag.message_detail else ""
    hint = f" Hint: {diag.message_hint}" if diag.message_hint else ""
    return LocalCloudError(f"The query failed: {message}.{detail}{hint}")
