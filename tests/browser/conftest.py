"""Every browser test checks what it shows: axe-core finds no violation in any state it
takes a screenshot of, and no page it visited logged a console error."""

import pytest

from tests.browser.a11y import assert_accessible, assert_no_console_errors, watch_console
from tests.local_portal import serve_engine


@pytest.fixture
def screenshot(screenshot, request):
    """The shared screenshot fixture, plus axe-core over the same page in the same state."""

    def take(name: str, target=None):
        path = screenshot(name, target)
        page = target if target is not None else request.getfixturevalue("page")
        assert_accessible(page, f"{name} ({page.url})")
        return path

    return take


@pytest.fixture(autouse=True)
def console_errors(request):
    """The console errors and uncaught errors of the test's ``page``, checked at the end."""
    if "page" not in request.fixturenames:
        yield []
        return
    errors = watch_console(request.getfixturevalue("page"))
    yield errors
    assert_no_console_errors(errors, request.node.name)


@pytest.fixture
def local_cloud(request, settings, engine):
    """The module's ``engine`` as the portal's only cloud; a module that watches pages
    update sets ``POLL_SECONDS`` for how often they poll."""
    return serve_engine(
        settings, engine, poll_seconds=getattr(request.module, "POLL_SECONDS", None)
    )
