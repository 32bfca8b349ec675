"""The portal chrome in a real Chromium: sign in, the list, the bell."""

import pytest
from playwright.sync_api import expect

from portal.services import notification_create
from tests.browser.a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_see_the_list_and_open_the_bell(
    page, live_server, sign_in, operator, listed_backends, screenshot
):
    listed_backends(30)
    notification_create(user=operator, title="Welcome to the restore portal")
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot("01-sign-in")

    sign_in(operator)
    expect(page.get_by_role("heading", name="All server groups")).to_be_visible()
    expect(page.get_by_role("link", name="group-0003")).to_be_visible()
    expect(page.locator("#bell-badge")).to_contain_text("1")
    screenshot("02-list")

    page.get_by_label("Filter by name").fill("0017")
    expect(page.get_by_role("link", name="group-0017")).to_be_visible()
    expect(page.get_by_role("link", name="group-0003")).to_have_count(0)
    screenshot("03-filtered")

    page.locator("#bell-button").click()
    expect(page.locator("#notification-flyout")).to_contain_text("Welcome to the restore portal")
    screenshot("04-bell-open")

    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator(".badge:not(.badge-empty)")).to_have_count(0)


def test_toast_appears_when_a_notification_arrives(page, live_server, sign_in, operator, settings):
    settings.PORTAL_POLL_SECONDS = 0.5
    sign_in(operator)
    notification_create(user=operator, title="Restore succeeded: demo-r1 is ready")
    expect(page.locator("#toasts")).to_contain_text("Restore succeeded: demo-r1 is ready")
    assert_accessible(page, "a toast over the list")


def test_wrong_password_is_told_plainly(page, live_server, operator):
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("User name").fill(operator.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    assert_accessible(page, "a refused sign-in")
