"""Events found at once, in a real Chromium on a real localcloud group: the custom step
seals and indexes the newest WAL in the background and shows a DROP TABLE nobody
indexed, named, without a click on "Index"."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from localcloud.testing import processes_under, temporary_engine
from portal import instants
from tests.ports import shifted_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_PORT = shifted_port(36932)


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("receipts", workers=1)
        yield engine
    assert processes_under(engine.root) == []


def test_the_custom_step_shows_a_drop_nobody_indexed_without_a_click(
    page, live_server, sign_in, operator, local_cloud, screenshot
):
    engine = local_cloud
    # Made, filled and dropped with no index pass since the group was created (no
    # agent runs here): only the step's own background pass can find it, and only the
    # WAL can name it.
    with engine.connect("receipts") as conn:
        conn.execute("CREATE TABLE receipts_2026 (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO receipts_2026 SELECT g, 'r' FROM generate_series(1, 300) g")
        conn.execute("DROP TABLE receipts_2026")
        dropped_at = conn.execute("SELECT timestamp FROM pg_last_committed_xact()").fetchone()[0]

    sign_in(operator)
    page.get_by_role("link", name="receipts", exact=True).click()
    page.get_by_role("link", name="Restore", exact=True).click()
    page.get_by_label("Custom restore point").check()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("status").filter(has_text="Indexing the latest WAL…")).to_be_visible(
        timeout=30_000
    )
    row = page.get_by_role("row").filter(has_text="DROP TABLE public.receipts_2026")
    expect(row).to_be_visible(timeout=60_000)  # a seal and an index pass, under load
    expect(row).to_contain_text(instants.utc_text(dropped_at))
    expect(row).to_contain_text("in database citus")
    expect(page.get_by_text("Indexing the latest WAL…")).to_have_count(0)
    expect(page.get_by_text("file node")).to_have_count(0)
    expect(page.locator("svg.timeline .tl-event")).to_have_count(1)
    screenshot("13-drop-found-at-once")
    link = row.get_by_role("link", name="Restore to just before this")
    expect(link).to_have_attribute(
        "title",
        f"Restore point {instants.utcclock_text(dropped_at - timedelta(microseconds=1))} UTC: "
        "the instant before this event's commit, on every node",
    )
