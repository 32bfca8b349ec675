"""Post-restore tasks tell the truth: Done only when nothing is left to do, the words
follow the state, plurals are right, and every task can reach Done."""

import pytest

from portal.models import ActivityEvent, Notification
from restore_wizard.models import PostRestoreMark, RestoreOperation
from restore_wizard.selectors import count_noun

from .conftest import SUB_A

pytestmark = pytest.mark.django_db

TASKS_URL = "/servergroups/azure/orders-r1/post-restore/"


@pytest.fixture
def restored(azure, restore_into):
    restore_into("orders-r1")
    return azure.cluster(SUB_A, "rg-prod", "orders-r1")


@pytest.fixture
def source(azure):
    return azure.cluster(SUB_A, "rg-prod", "orders")


def task_html(client, key: str) -> str:
    html = client.get(TASKS_URL).content.decode()
    return html.split(f'id="task-{key}"')[1].split("</li>\n")[0]


def state(client, key: str) -> str:
    section = task_html(client, key)
    return "Done" if '<p class="check-state check-ok">Done</p>' in section else "To do"


def test_firewall_with_no_rules_on_either_side_is_not_done_until_marked(
    operator_client, source, restored
):
    source.firewall_rules = {}

    section = task_html(operator_client, "firewall")
    assert state(operator_client, "firewall") == "To do"
    assert "there is nothing to copy" in section
    assert "Copy from source" not in section and "Mark as done" in section

    operator_client.post(TASKS_URL + "mark-firewall/", {"done": "1"})

    assert state(operator_client, "firewall") == "Done"
    assert "Marked done by olivia at" in task_html(operator_client, "firewall")


def test_after_copy_the_firewall_wording_follows_the_state(operator_client, restored):
    before = task_html(operator_client, "firewall")
    assert "2 rules of orders are not on orders-r1 yet" in before

    operator_client.post(TASKS_URL + "copy-firewall/")

    after = task_html(operator_client, "firewall")
    assert state(operator_client, "firewall") == "Done"
    assert "orders-r1 has every firewall rule of orders (2 rules)." in after
    assert "not copied" not in after and "not on orders-r1" not in after
    assert "Mark as done" not in after  # checked by the portal, not by hand


def test_one_rule_copied_is_said_in_the_singular(operator_client, source, restored):
    source.firewall_rules = {"office": ("203.0.113.0", "203.0.113.255")}
    assert "1 rule of orders is not on orders-r1 yet" in task_html(operator_client, "firewall")

    response = operator_client.post(TASKS_URL + "copy-firewall/", follow=True)

    assert "Copied 1 firewall rule from orders." in response.content.decode()
    assert "orders-r1 has every firewall rule of orders (1 rule)." in task_html(
        operator_client, "firewall"
    )


def test_count_noun_plurals():
    assert count_noun(0, "rule") == "0 rules"
    assert count_noun(1, "rule") == "1 rule"
    assert count_noun(2, "server parameter") == "2 server parameters"


def test_redirect_task_is_done_only_when_the_dba_marks_it_and_can_be_undone(
    operator_client, restored
):
    assert state(operator_client, "endpoint") == "To do"

    operator_client.post(TASKS_URL + "mark-endpoint/", {"done": "1"})
    assert state(operator_client, "endpoint") == "Done"
    assert "Mark as not done" in task_html(operator_client, "endpoint")

    operator_client.post(TASKS_URL + "mark-endpoint/", {"done": "0"})
    assert state(operator_client, "endpoint") == "To do"
    marks = ActivityEvent.objects.filter(target="orders-r1", action__contains="post-restore task")
    assert [e.action for e in marks.order_by("id")] == [
        "mark post-restore task",
        "unmark post-restore task",
    ]


def test_logins_are_checked_against_the_source_roles(operator_client, source, restored):
    source.roles = ["app_rw", "citus", "reporting"]
    restored.roles = ["app_rw", "citus"]

    section = task_html(operator_client, "logins")
    assert state(operator_client, "logins") == "To do"
    assert "1 role of orders is missing here" in section and "<li>reporting</li>" in section

    restored.roles = ["app_rw", "citus", "reporting"]
    assert state(operator_client, "logins") == "Done"
    assert "Every role of orders exists on orders-r1 (checked)" in task_html(
        operator_client, "logins"
    )


def test_every_task_can_reach_done(operator_client, restored):
    operator_client.post(TASKS_URL + "copy-firewall/")
    operator_client.post(TASKS_URL + "copy-parameters/")
    for task in ("endpoint", "logins", "alerts"):
        operator_client.post(TASKS_URL + f"mark-{task}/", {"done": "1"})

    for task in ("endpoint", "firewall", "parameters", "logins", "alerts"):
        assert state(operator_client, task) == "Done", task


def test_a_task_the_portal_checks_cannot_be_marked_by_hand(operator_client, restored):
    response = operator_client.post(TASKS_URL + "mark-parameters/", {"done": "1"})

    assert response.status_code == 400
    assert "checks this task itself" in response.content.decode()
    assert not PostRestoreMark.objects.exists()


def test_a_new_restore_into_the_same_name_starts_with_no_marks(
    operator_client, azure, restored, restore_into
):
    operator_client.post(TASKS_URL + "mark-endpoint/", {"done": "1"})
    assert PostRestoreMark.objects.count() == 1
    del azure.clusters[(SUB_A, "rg-prod", "orders-r1")]
    RestoreOperation.objects.all().delete()  # the first restore is history

    restore_into("orders-r1")

    assert not PostRestoreMark.objects.exists()


def test_success_notification_links_to_the_group_and_its_post_restore_tasks(
    operator, operator_client, restored
):
    note = Notification.objects.get(user=operator, level=Notification.Level.SUCCESS)
    assert note.link == "/servergroups/azure/orders-r1/"
    assert note.more_link == TASKS_URL and note.more_link_text == "Post-restore tasks"

    panel = operator_client.get("/notifications/").content.decode()
    assert f'<a href="{TASKS_URL}">Post-restore tasks</a>' in panel
