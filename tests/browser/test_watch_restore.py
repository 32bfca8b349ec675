"""Watching a WAL-bound restore in Chromium: a bar per node that moves, the group's time
left that falls, the local times that stay after each in-place update, the same bars in
the bell, and Cancel that stops the restore and leaves nothing of the new group."""

import re
import threading
import time
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from playwright.sync_api import expect

from localcloud.progress import ReplayWatch
from localcloud.testing import create_ticks, processes_under, temporary_engine
from portal.backends import get_backend
from restore_wizard.models import RestoreOperation
from restore_wizard.services.operations import restore_operation_start
from tests.ports import shifted_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_PORT = shifted_port(29432)
POLL_SECONDS = 0.5  # pages poll fast, so each update shows soon
SOURCE = "walbound"
ROWS = 250_000  # about 250 MB of WAL per node after the backup: a replay of seconds


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group(SOURCE, workers=1, setup=create_ticks)
        for node in engine.get_group(SOURCE).nodes:
            with engine.connect(SOURCE, node.name) as conn:
                conn.execute("CREATE TABLE filler (id bigint, pad text)")
                conn.execute(
                    "INSERT INTO filler SELECT g, repeat(md5(g::text), 30) "
                    "FROM generate_series(1, %s) g",
                    (ROWS,),
                )
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture
def browser_context_args(browser_context_args):
    # Away from UTC, so that every time on the page has its local twin beside it.
    return {**browser_context_args, "timezone_id": "Europe/Berlin"}


def seconds(text: str) -> float:
    """``1 min 05 s`` or ``12 s`` as seconds."""
    minutes = re.search(r"(\d+) min", text)
    rest = re.search(r"(\d+) s", text)
    return (int(minutes[1]) * 60 if minutes else 0) + (int(rest[1]) if rest else 0)


STEP = 25_000_000  # bytes of WAL each step replays: a tenth of a node's


class StepwiseReplay:
    """Recovery replays its WAL as it would, but a step at a time, at the test's word.

    Each node's replay is paused the first time the restore reads its position (the
    node has just become consistent); every ``step()`` lets each node replay ``STEP``
    more bytes and pauses it again. So however fast this machine replays, the page has
    a restore to watch, bars that move when told to, and a running restore to cancel."""

    def __init__(self):
        self.asked = 0
        self.lock = threading.Lock()
        self.taken: dict[int, int] = {}  # id of a node's watch -> steps it has taken

    def step(self) -> None:
        with self.lock:
            self.asked += 1

    def position(self, watch: ReplayWatch) -> str | None:
        try:
            with watch.node.connect(timeout=2) as conn:
                lsn = conn.execute("SELECT pg_last_wal_replay_lsn()").fetchone()[0]
                if lsn is None:
                    return None
                with self.lock:
                    first = id(watch) not in self.taken
                    due = self.asked > self.taken.setdefault(id(watch), self.asked)
                    if due:
                        self.taken[id(watch)] += 1
                if first:
                    conn.execute("SELECT pg_wal_replay_pause()")
                elif due:
                    lsn = self.replay_a_step(conn, lsn)
                return str(lsn)
        except psycopg.Error:
            return None  # not consistent yet, or no longer recovering

    @staticmethod
    def replay_a_step(conn, lsn):
        conn.execute("SELECT pg_wal_replay_resume()")
        deadline = time.monotonic() + 60
        query = "SELECT pg_last_wal_replay_lsn(), pg_last_wal_replay_lsn() - %s >= %s"
        while time.monotonic() < deadline:
            now, far_enough = conn.execute(query, (lsn, STEP)).fetchone()
            if far_enough:
                conn.execute("SELECT pg_wal_replay_pause()")
                return now
            time.sleep(0.002)
        raise AssertionError("replay did not move a step in 60 s")


@pytest.fixture
def stepwise_replay(monkeypatch):
    steps = StepwiseReplay()
    monkeypatch.setattr(ReplayWatch, "replay_lsn", lambda watch: steps.position(watch))
    return steps


def test_watch_a_wal_bound_restore_and_cancel_it(
    page, live_server, sign_in, operator, local_cloud, task_worker, stepwise_replay, screenshot
):
    engine = local_cloud
    backend = get_backend("local")
    operation, _ = restore_operation_start(
        user=operator,
        backend=backend,
        group=backend.get_server_group(SOURCE),
        choice="custom",
        point=datetime.now(UTC),
        target_name="walbound-r",
        idempotency_key=uuid.uuid4(),
    )
    sign_in(operator)
    page.goto(f"{live_server.url}/operations/{operation.pk}/")
    coordinator = page.locator('tr[data-node="coordinator"] progress')
    worker = page.locator('tr[data-node="worker-1"] progress')
    expect(page.locator('tr[data-node="coordinator"] .node-phase')).to_have_text(
        "Replaying WAL", timeout=60_000
    )
    screenshot("01-replaying")

    # A step of replay at a time, each shown by the page as it updates itself: the bars
    # move and the time left falls.
    def shown():
        bar = (int(coordinator.get_attribute("value")), int(worker.get_attribute("value")))
        left = page.locator("#operation-left").inner_text()
        return bar, (seconds(left) if re.search(r"\d+ s", left) else None)

    bars, lefts = [], []
    for _ in range(6):
        deadline = time.monotonic() + 30
        while (bar := shown())[0] in bars:
            assert time.monotonic() < deadline, f"the page did not show a step after {bars}"
            time.sleep(0.1)
        bars.append(bar[0])
        if bar[1] is not None:
            lefts.append(bar[1])
        if len(bars) >= 3 and any(b < a for a, b in zip(lefts, lefts[1:], strict=False)):
            break
        stepwise_replay.step()
    assert len(bars) >= 3, bars
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(bars, bars[1:], strict=False)), bars
    assert any(later < earlier for earlier, later in zip(lefts, lefts[1:], strict=False)), lefts
    # The in-place updates keep every time's local twin.
    status = page.locator("#operation-status")
    assert status.locator("time[data-local-time]").count() == status.locator(".local-time").count()
    expect(status.locator(".local-time").first).to_contain_text("Europe/Berlin (your time)")
    expect(page.locator("#operation-elapsed")).to_have_text(re.compile(r"\d+ s"))
    screenshot("02-moving")

    # The bell shows the same bars.
    page.locator("#bell-button").click()
    flyout = page.locator("#notification-flyout")
    expect(flyout).to_contain_text("Running restores")
    expect(flyout.locator('li[data-node="coordinator"] progress')).to_be_visible()
    screenshot("03-bell")
    page.keyboard.press("Escape")

    page.get_by_role("link", name="Cancel restore").click()
    expect(page.get_by_text("Cancelling stops it and removes every process")).to_be_visible()
    screenshot("04-confirm")
    page.get_by_role("button", name="Cancel the restore").click()
    expect(page.locator("#operation-state")).to_have_text("Cancelled", timeout=60_000)
    expect(page.locator("#operation-message")).to_contain_text("Cancelled by olivia at")
    # The last update (the one that stops the polling) keeps the local times too.
    expect(status.locator("time[data-local-time]")).to_have_count(
        status.locator(".local-time").count()
    )
    assert status.locator(".local-time").count() >= 3
    screenshot("05-cancelled")

    operation.refresh_from_db()
    assert operation.status == RestoreOperation.Status.CANCELLED
    assert "walbound-r" not in engine.catalog.read()["groups"]
    assert not engine.group_dir("walbound-r").exists()
    assert processes_under(engine.group_dir("walbound-r")) == []
