"""restore_wizard.views.previews: a preview belongs to the session that started it;
anyone else's, or a closed one, answers the panel saying so, never a 500."""

from .conftest import DAY_URL


def test_a_preview_this_session_did_not_start_is_said_closed(operator_client, day_window):
    response = operator_client.get(DAY_URL + "preview/abc123/")

    assert response.status_code == 200
    assert "This preview is closed, has expired, or was started in another browser" in (
        response.text
    )


def test_a_preview_at_a_point_outside_the_window_is_refused_before_it_starts(
    operator_client, day_window
):
    response = operator_client.post(DAY_URL + "preview/", {"point": "2001-01-01 00:00:00"})

    assert response.status_code == 200
    assert "is before the earliest restore point" in response.text
    assert day_window.previews == {}
