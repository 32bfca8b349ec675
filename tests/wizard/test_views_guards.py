"""restore_wizard.views.guards: every wizard page refuses the same way, in one place
(404 for what does not exist, 403 for who may not, 502 for a cloud that failed)."""

import pytest

from .conftest import DAY_GROUP, DAY_URL

PAGES = [
    ("get", "", {}),
    ("get", "details/", {"choice": "custom"}),
    ("get", "point/", {"point": "2026-11-24 10:00:00"}),
    ("get", "timeline/", {}),
    ("post", "preview/", {"point": "2026-11-24 10:00:00"}),
]


@pytest.mark.parametrize(("method", "path", "data"), PAGES)
def test_an_unknown_group_is_a_404_page_naming_it(operator_client, day_window, method, path, data):
    url = f"/servergroups/local/no-such-group/restore/{path}"

    response = getattr(operator_client, method)(url, data)

    assert response.status_code == 404
    assert "There is no server group named &#x27;no-such-group&#x27;" in response.text


@pytest.mark.parametrize(("method", "path", "data"), PAGES)
def test_a_viewer_is_refused_with_a_403_page_that_says_whom_to_ask(
    viewer_client, day_window, method, path, data
):
    response = getattr(viewer_client, method)(DAY_URL + path, data)

    assert response.status_code == 403
    assert "Only members of the &quot;Restore operators&quot; group may restore" in response.text
    assert "Ask a portal administrator to add you." in response.text


@pytest.mark.parametrize(("method", "path", "data"), PAGES)
def test_a_cloud_that_cannot_answer_is_a_502_page_with_its_reason(
    operator_client, settings, method, path, data
):
    settings.PORTAL_BACKENDS = {
        "local": {"BACKEND": "tests.fakes.doubles.UnreachableWindowBackend", "OPTIONS": {}}
    }

    response = getattr(operator_client, method)(DAY_URL + path, data)

    assert response.status_code == 502
    assert "The restore window could not be read: the cloud timed out." in response.text
    assert DAY_GROUP in response.text  # the page names the group it was about
