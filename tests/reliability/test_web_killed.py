"""kill -9 of the web server (gunicorn, master and workers) while a DBA follows a restore:
the restore goes on in the worker, and after a restart the operation page and the bell
show everything."""

from __future__ import annotations

import threading

import httpx
import pytest

from portal.backends import get_backend
from portal.models import Notification
from restore_wizard.models import RestoreOperation
from tests.conftest import PASSWORD

from .conftest import SOURCE, archiving_blocked, free_port, wait_for
from .test_worker_killed import finished, in_phase, start

pytestmark = pytest.mark.slow


def signed_in(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    client.get("/signin/")
    client.post(
        "/signin/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
        },
    )
    assert "sessionid" in client.cookies
    return client


def test_web_server_killed_while_a_restore_is_followed_loses_nothing(
    portal, engine, source, unchanged_source, operator
):
    port = free_port()
    web = portal.web(port)
    client = signed_in(f"http://127.0.0.1:{port}", operator.get_username())
    operation = start(operator, "rel-web")
    page = f"/operations/{operation.pk}/"
    portal.worker()
    answers: list[int] = []
    stop = threading.Event()

    def follow() -> None:
        # The operation panel's polling, as htmx does it, through the kill and after.
        while not stop.is_set():
            try:
                answers.append(client.get(page, headers={"HX-Request": "true"}).status_code)
            except httpx.HTTPError:
                answers.append(0)

    with archiving_blocked(engine, SOURCE):
        wait_for(lambda: in_phase(operation, "sealing"), what="the sealing phase")
        follower = threading.Thread(target=follow)
        follower.start()
        wait_for(lambda: 200 in answers, what="a followed page")
        portal.kill(web, group=True)
        wait_for(lambda: answers[-1] == 0, what="the follower to notice")
    finished(operation)
    stop.set()
    follower.join()
    assert operation.status == RestoreOperation.Status.SUCCEEDED, operation.message

    portal.web(port)
    html = client.get(page).text
    # The badge first: viewing the Notifications page reads them and clears it.
    badge = client.get("/notifications/badge/").text
    panel = client.get("/notifications/").text
    badge_after = client.get("/notifications/badge/").text

    assert "rel-web is ready." in html
    assert "The restore operation has been initiated" in panel
    assert "Restore succeeded: rel-web is ready" in panel
    assert ">2<" in badge
    assert "badge-empty" in badge_after
    assert Notification.objects.filter(user=operator).count() == 2
    assert get_backend("local").admin_password(SOURCE) not in portal.log()
    engine.delete_group("rel-web")
