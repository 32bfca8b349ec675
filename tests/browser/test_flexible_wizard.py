"""The wizard in Chromium over a fake flexible server (the real SDK over FlexibleArm in the
live server), restores run by a real django-tasks-db worker: Fast restore point and
Restore to paired region are chosen by clicking, and Azure's request bodies checked."""

import pytest
from playwright.sync_api import expect

from restore_wizard.models import RestoreOperation
from tests.fakes.azure_flexible_arm import SUB_A
from tests.wizard.flexible import SALES_ID, build_flexible_arm, use_flexible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DATABASE_TASKS = "django_tasks_db.DatabaseBackend"


@pytest.fixture
def flexible(settings):
    arm = build_flexible_arm()
    use_flexible(settings, arm, tasks=DATABASE_TASKS)
    settings.PORTAL_POLL_SECONDS = 0.5
    return arm


def open_restore(page):
    page.get_by_role("link", name="sales", exact=True).click()
    expect(page.get_by_role("heading", name="sales", exact=True)).to_be_visible()
    page.get_by_role("link", name="Restore", exact=True).click()
    expect(page.get_by_label("Latest restore point (now)")).to_be_checked()


def follow_to_success(page, name: str):
    expect(page.locator("#banner-area")).to_contain_text(
        f"The restore operation has been initiated: sales to {name}."
    )
    page.get_by_role("link", name="Follow the restore").click()
    expect(page.locator("#operation-state")).to_have_text("Succeeded")


def test_fast_restore_point_and_paired_region_by_clicking(
    page, live_server, sign_in, operator, flexible, task_worker, screenshot
):
    page.set_default_timeout(15_000)
    backups = sorted(flexible.server(SUB_A, "rg-prod", "sales").backups, key=lambda b: b[3])
    chosen = backups[-2][3]

    sign_in(operator)
    expect(page.get_by_role("link", name="sales", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name="events")).to_contain_text("Elastic cluster · 4 nodes")
    open_restore(page)
    screenshot("01-choices")

    page.locator("label.choice", has_text="Fast restore point").click()
    expect(page.get_by_label("Fast restore point")).to_be_checked()
    page.get_by_role("button", name="Next").click()
    backup = page.get_by_label("Fast restore point", exact=True)
    expect(backup).to_be_visible()
    backup.select_option(chosen.isoformat())
    page.get_by_label("Restore to new server").fill("sales-fast")
    expect(page.locator("#name-check")).to_contain_text("'sales-fast' is available.")
    expect(page.get_by_label("Location", exact=True)).to_have_value("westeurope")
    screenshot("02-fast")
    page.get_by_role("button", name="OK").click()
    follow_to_success(page, "sales-fast")

    (put,) = flexible.requests_to("PUT", "flexibleServers/sales-fast$")
    assert put.json == {
        "location": "westeurope",
        "properties": {
            "createMode": "PointInTimeRestore",
            "sourceServerResourceId": SALES_ID,
            "pointInTimeUTC": chosen.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
    }

    page.goto(f"{live_server.url}/")
    open_restore(page)
    page.locator("label.choice", has_text="Restore to paired region").click()
    expect(page.get_by_label("Restore to paired region")).to_be_checked()
    page.get_by_role("button", name="Next").click()
    location = page.get_by_label("Location", exact=True)
    expect(location).to_have_value("northeurope")
    expect(location).not_to_be_editable()
    page.get_by_label("Restore to new server").fill("sales-dr")
    expect(page.locator("#name-check")).to_contain_text("'sales-dr' is available.")
    screenshot("03-paired-region")
    page.get_by_role("button", name="OK").click()
    follow_to_success(page, "sales-dr")

    (put,) = flexible.requests_to("PUT", "flexibleServers/sales-dr$")
    point = put.json["properties"].pop("pointInTimeUTC")
    assert put.json == {
        "location": "northeurope",
        "properties": {"createMode": "GeoRestore", "sourceServerResourceId": SALES_ID},
    }
    operation = RestoreOperation.objects.get(target_name="sales-dr")
    assert operation.location == "northeurope" and operation.choice == "geo"
    assert operation.restored_point.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == point
    (check,) = [r for r in flexible.requests_to("POST", "checkNameAvailability")
                if r.json["name"] == "sales-dr"][-1:]  # fmt: skip
    assert "/locations/northeurope/" in check.path
