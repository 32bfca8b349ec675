"""Finding the right moment in a real Chromium, on real localcloud groups: the DROP TABLE
on the timeline and "Restore to just before this", a preview of rows a DELETE removed,
and a restore point typed in the browser's own time zone."""

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from localcloud.testing import processes_under, temporary_engine
from portal import instants
from tests.browser.a11y import assert_fits
from tests.ports import shifted_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_PORT = shifted_port(30432)
POLL_SECONDS = 0.5  # pages poll fast, so each update shows soon
ZONE = "America/New_York"


def make_ticks(node, conn):
    conn.execute("CREATE TABLE ticks (id bigserial PRIMARY KEY, node text NOT NULL)")


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("ledger", workers=1, setup=make_ticks)
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture
def browser_context_args(browser_context_args):
    """The browser lives in New York, so its local time is not UTC."""
    return {**browser_context_args, "timezone_id": ZONE}


def open_custom_step(page, screenshot, name: str):
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("link", name="Restore", exact=True).click()
    page.get_by_label("Custom restore point").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Restore point (UTC)")).to_be_visible()


def count(engine, group, table, node="coordinator"):
    with engine.connect(group, node) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_restore_to_just_before_a_drop_table(
    page, live_server, sign_in, operator, local_cloud, task_worker, screenshot
):
    engine = local_cloud
    with engine.connect("ledger") as conn:
        conn.execute("CREATE TABLE invoices (id int PRIMARY KEY, total numeric NOT NULL)")
        conn.execute("INSERT INTO invoices SELECT i, i * 1.5 FROM generate_series(1, 500) i")
    engine.seal_group("ledger")
    engine.index_events("ledger")  # the agent's pass: it learns the table's name
    # More rows elsewhere before the drop; the coordinator's come last, just before it
    # (T is the instant before the drop's commit, for every node).
    for node in ("worker-1", "coordinator"):
        with engine.connect("ledger", node) as conn:
            conn.execute("INSERT INTO ticks (node) SELECT %s FROM generate_series(1, 5)", (node,))
    sign_in(operator)
    open_custom_step(page, screenshot, "ledger")
    index_now = page.get_by_role("button", name="Index the latest WAL now")
    expect(index_now).to_be_visible(timeout=30_000)  # the timeline loads on its own

    # The step shows a window read before the DROP. The DROP commits early in a second
    # and the page indexes the latest WAL at once: most runs, within that same second,
    # the newest one of the window (the page then read the window after indexing).
    time.sleep(1.005 - datetime.now(UTC).microsecond / 1_000_000)
    with engine.connect("ledger") as conn:
        conn.execute("DROP TABLE invoices")
        dropped_at = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
    index_now.click()
    row = page.get_by_role("row").filter(has_text="DROP TABLE public.invoices in database citus")
    expect(row).to_be_visible(timeout=30_000)  # a seal and an index pass, under load
    # The commit time as every page writes it: to the microsecond, in UTC.
    expect(row).to_contain_text(instants.utc_text(dropped_at))
    # The browser's local time beside it, in the same shape, its zone named once.
    expect(row).to_contain_text(instants.local_text(dropped_at, ZoneInfo(ZONE)))
    expect(row).to_contain_text("coordinator")
    expect(page.locator("svg.timeline .tl-event")).to_have_count(1)
    screenshot("10-timeline-with-drop")
    assert_fits(page, "the events table")  # "Restore to just before this" stays in its button
    row.get_by_role("link", name="Restore to just before this").click()
    point_field = page.get_by_label("Restore point (UTC)")
    expect(page.locator("#point-conversion")).to_contain_text("Restores to", timeout=15_000)
    point = datetime.fromisoformat(point_field.input_value()).replace(tzinfo=UTC)
    assert point < dropped_at
    local = point.astimezone(ZoneInfo(ZONE))
    expect(page.get_by_label("Restore point (your time")).to_have_value(
        local.strftime("%Y-%m-%d %H:%M:%S")
        + (f".{local.microsecond:06d}" if point.microsecond else "")
    )
    expect(page.locator("svg.timeline .tl-point")).to_have_count(1)
    # Compare with now, before OK: the dropped table at the point, with all its rows.
    page.get_by_role("button", name="Preview data at this point").click()
    tables = page.locator(".preview-tables")
    expect(tables).to_be_visible(timeout=90_000)  # a node unpacked and recovered to T
    invoices = tables.get_by_role("row").filter(has_text="public.invoices")
    expect(invoices).to_contain_text("500")
    expect(invoices).to_contain_text("Dropped since T")
    screenshot("11-compare-with-now-dropped")
    page.get_by_role("button", name="Close preview").click()
    expect(tables).to_be_hidden(timeout=30_000)
    page.get_by_label("Restore to new server").fill("ledger-before-drop")
    screenshot("11-just-before-the-drop")
    page.get_by_role("button", name="OK").click()
    expect(page.get_by_text("The restore operation has been initiated")).to_be_visible()
    page.get_by_role("link", name="Follow the restore").first.click()
    # A real restore of two nodes, on a machine other suites load too.
    expect(page.locator("#operation-state")).to_have_text("Succeeded", timeout=180_000)

    assert count(engine, "ledger-before-drop", "invoices") == 500
    for node in ("coordinator", "worker-1"):
        assert count(engine, "ledger-before-drop", "ticks", node) == 5
    engine.delete_group("ledger-before-drop")


