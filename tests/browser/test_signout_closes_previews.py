"""Signing out closes the previews the user holds, in a real Chromium on real localcloud:
each is a PostgreSQL server, and it must not outlive the session that asked for it."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from localcloud.testing import processes_under, temporary_engine
from tests.ports import shifted_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_PORT = shifted_port(33432)


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("tally", workers=0)
        yield engine
    assert processes_under(engine.root) == []


def test_signing_out_closes_the_users_preview(
    page, live_server, sign_in, operator, local_cloud, screenshot
):
    engine = local_cloud
    point = (engine.restore_window("tally")[0] + timedelta(seconds=1)).replace(microsecond=0)
    while datetime.now(UTC) < point + timedelta(seconds=1):
        time.sleep(0.05)  # the point must be in the past to be offered
    sign_in(operator)
    page.get_by_role("link", name="tally", exact=True).click()
    page.get_by_role("link", name="Restore", exact=True).click()
    page.get_by_label("Custom restore point").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Restore point (UTC)").fill(point.strftime("%Y-%m-%d %H:%M:%S"))
    page.get_by_role("button", name="Preview data at this point").click()
    expect(page.locator(".preview-tables")).to_be_visible(timeout=90_000)  # a recovery, under load
    assert len(engine.list_previews()) == 1
    screenshot("preview-open")

    page.locator("#user-button").click()
    page.get_by_role("menuitem", name="Sign out").click()

    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert engine.list_previews() == []
