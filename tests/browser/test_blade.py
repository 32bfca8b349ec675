"""A server group's blade in a real Chromium over real localcloud groups: the seed's
steps word for word, every page of a restored group's blade, and the same on a 390 px
phone through the menu button (with scripts, and without them)."""

import pytest
from playwright.sync_api import expect

from localcloud.testing import temporary_engine
from tests.ports import shifted_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE_PORT = shifted_port(33432)
POLL_SECONDS = 0.5  # pages poll fast, so each update shows soon
PHONE = {"width": 390, "height": 844}

# Each entry of a restored group's blade and something only its page shows.
BLADE_PAGES = [
    ("Overview", "Essentials"),
    ("Activity log", "Activity log"),
    ("Nodes", "worker-1"),
    ("Networking", "Copy from source (depot)"),
    ("Server parameters", "Changed from the defaults"),
    ("Connection strings", "jdbc:postgresql://127.0.0.1:"),
    ("Backup and restore", "Base backups"),
    ("Drills", "Run a drill now"),
    ("Post-restore tasks", "Redirect clients and applications"),
]


@pytest.fixture(scope="module")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("depot", workers=1)
        engine.restore("depot", "depot-r1")
        yield engine


@pytest.fixture
def csp_violations(page):
    """Every Content-Security-Policy violation the pages report in the console."""
    seen = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def blade_menu(page):
    return page.get_by_role("navigation", name=page.locator("h1").inner_text(), exact=True)


def test_the_seed_word_for_word(
    page, live_server, sign_in, operator, local_cloud, task_worker, screenshot, csp_violations
):
    engine = local_cloud
    sign_in(operator)
    # 1. Choose the server group that you want to restore.
    page.get_by_role("link", name="depot", exact=True).click()
    expect(page.get_by_role("heading", name="depot", exact=True)).to_be_visible()
    # 2. Click Overview from the left panel and click Restore.
    blade_menu(page).get_by_role("link", name="Overview").click()
    expect(blade_menu(page).get_by_role("link", name="Overview")).to_have_attribute(
        "aria-current", "page"
    )
    screenshot("01-overview")
    page.get_by_role("toolbar", name="Commands").get_by_role("link", name="Restore").click()
    # 3. Earliest and Custom, and the earliest date.
    expect(page.get_by_label("Earliest restore point")).to_be_visible()
    expect(page.get_by_label("Custom restore point")).to_be_visible()
    expect(page.locator("#earliest-restore-point")).to_contain_text(" UTC")
    screenshot("02-restore-page")
    # 4. Select Earliest restore point.
    page.get_by_label("Earliest restore point").check()
    page.get_by_role("button", name="Next").click()
    # 5. A new name in Restore to new server; the other fields shown, not editable.
    page.get_by_label("Restore to new server").fill("depot-seed")
    page.get_by_label("Restore to new server").press("Tab")
    expect(page.get_by_text("'depot-seed' is available.")).to_be_visible()
    for label in ("Subscription", "Resource group", "Location"):
        expect(page.get_by_label(label)).to_have_attribute("readonly", "")
        expect(page.get_by_label(label)).not_to_be_editable()
    screenshot("03-details")
    # 6. Click OK.
    page.get_by_role("button", name="OK").click()
    # 7. A notification that the restore operation has been initiated.
    expect(page.get_by_text("The restore operation has been initiated")).to_be_visible()
    page.locator("#bell-button").click()
    expect(page.locator("#notification-flyout")).to_contain_text(
        "The restore operation has been initiated"
    )
    screenshot("04-initiated")
    page.keyboard.press("Escape")
    # The restore finishes.
    page.get_by_role("link", name="Follow the restore").first.click()
    expect(page.locator("#operation-state")).to_have_text("Succeeded", timeout=120_000)
    screenshot("05-succeeded")
    assert engine.get_group("depot-seed").status == "Ready"
    assert engine.get_group("depot-seed").restored_from == "depot"
    assert csp_violations == []


def open_every_page(page, screenshot, prefix: str, through_menu_button: bool = False):
    for entry, content in BLADE_PAGES:
        if through_menu_button:
            button = page.get_by_role("button", name="Menu")
            expect(button).to_have_attribute("aria-expanded", "false")
            button.click()
            expect(button).to_have_attribute("aria-expanded", "true")
        if entry == "Overview":
            screenshot(f"{prefix}-menu-open")
        link = blade_menu(page).get_by_role("link", name=entry, exact=True)
        expect(link).to_be_visible()
        link.click()
        # Hidden on a phone until the menu opens: read the entry, not its role.
        expect(page.locator("#blade-nav [aria-current=page]")).to_have_text(entry)
        expect(page.locator(".blade-body")).to_contain_text(content)
        expect(page.get_by_role("heading", name="depot-r1", exact=True)).to_be_visible()
        screenshot(f"{prefix}-{entry.lower().replace(' ', '-')}")
        if through_menu_button:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{entry} is {width} px wide"


def test_every_page_of_a_restored_groups_blade(
    page, live_server, sign_in, operator, local_cloud, screenshot, csp_violations
):
    sign_in(operator)
    page.get_by_role("link", name="depot-r1", exact=True).click()
    expect(blade_menu(page).get_by_role("link")).to_have_count(len(BLADE_PAGES))

    open_every_page(page, screenshot, "blade")
    assert csp_violations == []


def test_a_phone_reaches_every_page_through_the_menu_button(
    page, live_server, sign_in, operator, local_cloud, screenshot, csp_violations
):
    page.set_viewport_size(PHONE)
    sign_in(operator)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.get_by_role("navigation", name="Portal", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Restore operations")).to_be_visible()
    screenshot("phone-portal-menu-open")
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="depot-r1", exact=True).click()
    expect(blade_menu(page)).to_be_hidden()

    open_every_page(page, screenshot, "phone", through_menu_button=True)
    for entry in ("Restore operations", "Activity log", "Notifications", "All server groups"):
        page.get_by_role("button", name="Menu").click()
        portal_menu = page.get_by_role("navigation", name="Portal", exact=True)
        portal_menu.get_by_role("link", name=entry, exact=True).click()
        expect(page.get_by_role("heading", name=entry, exact=True).first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{entry} is {width} px wide"
    page.get_by_role("button", name="Menu").click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("button", name="Menu")).to_be_focused()
    assert csp_violations == []


def test_a_phone_without_scripts_reaches_the_blade_through_the_menu_page(
    browser, live_server, operator, local_cloud
):
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(operator.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = operator.get_session_auth_hash()
    session.save()
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    context.add_cookies(
        [{"name": "sessionid", "value": session.session_key, "url": live_server.url}]
    )
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/servergroups/local/depot-r1/")
        for entry, content in BLADE_PAGES:
            page.get_by_role("link", name="Menu").click()
            group_menu = page.get_by_role("navigation", name="depot-r1", exact=True)
            group_menu.get_by_role("link", name=entry, exact=True).click()
            expect(page.locator(".blade-body")).to_contain_text(content)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
