"""Watching a WAL-bound restore in Chromium: a bar per node that moves, the group's time
left that falls, the local times that stay after each in-place update, the same bars in
the bell, and Cancel that stops the restore and leaves nothing of the new group."""

import re
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from localcloud.engine import Engine
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


@pytest.fixture
def held_before_the_end(monkeypatch):
    """The restore replays as it would, but once a node has replayed all its WAL the
    restore waits there (still running) until an operator's cancel has been recorded: so
    Cancel always meets a running restore, however fast this machine replays."""
    cancelled = threading.Event()
    run_restore, cancel_restore = Engine.run_restore, Engine.cancel_restore

    def held_run(self, target, progress=None, watch=None):
        def held_watch(figures):
            if watch is not None:
                watch(figures)
            if any(node["phase"] in ("backing up", "ready") for node in figures.values()):
                assert cancelled.wait(120), "no cancel came while the restore was held"

        return run_restore(self, target, progress, held_watch)

    def noted_cancel(self, target):
        try:
            return cancel_restore(self, target)
        finally:
            cancelled.set()

    monkeypatch.setattr(Engine, "run_restore", held_run)
    monkeypatch.setattr(Engine, "cancel_restore", noted_cancel)
    yield
    cancelled.set()  # never leave the worker's thread waiting past the test


def test_watch_a_wal_bound_restore_and_cancel_it(
    page, live_server, sign_in, operator, local_cloud, task_worker, held_before_the_end, screenshot
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

    # Sampled as the page updates itself: the bars move and the time left falls.
    bars, lefts = [], []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        bars.append((int(coordinator.get_attribute("value")), int(worker.get_attribute("value"))))
        left = page.locator("#operation-left").inner_text()
        if re.search(r"\d+ s", left):
            lefts.append(seconds(left))
        moved = len({bar for bar in bars}) >= 3
        fell = any(later < earlier for earlier, later in zip(lefts, lefts[1:], strict=False))
        if moved and fell:
            break
        time.sleep(0.3)
    assert len(set(bars)) >= 3, bars
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
