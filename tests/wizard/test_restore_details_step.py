"""Step 2 (GET of the details URL): the fields the seed names, the window as min and max."""

import re

import pytest

from portal.backends.azure import NAME_MAX_LENGTH, NAME_RULE_TEXT

from .conftest import DETAILS_URL, LOCATION, RESOURCE_GROUP, SUB_A

pytestmark = pytest.mark.django_db


def label_for(html: str, text: str) -> str:
    """The id of the input labelled ``text``, failing when there is no such label."""
    return re.search(rf'<label for="([^"]+)">{re.escape(text)}</label>', html)[1]


def input_tag(html: str, input_id: str) -> str:
    return re.search(rf'<input[^>]*id="{input_id}"[^>]*>', html, re.S)[0]


def test_earliest_details_show_the_name_and_the_fixed_fields(operator_client, azure):
    html = operator_client.get(DETAILS_URL, {"choice": "earliest"}).content.decode()

    assert "Restore point (UTC)" not in html
    assert 'type="text" id="id_target_name"' in input_tag(
        html, label_for(html, "Restore to new server")
    )
    for label, value in [
        ("Subscription", SUB_A),
        ("Resource group", RESOURCE_GROUP),
        ("Location", LOCATION),
    ]:
        tag = input_tag(html, label_for(html, label))
        assert f'value="{value}"' in tag
        assert "readonly" in tag
    assert re.search(r'<button type="submit"[^>]*>OK</button>', html)


def test_the_name_field_takes_the_clouds_limit_and_says_its_rule(operator_client, azure):
    html = operator_client.get(DETAILS_URL, {"choice": "earliest"}).content.decode()

    assert f'maxlength="{NAME_MAX_LENGTH}"' in input_tag(html, "id_target_name")
    assert f'<p class="help" id="name-help">{NAME_RULE_TEXT}</p>' in html


def test_custom_details_bound_the_point_by_the_window(operator_client, azure, source):
    html = operator_client.get(DETAILS_URL, {"choice": "custom"}).content.decode()

    tag = input_tag(html, label_for(html, "Restore point (UTC)"))
    # Azure's earliest has a fraction of a second: the window starts there, unrounded.
    earliest = source.earliest_restore
    assert earliest.microsecond
    # A text field: "just before" an event needs microseconds, which datetime-local lacks.
    assert 'type="text"' in tag and 'aria-describedby="point-help point-conversion"' in tag
    help_text = re.search(r'<p class="help" id="point-help">(.*?)</p>', html, re.S)[1]
    assert f'between <time datetime="{earliest.isoformat()}">{earliest:%Y-%m-%d %H:%M:%S}' in (
        help_text
    )
    assert input_tag(html, label_for(html, "Restore to new server"))


def test_details_carry_a_fresh_idempotency_key_each_time(operator_client, azure):
    keys = {
        re.search(
            r'name="idempotency_key" value="([^"]+)"',
            operator_client.get(DETAILS_URL, {"choice": "earliest"}).content.decode(),
        )[1]
        for _ in range(2)
    }

    assert len(keys) == 2


def test_details_with_htmx_render_only_the_step(operator_client, azure):
    html = operator_client.get(
        DETAILS_URL, {"choice": "custom"}, headers={"HX-Request": "true"}
    ).content.decode()

    assert html.lstrip().startswith('<div id="wizard">')
    assert "Restore point (UTC)" in html


def test_a_tampered_choice_goes_back_to_step_one(operator_client, azure):
    response = operator_client.get(DETAILS_URL, {"choice": "latest"})

    assert "Choose the earliest or a custom restore point." in response.content.decode()
    assert "Restore to new server" not in response.content.decode()


def test_azure_step_2_says_azure_gives_no_estimate_and_shows_no_figure(operator_client, azure):
    html = operator_client.get(DETAILS_URL, {"choice": "earliest"}).content.decode()

    assert "How long the restore will take" in html
    assert (
        "Azure gives no estimate: its documentation says a restore takes from minutes to "
        "hours, depending on the WAL to replay since the last backup."
    ) in html
    assert "to unpack" not in html
