"""Step 1 (GET of the restore URL): earliest or custom, with the window in UTC."""

import pytest

from .conftest import DETAILS_URL, RESTORE_URL

pytestmark = pytest.mark.django_db


def test_step_one_shows_the_earliest_point_and_latest_time_in_utc(operator_client, azure, source):
    response = operator_client.get(RESTORE_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Earliest restore point" in html and "Custom restore point" in html
    assert '<dd id="earliest-restore-point"><time' in html
    assert "Latest restorable time" in html
    earliest_dd = html.split('id="earliest-restore-point">')[1].split("</dd>")[0]
    # Azure's earliest has a fraction of a second; the wizard keeps it, unrounded.
    assert f'datetime="{source.earliest_restore.isoformat()}"' in earliest_dd
    assert source.earliest_restore.strftime("%Y-%m-%d %H:%M:%S") in earliest_dd
    latest_dd = html.split('id="latest-restore-point">')[1].split("</dd>")[0]
    assert " UTC</time>" in earliest_dd and " UTC</time>" in latest_dd


def test_step_one_offers_both_choices_as_labelled_radios(operator_client, azure):
    html = operator_client.get(RESTORE_URL).content.decode()

    assert '<input type="radio" name="choice" value="earliest" checked>' in html
    assert '<input type="radio" name="choice" value="custom" >' in html
    assert f'action="{DETAILS_URL}"' in html


def test_step_one_with_htmx_renders_only_the_step(operator_client, azure):
    html = operator_client.get(RESTORE_URL, headers={"HX-Request": "true"}).content.decode()

    assert html.lstrip().startswith('<div id="wizard">')
    assert "<html" not in html


def test_change_on_step_two_keeps_the_custom_choice(operator_client, azure):
    html = operator_client.get(RESTORE_URL, {"choice": "custom"}).content.decode()

    assert '<input type="radio" name="choice" value="custom" checked>' in html
    assert '<input type="radio" name="choice" value="earliest" >' in html


def test_next_without_a_choice_asks_for_one(operator_client, azure):
    response = operator_client.get(DETAILS_URL)

    assert response.status_code == 200
    assert "Choose the earliest or a custom restore point." in response.content.decode()


def test_viewer_cannot_open_the_wizard(viewer_client, azure):
    response = viewer_client.get(RESTORE_URL)

    assert response.status_code == 403
    assert "Restore operators" in response.content.decode()
