"""OK with empty fields: one summary at the top of the form, focusable, linking each field."""

import pytest

pytestmark = pytest.mark.django_db


def test_ok_with_empty_fields_puts_a_focusable_summary_first(operator_client, azure):
    from .conftest import RESTORE_URL, details_form

    form = {**details_form(operator_client, choice="custom"), "target_name": "", "point": ""}
    html = operator_client.post(RESTORE_URL, form, headers={"HX-Request": "true"}).content.decode()

    summary = html.split('id="error-summary"')[1].split("</div>")[0]
    assert 'tabindex="-1" autofocus' in summary
    assert "2 things need fixing" in summary
    assert '<a href="#id_point">' in summary and '<a href="#id_target_name">' in summary
    assert html.index('id="error-summary"') < html.index('id="id_point"')
