"""Restore drills in a real Chromium on a real localcloud group: an operator sets a
daily schedule, runs a drill now, sees it pass with its time to Ready on the chart,
and downloads the evidence as CSV."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from drills import services
from localcloud.testing import temporary_engine
from tests.ports import shifted_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_PORT = shifted_port(35832)
POLL_SECONDS = 0.5  # pages poll fast, so each update shows soon


def make_orders(node, conn):
    conn.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, total int)")
    conn.execute("INSERT INTO orders (total) SELECT g FROM generate_series(1, 100) g")


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("shop", workers=2, setup=make_orders)
        yield engine


@pytest.fixture
def drill_scheduler():
    """The scheduler's loop in a thread of this process (it shares the live server's
    database): runs every queued drill, as ``manage.py drill_scheduler`` does."""
    stop = threading.Event()

    def loop():
        try:
            while not stop.wait(0.1):
                drill_id = services.drill_next_runnable()
                if drill_id is not None:
                    services.drill_run(drill_id=drill_id)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=120)


def test_an_operator_schedules_runs_and_exports_a_drill(
    local_cloud, drill_scheduler, operator, sign_in, live_server, screenshot, tmp_path
):
    page = sign_in(operator)
    page.get_by_role("link", name="shop", exact=True).click()
    page.get_by_role("link", name="Drills", exact=True).click()
    expect(page.get_by_role("heading", name="Drills", exact=True)).to_be_visible()
    expect(page.get_by_text("shop has never been drilled.")).to_be_visible()
    screenshot("01-drills-page")

    page.get_by_label("Repeat").select_option("daily")
    page.get_by_label("Time (UTC)").fill("02:30")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.locator("#next-drill")).to_contain_text("02:30:00 UTC")
    expect(page.locator("#next-drill")).to_contain_text("daily")
    screenshot("02-scheduled")

    page.get_by_role("button", name="Run a drill now").click()
    expect(page.get_by_text("is queued; it restores into shop-drill-")).to_be_visible()
    row = page.locator("#drill-list tbody tr").first
    expect(row).to_contain_text("Passed", timeout=180_000)
    expect(row).to_contain_text(" s")
    screenshot("03-passed")

    page.reload()
    bar = page.locator("svg.drill-chart-svg rect.drill-bar-passed")
    expect(bar).to_have_count(1)
    assert "s to Ready, passed" in bar.locator("title").text_content()
    screenshot("04-chart")

    # The drill's restore ran as a restore operation: its page is one click away.
    page.locator("#drill-list tbody tr").first.get_by_role("link").first.click()
    expect(page.locator("#drill-restore")).to_contain_text("Succeeded")
    expect(page.get_by_role("button", name="Cancel drill")).to_have_count(0)
    page.locator("#drill-restore").get_by_role("link").click()
    expect(page.locator("#operation-started-by")).to_contain_text("restore drill")
    page.go_back()
    page.go_back()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "drills.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == 1
    assert (rows[0]["group"], rows[0]["status"], rows[0]["started_by"]) == (
        "shop",
        "passed",
        "olivia",
    )
    assert float(rows[0]["time_to_ready_s"]) > 0
    assert "amcheck bt_index_check: passed" in rows[0]["checks"]
