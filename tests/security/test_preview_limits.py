"""Previews cannot hold the portal: a query's web thread returns at the deadline whatever
the backend does, each user has a few preview slots within the backend's cap, and
signing out closes the user's previews."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from portal.backends import get_backend
from portal.models import OpenPreview

pytestmark = pytest.mark.django_db

KEY = "previews"


@pytest.fixture(autouse=True)
def previews(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PORTAL_BACKENDS = {
        KEY: {"BACKEND": "tests.fakes.doubles.PreviewBackend", "OPTIONS": {"max_previews": 3}}
    }
    return get_backend(KEY)


@pytest.fixture
def another_operator(django_user_model):
    user = django_user_model.objects.create_user(username="oscar", password="x")
    user.groups.add(Group.objects.get_or_create(name="Restore operators")[0])
    client = Client()
    client.force_login(user)
    return client


def start(client, group: str = "group-0000"):
    point = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    return client.post(
        f"/servergroups/{KEY}/{group}/restore/preview/",
        {"point": point, "preview_node": "coordinator"},
    )


def started_id(response) -> str:
    assert response.status_code == 200
    assert 'class="preview-head"' in response.text, response.text
    return response.text.split("/restore/preview/", 1)[1].split("/", 1)[0]


def query(client, preview_id: str, sql: str, group: str = "group-0000"):
    return client.post(
        f"/servergroups/{KEY}/{group}/restore/preview/{preview_id}/query/", {"sql": sql}
    )


def wait_until(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_query_answers_through_the_deadline_guard(operator_client):
    preview_id = started_id(start(operator_client))

    response = query(operator_client, preview_id, "SELECT 42")

    assert "42" in response.text


# The request runs in a thread of its own (so that this test cannot hang with it),
# which sees only committed rows.
@pytest.mark.django_db(transaction=True)
def test_the_web_thread_returns_at_the_deadline_while_the_backend_hangs(
    operator_client, previews, settings
):
    settings.PORTAL_PREVIEW_TIMEOUT_SECONDS = 0.2
    preview_id = started_id(start(operator_client))
    answers = []
    web_thread = threading.Thread(
        target=lambda: answers.append(query(operator_client, preview_id, "hang forever"))
    )

    web_thread.start()
    web_thread.join(timeout=30)  # the backend would hang for 120 s

    assert not web_thread.is_alive()
    assert "The query did not finish within 0.2 s, so the preview was closed" in answers[0].text
    # The preview was closed to stop the query (from another thread), and is forgotten.
    assert wait_until(lambda: preview_id in previews.closed)
    assert not OpenPreview.objects.filter(preview_id=preview_id).exists()


def test_each_user_has_two_preview_slots(operator_client, another_operator, previews):
    first = started_id(start(operator_client, "group-0000"))
    started_id(start(operator_client, "group-0001"))

    third = start(operator_client, "group-0002")

    assert "You have 2 previews open, the most one user may have at once" in third.text
    assert len(previews.previews) == 2
    # Another user still has slots; closing one of the first user's frees one.
    started_id(start(another_operator, "group-0002"))
    operator_client.post(f"/servergroups/{KEY}/group-0000/restore/preview/{first}/close/")
    started_id(start(operator_client, "group-0002"))


def test_a_preview_that_expired_frees_its_slot(operator_client, previews):
    first = started_id(start(operator_client, "group-0000"))
    started_id(start(operator_client, "group-0001"))
    previews.preview_close(first)  # the backend's time-to-live sweep took it

    started_id(start(operator_client, "group-0002"))

    assert OpenPreview.objects.count() == 2


def test_the_backends_cap_over_all_users_still_holds(
    operator_client, another_operator, django_user_model, previews
):
    started_id(start(operator_client, "group-0000"))
    started_id(start(operator_client, "group-0001"))
    started_id(start(another_operator, "group-0000"))
    third_user = django_user_model.objects.create_superuser("ada", password="x")
    client = Client()
    client.force_login(third_user)

    refused = start(client, "group-0002")

    assert "The preview could not start: 3 previews are open" in refused.text
    assert OpenPreview.objects.filter(user=third_user).count() == 0


def test_signing_out_closes_the_users_previews_only(operator_client, another_operator, previews):
    mine = {started_id(start(operator_client, g)) for g in ("group-0000", "group-0001")}
    theirs = started_id(start(another_operator, "group-0000"))

    response = operator_client.post("/signout/")

    assert response.status_code == 302
    assert set(previews.closed) == mine
    assert list(previews.previews) == [theirs]
    assert list(OpenPreview.objects.values_list("preview_id", flat=True)) == [theirs]
    assert "_auth_user_id" not in operator_client.session


def test_a_preview_is_reachable_only_by_its_owner(operator_client, another_operator):
    preview_id = started_id(start(operator_client))

    response = query(another_operator, preview_id, "SELECT 42")

    assert "started in another browser session" in response.text
    assert "42" not in response.text


def test_a_slot_reserved_by_a_start_that_died_is_given_back(operator, operator_client):
    started_id(start(operator_client, "group-0000"))
    stale = OpenPreview.objects.create(
        backend=KEY, preview_id="reserved-died", group_name="group-0001", user=operator
    )
    OpenPreview.objects.filter(pk=stale.pk).update(
        created_at=datetime.now(UTC) - timedelta(minutes=11)
    )

    started_id(start(operator_client, "group-0002"))

    assert not OpenPreview.objects.filter(pk=stale.pk).exists()
