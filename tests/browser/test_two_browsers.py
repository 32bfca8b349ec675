"""Two DBAs, two browsers, one new name, OK pressed at once: one restore, one clear refusal."""

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from restore_wizard.models import RestoreOperation
from tests.browser.a11y import assert_no_console_errors, watch_console
from tests.conftest import PASSWORD
from tests.wizard.conftest import build_arm, use_azure

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def at_step_two(browser, live_server, user, errors):
    context = browser.new_context()
    page = context.new_page()
    watch_console(page, errors)
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/servergroups/azure/orders/restore/details/?choice=earliest")
    page.get_by_label("Restore to new server").fill("orders-copy")
    expect(page.locator("#name-check")).to_contain_text("'orders-copy' is available.")
    return context, page


def test_same_new_name_from_two_browsers_starts_one_restore(
    browser, live_server, operator, django_user_model, settings, screenshot
):
    use_azure(settings, build_arm(), tasks="django_tasks_db.DatabaseBackend")
    other = django_user_model.objects.create_user(username="oscar", password=PASSWORD)
    other.groups.add(Group.objects.get(name="Restore operators"))
    errors: list[str] = []
    first_context, first = at_step_two(browser, live_server, operator, errors)
    second_context, second = at_step_two(browser, live_server, other, errors)

    # Both forms were valid when shown; press OK in both without waiting in between.
    first.get_by_role("button", name="OK").dispatch_event("click")
    second.get_by_role("button", name="OK").dispatch_event("click")

    expected_refusal = "Choose another name."
    for page in (first, second):
        expect(
            page.get_by_text("The restore operation has been initiated")
            .or_(page.get_by_text(expected_refusal))
            .first  # a refusal is in the error summary and beside the field
        ).to_be_visible()
    screenshot("first", first)
    screenshot("second", second)
    operations = list(RestoreOperation.objects.filter(target_name="orders-copy"))
    assert len(operations) == 1
    refused = second if operations[0].created_by == operator else first
    expect(refused.locator("#error-summary")).to_contain_text(expected_refusal)
    expect(refused.locator("#name-check")).to_contain_text(expected_refusal)
    expect(refused.get_by_text("orders-copy")).not_to_have_count(0)
    assert_no_console_errors(errors, "either browser")
    first_context.close()
    second_context.close()
