"""restore_wizard.views.post_restore: marking and copying are for operators, on groups
that exist; each refusal is a page that says why."""

from .conftest import DAY_GROUP


def test_a_viewer_may_not_mark_a_task(viewer_client, day_window):
    response = viewer_client.post(f"/servergroups/local/{DAY_GROUP}/post-restore/mark-alerts/")

    assert response.status_code == 403
    assert "may mark tasks" in response.text


def test_marking_on_an_unknown_group_is_a_404(operator_client, day_window):
    response = operator_client.post("/servergroups/local/no-such-group/post-restore/mark-alerts/")

    assert response.status_code == 404


def test_copying_what_cannot_be_copied_is_refused(operator_client, day_window):
    response = operator_client.post(f"/servergroups/local/{DAY_GROUP}/post-restore/copy-users/")

    assert response.status_code == 400
    assert "was not restored from another" in response.text
