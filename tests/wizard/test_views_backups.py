"""restore_wizard.views.backups: the "Backup and restore" page shows the window to
anyone signed in and answers an unknown group with a 404 page."""

from restore_wizard.timeline import input_text

from .conftest import DAY_GROUP


def test_a_viewer_sees_the_window_of_the_group(viewer_client, day_window):
    response = viewer_client.get(f"/servergroups/local/{DAY_GROUP}/backup-and-restore/")

    assert response.status_code == 200
    assert input_text(day_window.earliest) in response.text


def test_an_unknown_group_is_a_404_page(viewer_client, day_window):
    response = viewer_client.get("/servergroups/local/no-such-group/backup-and-restore/")

    assert response.status_code == 404
    assert "no-such-group" in response.text
