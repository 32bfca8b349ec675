import pytest

pytestmark = pytest.mark.django_db


def test_overview_shows_the_essentials(operator_client, listed_backends):
    listed_backends(3)
    response = operator_client.get("/servergroups/listed/group-0001/")
    html = response.content.decode()
    assert response.status_code == 200
    for label in [
        "Status",
        "Resource group",
        "Location",
        "Subscription",
        "Coordinator endpoint",
        "PostgreSQL version",
        "Nodes",
        "Earliest restore point",
        "Restored from",
    ]:
        assert f"<dt>{label}</dt>" in html
    assert "c.group-0001.example.test:5432" in html
    assert "2026-11-01 01:00:00 UTC" in html


def test_overview_says_why_restore_is_missing(operator_client, listed_backends):
    listed_backends(3)
    html = operator_client.get("/servergroups/listed/group-0001/").content.decode()
    assert "Restore is not available" in html
    assert "cannot restore server groups" in html
    assert "support request" not in html


def test_unknown_group_is_a_clear_404(operator_client, listed_backends):
    listed_backends(1)
    response = operator_client.get("/servergroups/listed/nope/")
    assert response.status_code == 404
    assert "There is no server group named" in response.content.decode()


def test_unknown_backend_is_a_clear_404(operator_client):
    response = operator_client.get("/servergroups/mars/anything/")
    assert response.status_code == 404
    assert "No backend named" in response.content.decode()
