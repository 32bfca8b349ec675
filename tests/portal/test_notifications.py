import json

import pytest

from portal.models import Notification
from portal.services import notification_create

pytestmark = pytest.mark.django_db


def test_bell_shows_the_unread_count(operator_client, operator):
    for title in ["one", "two"]:
        notification_create(user=operator, title=title)
    html = operator_client.get("/").content.decode()
    assert 'id="bell-badge"' in html
    assert "Unread notifications: </span>2" in html


def test_panel_lists_only_my_notifications(operator_client, operator, viewer):
    notification_create(user=operator, title="Mine")
    notification_create(user=viewer, title="Someone else's")
    html = operator_client.get("/notifications/", headers={"HX-Request": "true"}).content.decode()
    assert "Mine" in html
    assert "Someone else" not in html
    assert "<header" not in html


def test_badge_poll_turns_new_notifications_into_toasts(operator_client, operator):
    first = notification_create(user=operator, title="Old news")
    notification_create(user=operator, title="Fresh", body="It happened", link="/x/")
    response = operator_client.get(f"/notifications/badge/?after={first.pk}")
    trigger = json.loads(response["HX-Trigger"])
    assert [item["title"] for item in trigger["portal:toast"]["items"]] == ["Fresh"]


def test_badge_poll_without_news_sends_no_toast(operator_client, operator):
    latest = notification_create(user=operator, title="Seen")
    response = operator_client.get(f"/notifications/badge/?after={latest.pk}")
    assert "HX-Trigger" not in response


def test_mark_all_read_clears_the_count(operator_client, operator):
    notification_create(user=operator, title="one")
    response = operator_client.post("/notifications/read/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert not Notification.objects.filter(user=operator, read_at__isnull=True).exists()


def test_the_notifications_page_has_one_heading_and_viewing_it_clears_the_badge(
    operator_client, operator
):
    notification_create(user=operator, title="Restore succeeded: demo-r1 is ready")

    html = operator_client.get("/notifications/").content.decode()

    assert html.count(">Notifications</h") == 1  # the page's h1 only
    assert "Restore succeeded: demo-r1 is ready" in html
    assert 'class="notification notification-info unread"' in html  # new on this view
    assert not Notification.objects.filter(user=operator, read_at__isnull=True).exists()
    assert "Unread notifications" not in operator_client.get("/").content.decode()


def test_the_bell_flyout_keeps_its_heading_and_leaves_notifications_unread(
    operator_client, operator
):
    notification_create(user=operator, title="one")

    html = operator_client.get("/notifications/", headers={"HX-Request": "true"}).content.decode()

    assert "<h2>Notifications</h2>" in html
    assert Notification.objects.filter(user=operator, read_at__isnull=True).count() == 1
