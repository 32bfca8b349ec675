"""An event in the newest second of the restore window, on real PostgreSQL.

A DROP TABLE commits, and the WAL is sealed and indexed within that same second: the
window read afterwards reaches past it, the timeline lists it, and the restore to just
before it keeps the table's rows. First the engine alone, then through the wizard
("Index the latest WAL now", "Restore to just before this", OK), where the window was
once cut to whole seconds and read before the index pass, which hid such an event.

Landing in one second is up to the clock: each test starts its DROP just after a
second begins and tries again (a new table each time) when the pass ran into the next
second, so that it proves the edge case, not a case near it.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from localcloud import Engine
from localcloud.testing import create_ticks
from restore_wizard.models import RestoreOperation
from tests.local_portal import serve_engine

GROUP = "edge-src"
ROWS = 300
TRIES = 5
IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"
RESTORE_URL = f"/servergroups/local/{GROUP}/restore/"


@pytest.fixture(scope="module")
def group(engine: Engine):
    engine.create_group(GROUP, workers=1, setup=create_ticks)
    engine.index_events(GROUP)
    yield GROUP
    engine.delete_group(GROUP)


def make_table(engine: Engine, group: str, table: str) -> None:
    """A table of ROWS rows, sealed and indexed, so that the index knows its name."""
    with engine.connect(group) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, total numeric NOT NULL)")
        conn.execute(f"INSERT INTO {table} SELECT g, g * 1.5 FROM generate_series(1, {ROWS}) g")
    engine.seal_group(group)
    engine.index_events(group)


def drop_early_in_a_second(engine: Engine, group: str, table: str) -> tuple[datetime, datetime]:
    """Wait for the next whole second, then commit a row and DROP ``table`` on the
    coordinator; returns (the commit just before the DROP, the DROP's commit)."""
    now = datetime.now(UTC)
    time.sleep(1.005 - now.microsecond / 1_000_000)
    with engine.connect(group) as conn:
        conn.execute("INSERT INTO ticks (node) VALUES ('coordinator')")
        previous = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
        conn.execute(f"DROP TABLE {table}")
        dropped_at = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
    return previous, dropped_at


def same_second(first: datetime, second: datetime) -> bool:
    return first.replace(microsecond=0) == second.replace(microsecond=0)


def rows_in(engine: Engine, group: str, table: str) -> int:
    with engine.connect(group) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_engine_lists_a_drop_indexed_in_its_own_second_and_restores_to_just_before(
    engine: Engine, group: str
):
    tried = []
    for attempt in range(TRIES):
        table = f"engine_edge_{attempt}"
        make_table(engine, group, table)
        previous, dropped_at = drop_early_in_a_second(engine, group, table)
        engine.seal_group(group)
        engine.index_events(group)
        earliest, latest = engine.restore_window(group)

        drops = [
            event
            for event in engine.events(group, earliest, latest).events
            if event.kind == "DROP TABLE" and event.relations == (f"public.{table}",)
        ]
        assert [event.commit_time for event in drops] == [dropped_at]
        # The instant before the DROP's commit, for the whole group.
        before = drops[0].before
        assert earliest <= previous <= before < dropped_at <= latest
        tried.append((dropped_at, latest))
        if same_second(dropped_at, latest):
            break
    else:
        pytest.fail(f"No try sealed and indexed within the DROP's second: {tried}")

    engine.restore(group, "edge-engine-before", before)
    try:
        assert rows_in(engine, "edge-engine-before", table) == ROWS
    finally:
        engine.delete_group("edge-engine-before")


@pytest.fixture
def wizard(settings, engine: Engine, operator_client):
    """The portal over this localcloud root; restores run inside the request."""
    serve_engine(settings, engine)
    settings.TASKS = {"default": {"BACKEND": IMMEDIATE}}
    return operator_client


def just_before_link(page: str, table: str) -> str:
    """The "Restore to just before this" link of the DROP of ``table``; fails when the
    timeline does not list it, or lists it without a link."""
    rows = re.findall(r"<tr>.*?</tr>", page, re.S)
    mine = [row for row in rows if f"DROP TABLE public.{table} in database citus" in row]
    assert len(mine) == 1, f"the DROP of {table} is not listed once:\n{page}"
    link = re.search(r'<a class="button button-small" href="([^"]+)"[^>]*>Restore to just', mine[0])
    assert link, f"the DROP of {table} cannot be restored to just before:\n{mine[0]}"
    return html.unescape(link[1])


# Transactional: the restore's heartbeat writes from a thread of its own.
@pytest.mark.django_db(transaction=True)
def test_wizard_lists_a_drop_indexed_in_its_own_second_and_restores_to_just_before(
    wizard, engine: Engine, group: str
):
    tried = []
    for attempt in range(TRIES):
        table = f"wizard_edge_{attempt}"
        make_table(engine, group, table)
        previous, dropped_at = drop_early_in_a_second(engine, group, table)
        # "Index the latest WAL now": seal, index, then the window and the timeline.
        response = wizard.post(RESTORE_URL + "timeline/", headers={"HX-Request": "true"})

        assert response.status_code == 200
        window = response.context["window"]
        link = just_before_link(response.content.decode(), table)
        assert window.earliest <= previous < dropped_at <= window.latest
        tried.append((dropped_at, window.latest))
        if same_second(dropped_at, window.latest):
            break
    else:
        pytest.fail(f"No try sealed and indexed within the DROP's second: {tried}")

    query = parse_qs(urlsplit(link).query)
    assert query["choice"] == ["custom"]
    point = datetime.fromisoformat(query["point"][0]).replace(tzinfo=UTC)
    assert previous <= point < dropped_at  # the instant before the DROP's commit
    step = wizard.get(link).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', step)[1]
    form = {
        "choice": "custom",
        "point": query["point"][0],
        "point_source": "utc",
        "idempotency_key": key,
        "target_name": "edge-wizard-before",
    }
    try:
        started = wizard.post(RESTORE_URL, form)  # runs the restore to its end
        assert started.status_code == 302, started.content.decode()
        operation = RestoreOperation.objects.get(target_name="edge-wizard-before")
        assert operation.requested_point == point
        assert operation.status == RestoreOperation.Status.SUCCEEDED, operation.message
        assert rows_in(engine, "edge-wizard-before", table) == ROWS
    finally:
        if "edge-wizard-before" in engine.catalog.read()["groups"]:
            engine.delete_group("edge-wizard-before")