def test_preview_shows_rows_a_delete_removed_and_goes_away_with_the_page(
    page, live_server, sign_in, operator, local_cloud, screenshot
):
    engine = local_cloud
    with engine.connect("ledger") as conn:
        conn.execute("SET ROLE citus")  # the DBA's own table, as they would make it
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL)")
        conn.execute("INSERT INTO orders SELECT i, 'customer ' || i FROM generate_series(1, 200) i")
        before_delete = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]
        conn.execute("DELETE FROM orders WHERE id > 50")
    assert count(engine, "ledger", "orders") == 50
    sign_in(operator)
    open_custom_step(page, screenshot, "ledger")

    # Typed in the browser's own time (New York); the UTC field follows.
    local = before_delete.astimezone(ZoneInfo(ZONE))
    page.get_by_label("Restore point (your time").fill(local.strftime("%Y-%m-%d %H:%M:%S.%f"))
    utc_text = before_delete.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    expect(page.get_by_label("Restore point (UTC)")).to_have_value(utc_text)
    expect(page.locator("#point-conversion")).to_contain_text(f"Restores to {utc_text} UTC")
    page.get_by_role("button", name="Preview data at this point").click()
    tables = page.locator(".preview-tables")
    expect(tables).to_be_visible(timeout=90_000)  # a node unpacked and recovered to T
    orders = tables.get_by_role("row").filter(has_text="public.orders")
    expect(orders).to_contain_text("200")
    # Compare with now: 200 rows at the point, 50 now.
    expect(tables.locator("caption")).to_contain_text("Compare with now")
    expect(orders).to_contain_text("150 fewer rows now")
    page.get_by_label("Read-only query").fill("SELECT id, customer FROM orders WHERE id > 50")
    page.get_by_role("button", name="Run query").click()
    results = page.locator(".query-result")
    expect(results.get_by_role("row")).to_have_count(101)  # a header and the 100-row limit
    expect(page.locator("#preview-results")).to_contain_text("there are more")
    expect(results).to_contain_text("customer 51")
    page.get_by_label("Read-only query").fill("DELETE FROM orders")
    page.get_by_role("button", name="Run query").click()
    expect(page.locator("#preview-results .error")).to_be_visible()
    screenshot("12-preview")
    assert_fits(page, "the preview")  # "Close preview" stays in its button
    assert len(engine.list_previews()) == 1

    page.get_by_role("link", name="Cancel").click()  # leaving the wizard closes it

    deadline = time.monotonic() + 60
    while engine.list_previews():
        assert time.monotonic() < deadline, f"previews still open: {engine.list_previews()}"
        time.sleep(0.1)
    assert count(engine, "ledger", "orders") == 50
