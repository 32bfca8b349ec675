"""Every page and state of the portal, at desktop width and on a 390 px phone: axe-core
finds no violation, the console shows no error, nothing is wider than the screen, no
button's text spills, the bell's flyout stays inside the screen, and a refused OK puts
its error summary in view with the focus on it."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.a11y import assert_accessible, assert_fits
from tests.fakes.azure_arm import SUB_A
from tests.wizard.conftest import build_arm, use_azure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """The browser lives in Berlin: local times appear beside UTC ones."""
    return {**browser_context_args, "timezone_id": "Europe/Berlin"}


@pytest.fixture
def azure(settings):
    arm = build_arm()
    use_azure(settings, arm)
    settings.PORTAL_POLL_SECONDS = 0.5
    return arm


def check(page, what: str) -> None:
    assert_accessible(page, what)
    assert_fits(page, what)


def open_custom_step(page, live_server):
    page.goto(f"{live_server.url}/servergroups/azure/orders/restore/details/?choice=custom")
    expect(page.locator("#timeline-section")).not_to_have_attribute("aria-busy", "true")


def test_every_page_and_state_passes_axe_at_desktop_width(
    page, live_server, sign_in, operator, azure
):
    page.goto(f"{live_server.url}/signin/")
    check(page, "sign-in")
    sign_in(operator)
    check(page, "the server group list")
    page.get_by_label("Filter by name").fill("zzz")
    expect(page.get_by_text("No server group matches 'zzz' (1 in all).")).to_be_visible()
    check(page, "the list filtered to nothing")

    page.goto(f"{live_server.url}/servergroups/azure/orders/")
    check(page, "the Overview")
    page.get_by_role("link", name="Restore", exact=True).click()
    expect(page.get_by_label("Earliest restore point")).to_be_checked()
    check(page, "restore step 1")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".local-time").first).to_contain_text("Europe/Berlin (your time)")
    assert "))" not in page.locator("#wizard").inner_text()  # no "(... your time))"
    check(page, "restore step 2, earliest")
    page.get_by_role("link", name="Change").click()
    page.get_by_label("Custom restore point").check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#timeline-section")).not_to_have_attribute("aria-busy", "true")
    check(page, "restore step 2, custom")

    # The point starts at the latest restorable point: emptied, it is one more error.
    page.get_by_label("Restore point (UTC)").fill("")
    page.get_by_role("button", name="OK").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(summary).to_contain_text("2 things need fixing")
    check(page, "a refused OK")

    source = azure.cluster(SUB_A, "rg-prod", "orders")
    point = (source.earliest_restore + timedelta(days=1)).replace(microsecond=250000)
    page.get_by_label("Restore point (UTC)").fill(point.strftime("%Y-%m-%d %H:%M:%S.%f"))
    expect(page.locator("#point-conversion")).to_contain_text("Europe/Berlin (your time)")
    page.get_by_label("Restore to new server").fill("orders-a11y")
    expect(page.locator("#name-check")).to_contain_text("'orders-a11y' is available.")
    check(page, "restore step 2, filled")
    page.get_by_role("button", name="OK").click()
    # The restore runs at once here (immediate tasks): the banner gives way to its outcome.
    banner = page.locator("#banner-area")
    expect(banner).to_contain_text("orders-a11y is ready.")
    expect(banner).not_to_contain_text("has been initiated")
    check(page, "the source's Overview after the restore")

    page.locator("#bell-button").click()
    expect(page.locator("#notification-flyout")).to_contain_text("Post-restore tasks")
    check(page, "the bell's flyout")
    page.keyboard.press("Escape")

    page.get_by_role("navigation", name="Portal").get_by_role(
        "link", name="Restore operations"
    ).click()
    shown = point.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"
    expect(page.locator("table.grid")).to_contain_text(shown)
    check(page, "the operations list")
    page.get_by_role("link", name="#", exact=False).first.click()
    expect(page.locator("#operation-state")).to_have_text("Succeeded")
    expect(page.locator("#operation-status")).to_contain_text(shown)
    check(page, "the operation page")

    page.goto(f"{live_server.url}/servergroups/azure/orders-a11y/post-restore/")
    check(page, "the post-restore tasks")
    page.locator("#task-endpoint").get_by_role("button", name="Mark as done").click()
    expect(page.locator("#task-endpoint")).to_contain_text("Marked done by olivia")
    check(page, "the post-restore tasks with a mark")

    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Activity log").click()
    expect(page.locator("table.grid")).to_contain_text(shown)
    check(page, "the Activity log")
    page.goto(f"{live_server.url}/notifications/")
    expect(page.get_by_role("heading", name="Notifications")).to_have_count(1)
    expect(page.locator(".badge:not(.badge-empty)")).to_have_count(0)
    check(page, "the Notifications page")


@pytest.fixture
def phone_page(page):
    page.set_viewport_size({"width": 390, "height": 844})
    return page


def test_on_a_390_px_phone_every_page_fits_and_the_bell_stays_on_screen(
    phone_page, live_server, sign_in, operator, azure, restore_into_orders_r1
):
    page = phone_page
    sign_in(operator)
    check(page, "the list on a phone")
    for path, what in [
        ("/servergroups/azure/orders/", "the Overview"),
        ("/servergroups/azure/orders/restore/", "restore step 1"),
        ("/operations/", "the operations list"),
        ("/activity/", "the Activity log"),
        ("/servergroups/azure/orders-r1/post-restore/", "the post-restore tasks"),
        ("/notifications/", "the Notifications page"),
    ]:
        page.goto(live_server.url + path)
        check(page, f"{what} on a phone")
    open_custom_step(page, live_server)
    check(page, "restore step 2 on a phone")

    page.locator("#bell-button").click()
    flyout = page.locator("#notification-flyout")
    expect(flyout).to_be_visible()
    box = flyout.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    check(page, "the bell's flyout on a phone")


@pytest.fixture
def restore_into_orders_r1(azure, operator):
    """A restored group to show the post-restore tasks of, made through the service."""
    from portal.backends import get_backend
    from restore_wizard.models import RestoreOperation
    from restore_wizard.services.runner import restore_operation_run

    source = azure.cluster(SUB_A, "rg-prod", "orders")
    group = get_backend("azure").find_server_group("orders")
    operation = RestoreOperation.objects.create(
        backend="azure",
        source_id=group.id,
        source_name="orders",
        target_name="orders-r1",
        choice=RestoreOperation.Choice.EARLIEST,
        subscription=SUB_A,
        resource_group="rg-prod",
        location=source.location,
        created_by=operator,
    )
    restore_operation_run(operation_id=operation.pk)
    operation.refresh_from_db()
    assert operation.status == RestoreOperation.Status.SUCCEEDED, operation.message
    return operation
