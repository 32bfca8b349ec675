"""The seed's flow in a real Chromium, on real localcloud restores.

Both paths end with the new group Ready in the list, a success notification, and data
in the restored group that matches the restore point on every node.
"""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from localcloud.testing import temporary_engine, ticks_all, ticks_until
from tests.ports import shifted_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_PORT = shifted_port(28432)
POLL_SECONDS = 0.5  # pages poll fast, so each update shows soon


def make_ticks(node, conn):
    conn.execute("CREATE TABLE ticks (id bigserial PRIMARY KEY, node text NOT NULL)")
    conn.execute("INSERT INTO ticks (node) SELECT %s FROM generate_series(1, 3)", (node,))


def commit_row(engine, group) -> datetime:
    """One row on every node, one node after the other; returns the last commit's time."""
    for node in engine.get_group(group).nodes:
        with engine.connect(group, node.name) as conn:
            conn.execute("INSERT INTO ticks (node) VALUES (%s)", (node.name,))
            committed = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()
    return committed[0]


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("shop", workers=2, setup=make_ticks)
        yield engine


def open_restore(page, live_server, screenshot):
    page.get_by_role("link", name="shop", exact=True).click()
    expect(page.get_by_role("heading", name="shop")).to_be_visible()
    screenshot("01-overview")
    page.get_by_role("link", name="Restore", exact=True).click()
    expect(page.get_by_text("Earliest restore point").first).to_be_visible()
    screenshot("02-restore-point")


def finish(page, engine, target, screenshot):
    """OK pressed: the banner, the live operation, the notification, the new group."""
    expect(page.get_by_text("The restore operation has been initiated")).to_be_visible()
    screenshot("04-initiated")
    page.get_by_role("link", name="Follow the restore").first.click()
    # A real restore of three nodes, on a machine other suites load too.
    expect(page.locator("#operation-state")).to_have_text("Succeeded", timeout=180_000)
    screenshot("05-operation-succeeded")
    expect(page.locator("#toasts")).to_contain_text(f"Restore succeeded: {target} is ready")
    page.get_by_role("link", name="All server groups").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=target, exact=True))
    expect(row).to_contain_text("Ready")
    screenshot("06-list-with-new-group")
    page.locator("#bell-button").click()
    expect(page.locator("#notification-flyout")).to_contain_text(f"{target} is ready")
    screenshot("07-notifications")
    assert engine.get_group(target).status == "Ready"


def test_earliest_restore_point_in_the_browser(
    page, live_server, sign_in, operator, local_cloud, task_worker, screenshot
):
    engine = local_cloud
    commit_row(engine, "shop")  # after the first backup: not in the earliest point
    earliest = engine.restore_window("shop")[0]
    sign_in(operator)
    open_restore(page, live_server, screenshot)
    page.get_by_label("Earliest restore point").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Restore to new server").fill("shop-earliest")
    page.get_by_label("Restore to new server").press("Tab")
    expect(page.get_by_text("'shop-earliest' is available.")).to_be_visible()
    expect(page.get_by_label("Subscription")).to_have_attribute("readonly", "")
    screenshot("03-details")
    page.get_by_role("button", name="OK").click()
    finish(page, engine, "shop-earliest", screenshot)

    for node in engine.get_group("shop").nodes:
        expected = ticks_until(engine, "shop", node.name, earliest)
        assert ticks_all(engine, "shop-earliest", node.name) == expected
        assert len(expected) < len(ticks_all(engine, "shop", node.name))


def test_custom_restore_point_in_the_browser(
    page, live_server, sign_in, operator, local_cloud, task_worker, screenshot
):
    engine = local_cloud
    # T is the commit of the last row of this round, to the microsecond (the field
    # takes them): every row of the round is at or before T, the next round after it.
    point = commit_row(engine, "shop").astimezone(UTC)
    commit_row(engine, "shop")  # committed after T: must be absent from the restore
    sign_in(operator)
    open_restore(page, live_server, screenshot)
    page.get_by_label("Custom restore point").check()
    page.get_by_role("button", name="Next").click()
    estimate = page.locator("#estimate-summary")
    expect(estimate).to_contain_text("About ")  # of the latest point, where the step starts
    page.get_by_label("Restore point (UTC)").fill(point.strftime("%Y-%m-%dT%H:%M:%S.%f"))
    # The estimate follows the point typed: per node the backup, bytes, WAL and time.
    expect(page.locator("#estimate-point")).to_contain_text(point.strftime("%Y-%m-%d %H:%M:%S"))
    expect(estimate).to_contain_text("of WAL to replay")
    expect(page.locator("#restore-estimate tbody tr")).to_have_count(3)
    expect(page.locator("#point-conversion")).to_contain_text("Restores to")
    page.get_by_label("Restore to new server").fill("shop-custom")
    screenshot("03-details")
    page.get_by_role("button", name="OK").click()
    finish(page, engine, "shop-custom", screenshot)

    for node in engine.get_group("shop").nodes:
        source_rows = ticks_all(engine, "shop", node.name)
        restored = ticks_all(engine, "shop-custom", node.name)
        assert restored == ticks_until(engine, "shop", node.name, point)
        assert source_rows[-1] not in restored  # the row committed after T
        assert source_rows[-2] in restored  # the row committed before T
