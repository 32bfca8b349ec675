"""``servergroups preview NAME --point T [--node NODE] [--query SQL] [--json]``: one
preview for the length of one command.

Starts a preview of one node at T, waits until it is ready, lists its tables with their
exact row counts beside the same tables now (compare with now), runs the query read-only
when one is given, and removes the preview when the command ends: on success, on an
error, on Ctrl-C and on SIGTERM alike.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from django.conf import settings
from django.core.management.base import CommandError

from portal.backends.base import (
    Backend,
    BackendError,
    PreviewComparison,
    PreviewInfo,
    PreviewRows,
    PreviewTable,
    ServerGroup,
)
from portal.instants import parse_instant, utc_iso, utc_text

READY_TIMEOUT = 600.0  # seconds: a recovery of a large backup on a loaded machine


def parse_point(text: str) -> datetime:
    """The preview point as typed (portal.instants.parse_instant), refused in words."""
    try:
        return parse_instant(text, label="The preview point")
    except ValueError as error:
        raise CommandError(str(error)) from error


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the command as Ctrl-C does, so that the preview is removed."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (a test calling the command): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def close_undisturbed(backend: Backend, preview_id: str) -> None:
    """Close the preview; a Ctrl-C or SIGTERM meanwhile is held until it is closed (an
    interrupted close would leave a server running until it expires), then acts.

    Held by Python handlers, not a signal mask: a mask is per thread, and the kernel
    hands a signal sent to the process to any thread that does not block it."""
    held: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, lambda number, frame: held.append(number))
        except ValueError:  # not the main thread (a test calling the command): as it was
            break
    try:
        with contextlib.suppress(BackendError):
            backend.preview_close(preview_id)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if any(previous[signum] is not signal.SIG_IGN for signum in held):
        raise KeyboardInterrupt


def wait_ready(backend: Backend, preview: PreviewInfo, say: Callable[[str], None]) -> PreviewInfo:
    deadline = time.monotonic() + READY_TIMEOUT
    said = False
    while preview.status == "Starting":
        if not said:
            say(
                f"Starting a read-only copy of {preview.node} at {utc_text(preview.point)}: "
                "unpacking its backup and replaying the WAL up to that point…"
            )
            said = True
        if time.monotonic() > deadline:
            raise CommandError(f"The preview was not ready after {READY_TIMEOUT:.0f} s.")
        time.sleep(0.1)
        preview = backend.preview_status(preview.id)
    if preview.status == "Failed":
        raise CommandError(f"The preview failed: {preview.message}")
    return preview


def run(
    backend: Backend,
    group: ServerGroup,
    point: datetime,
    node: str,
    sql: str | None,
    say: Callable[[str], None],
) -> dict:
    """Everything the command shows, as one dict (the --json shape); the preview is
    removed before this returns or raises."""
    if not backend.can_preview:
        raise CommandError(f"The {backend.label} backend cannot preview data at a point.")
    if sql is not None and not sql.strip():
        raise CommandError("The query is empty.")
    with terminate_as_interrupt():
        preview = backend.preview_start(group.id, point, node)
        try:
            preview = wait_ready(backend, preview, say)
            try:
                comparison = backend.preview_compare(preview.id)
                compare_error = None
            except BackendError as error:
                tables = backend.preview_tables(preview.id)
                comparison = [PreviewComparison(t.schema, t.name, t, None) for t in tables]
                compare_error = f"Compare with now is not available: {error.message}"
            result = None
            if sql is not None:
                try:
                    result = backend.preview_query(
                        preview.id,
                        sql,
                        limit=settings.PORTAL_PREVIEW_ROW_LIMIT,
                        timeout=settings.PORTAL_PREVIEW_TIMEOUT_SECONDS,
                    )
                except BackendError as error:
                    raise CommandError(f"The query did not run: {error.message}") from error
        finally:
            close_undisturbed(backend, preview.id)
    return {
        "group": group.name,
        "node": preview.node,
        "point": utc_iso(preview.point),
        "preview": preview.id,
        "tables": [table_json(row, compared=compare_error is None) for row in comparison],
        "compare_error": compare_error,
        "query": query_json(sql, result) if result is not None else None,
        "removed": True,
    }


def rows_json(table: PreviewTable | None) -> dict | None:
    if table is None:
        return None
    return {"rows": table.rows, "exact": table.exact, "bytes": table.size, "note": table.note}


def table_json(row: PreviewComparison, *, compared: bool) -> dict:
    return {
        "schema": row.schema,
        "name": row.name,
        "at_point": rows_json(row.at_point),
        "now": rows_json(row.now) if compared else None,
        "difference": row.difference if compared else None,
        "change": row.change if compared else None,
    }


def query_json(sql: str, result: PreviewRows) -> dict:
    return {
        "sql": sql,
        "columns": list(result.columns),
        "rows": [list(row) for row in result.rows],
        "truncated": result.truncated,
        "elapsed_ms": result.elapsed_ms,
        "message": result.message,
    }


def count_text(rows: dict | None) -> str:
    if rows is None:
        return "no such table"
    if rows["exact"]:
        text = f"{rows['rows']:,}"
    elif rows["rows"] is not None:
        text = f"≈ {rows['rows']:,}"
    else:
        text = "—"
    return f"{text} ({rows['note']})" if rows["note"] else text


def as_text(found: dict) -> str:
    lines = [
        f"Preview of {found['group']}/{found['node']} at {utc_text(parse_point(found['point']))}"
        " (a read-only copy, as a restore to that point gives it)",
        "",
    ]
    if not found["tables"]:
        lines.append("No tables at this point.")
    else:
        compared = found["compare_error"] is None
        rows = [
            (
                f"{t['schema']}.{t['name']}",
                count_text(t["at_point"]),
                count_text(t["now"]) if compared else "",
                t["change"] or "",
            )
            for t in found["tables"]
        ]
        head = ("TABLE", "ROWS AT THE POINT", "ROWS NOW", "SINCE THE POINT")
        if not compared:
            head, rows = head[:2], [row[:2] for row in rows]
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        for row in [head, *rows]:
            lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
    if found["compare_error"]:
        lines += ["", found["compare_error"]]
    query = found["query"]
    if query is not None:
        lines += ["", f"Query: {query['sql']}"]
        lines.append(" | ".join(query["columns"]))
        for row in query["rows"]:
            lines.append(" | ".join("NULL" if value is None else value for value in row))
        shown = len(query["rows"])
        more = "; there are more" if query["truncated"] else ""
        lines.append(f"({shown} row{'s' if shown != 1 else ''}{more}, {query['elapsed_ms']} ms)")
        if query["message"]:
            lines.append(query["message"])
    lines += ["", "The preview was removed."]
    return "\n".join(lines)
