"""Fixtures shared by every suite: users, a real Chromium, screenshots as artifacts."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from tests import chromium

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-results"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """The test database made private as the portal's own is (SQLite creates it with the
    umask's mode): the portal processes some suites start refuse a readable database."""
    from django.db import connection

    from portal.files import FILE_MODE, SQLITE_SUFFIXES

    if connection.vendor == "sqlite":
        for suffix in SQLITE_SUFFIXES:
            path = Path(f"{connection.settings_dict['NAME']}{suffix}")
            if path.exists():
                path.chmod(FILE_MODE)


@pytest.fixture(autouse=True)
def no_backends_unless_asked(settings):
    """Tests see no cloud unless they configure one: never the developer's var/localcloud."""
    settings.PORTAL_BACKENDS = {}


@pytest.fixture
def listed_backends(settings):
    def configure(count: int, key: str = "listed"):
        settings.PORTAL_BACKENDS = {
            key: {"BACKEND": "tests.fakes.doubles.ListBackend", "OPTIONS": {"count": count}}
        }

    return configure


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user(username="olivia", password=PASSWORD)
    group, _ = Group.objects.get_or_create(name="Restore operators")
    user.groups.add(group)
    return user


@pytest.fixture
def viewer(django_user_model):
    return django_user_model.objects.create_user(username="victor", password=PASSWORD)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def task_worker(settings):
    """A real django-tasks-db worker, in a thread of this process, for live-server tests.

    A thread (not a subprocess) so that it shares the test database and the backend
    instances of the live server; it runs the same Worker class as ``db_worker``.
    """
    import threading

    from django.db import connection
    from django_tasks_db.management.commands.db_worker import Worker

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    worker = Worker(
        queue_names=["default"],
        interval=0.1,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )

    def work():
        try:
            worker.run()
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield worker
    worker.running = False
    thread.join(timeout=60)


# Browser: Debian's Chromium driven by Playwright (it cannot download its own here).
# How long an ``expect`` waits for its condition: Playwright's 5 s is short for a page
# that polls every half second on a loaded 2-core machine. A condition met returns at once.
EXPECT_TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def playwright():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    # Playwright's sync API runs an event loop; Django's ORM refuses to run beside one
    # unless told it is safe, which it is for this test process only.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as driver:
        yield driver
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": chromium.EXECUTABLE,
        "headless": True,
        "args": chromium.ARGS,
    }


@pytest.fixture
def screenshot(request, page):
    """Saves a full-page screenshot as a test artifact: ``screenshot("01-list")``."""
    folder = ARTIFACTS / "screenshots" / request.node.name
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str, target=None):
        path = folder / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def sign_in(page, live_server):
    def go(user):
        page.goto(f"{live_server.url}/signin/")
        page.get_by_label("User name").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    return go
