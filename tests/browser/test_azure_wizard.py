"""The whole wizard in Chromium against the Azure backend (the real SDK over FakeArm inside
the live server), with the restore run by a real django-tasks-db worker (``task_worker``,
a thread of this process)."""

import threading
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from restore_wizard.models import RestoreOperation
from tests.browser.a11y import assert_accessible
from tests.fakes.azure_arm import SUB_A, FakeArm
from tests.wizard.conftest import build_arm, use_azure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DATABASE_TASKS = "django_tasks_db.DatabaseBackend"


class HeldArm(FakeArm):
    """Answers "InProgress" for every async operation until ``released`` is set, so the
    test can watch a running restore; polls pace themselves a little instead of spinning."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def sleep(self, duration: float) -> None:
        super().sleep(duration)
        self.released.wait(0.05)

    def _get_operation(self, sub, loc, op, body):
        if not self.released.is_set():
            return 200, {"name": op, "status": "InProgress"}, {}
        return super()._get_operation(sub, loc, op, body)


@pytest.fixture
def held_arm(settings) -> HeldArm:
    model = build_arm()
    arm = HeldArm()
    arm.subscriptions, arm.clusters = model.subscriptions, model.clusters
    use_azure(settings, arm, tasks=DATABASE_TASKS)
    settings.PORTAL_POLL_SECONDS = 0.5
    yield arm
    arm.released.set()


def test_custom_restore_through_the_wizard_to_post_restore_tasks(
    page, live_server, sign_in, operator, held_arm, task_worker, screenshot
):
    source = held_arm.cluster(SUB_A, "rg-prod", "orders")
    point = (source.earliest_restore + timedelta(days=2)).replace(microsecond=0)

    sign_in(operator)
    expect(page.get_by_role("link", name="orders", exact=True)).to_be_visible()
    screenshot("01-list")

    page.get_by_role("link", name="orders", exact=True).click()
    expect(page.get_by_role("heading", name="orders", exact=True)).to_be_visible()
    screenshot("02-overview")

    page.get_by_role("link", name="Restore", exact=True).click()
    expect(page.locator("#earliest-restore-point")).to_contain_text(" UTC")
    expect(page.get_by_label("Earliest restore point")).to_be_checked()
    screenshot("03-step-1")

    page.get_by_label("Custom restore point").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_label("Restore point (UTC)")).to_be_visible()
    for label in ["Subscription", "Resource group", "Location"]:
        expect(page.get_by_label(label, exact=True)).not_to_be_editable()
    expect(page.get_by_label("Resource group", exact=True)).to_have_value("rg-prod")
    screenshot("04-step-2")

    page.get_by_label("Restore point (UTC)").fill(point.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_label("Restore to new server").fill("orders-pitr")
    expect(page.locator("#name-check")).to_contain_text("'orders-pitr' is available.")
    screenshot("05-filled")

    page.get_by_role("button", name="OK").click()
    expect(page.locator("#banner-area")).to_contain_text(
        "The restore operation has been initiated: orders to orders-pitr."
    )
    screenshot("06-initiated")

    page.get_by_role("link", name="Follow the restore").click()
    expect(page.locator("#operation-state")).to_have_text("Running")
    screenshot("07-running")

    held_arm.released.set()
    expect(page.locator("#operation-state")).to_have_text("Succeeded")
    toast = page.locator("#toasts .toast-success")
    expect(toast).to_contain_text("Restore succeeded: orders-pitr is ready")
    # A toast goes after 10 s: read its link now, not after the checks below.
    opened = toast.get_by_role("link", name="Open orders-pitr").get_attribute("href")
    screenshot("08-succeeded")

    operation = RestoreOperation.objects.get()
    assert operation.restored_point == point
    (put,) = held_arm.requests_to("PUT", "serverGroupsv2/orders-pitr$")
    assert put.json["properties"]["pointInTimeUTC"] == point.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    assert opened == "/servergroups/azure/orders-pitr/"
    page.goto(live_server.url + opened)
    expect(page.get_by_role("heading", name="orders-pitr", exact=True)).to_be_visible()
    expect(page.locator(".essentials")).to_contain_text("Ready")
    # Azure answers the restored cluster with sourceResourceId null and no point: the
    # lineage comes from the portal's own record of the restore.
    expect(page.locator(".essentials")).to_contain_text(f"orders at {point:%Y-%m-%d %H:%M:%S} UTC")
    expect(page.locator("#restore-why")).to_contain_text(
        "Azure has not reported an earliest restore point for this cluster yet"
    )
    screenshot("09-new-overview")

    page.get_by_role("link", name="Post-restore tasks").click()
    firewall = page.locator("#task-firewall")
    expect(firewall).to_contain_text("office: 203.0.113.0 – 203.0.113.255")
    screenshot("10-post-restore")

    firewall.get_by_role("button", name="Copy from source").click()
    expect(page.locator("#banner-area")).to_contain_text("Copied 2 firewall rules from orders.")
    expect(firewall.get_by_role("button", name="Copy from source")).to_have_count(0)
    screenshot("11-rules-copied")
    assert held_arm.cluster(SUB_A, "rg-prod", "orders-pitr").firewall_rules == source.firewall_rules

    # The worker update answers 202 (ConfigurationUpdateNode.json), followed to its end.
    page.locator("#task-parameters").get_by_role("button", name="Copy from source").click()
    expect(page.locator("#banner-area")).to_contain_text("Copied 3 server parameters from orders.")
    screenshot("12-parameters-copied")
    assert held_arm.cluster(SUB_A, "rg-prod", "orders-pitr").parameters == source.parameters
    assert 202 in {r.status for r in held_arm.requests_to("PUT", "/nodeConfigurations/")}


def focus_by_tab(page, matches, limit: int = 40) -> None:
    """Press Tab until the focused element satisfies ``matches`` (a JS predicate on it)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => {matches})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {matches}")


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map(el => el.outerHTML)"""


def test_the_wizard_works_with_the_keyboard_alone_and_every_input_is_labelled(
    page, live_server, sign_in, operator, settings, screenshot
):
    use_azure(settings, build_arm(), tasks=DATABASE_TASKS)
    sign_in(operator)
    page.goto(f"{live_server.url}/servergroups/azure/orders/")

    focus_by_tab(page, "el.textContent.trim() === 'Restore'")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Earliest restore point")).to_be_visible()
    assert page.evaluate(UNLABELLED) == []
    screenshot("01-step-1")

    focus_by_tab(page, "el.name === 'choice'")
    page.keyboard.press("ArrowDown")  # radios: arrows move the choice
    expect(page.get_by_label("Custom restore point")).to_be_checked()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Space")
    expect(page.get_by_label("Earliest restore point")).to_be_checked()
    focus_by_tab(page, "el.textContent.trim() === 'Next'")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Restore to new server")).to_be_visible()
    assert page.evaluate(UNLABELLED) == []
    screenshot("02-step-2")

    focus_by_tab(page, "el.id === 'id_target_name'")
    page.keyboard.type("orders-keys")
    expect(page.locator("#name-check")).to_contain_text("is available")
    focus_by_tab(page, "el.textContent.trim() === 'OK'")
    page.keyboard.press("Enter")
    expect(page.locator("#banner-area")).to_contain_text("The restore operation has been initiated")
    screenshot("03-initiated")
    assert RestoreOperation.objects.get().target_name == "orders-keys"


def test_custom_step_has_a_label_on_every_input(page, live_server, sign_in, operator, settings):
    use_azure(settings, build_arm(), tasks=DATABASE_TASKS)
    sign_in(operator)

    page.goto(f"{live_server.url}/servergroups/azure/orders/restore/details/?choice=custom")

    expect(page.get_by_label("Restore point (UTC)")).to_be_visible()
    assert page.evaluate(UNLABELLED) == []
    assert_accessible(page, "the custom step opened directly")
