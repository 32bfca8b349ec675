"""Scratch group names are the drills' own: the wizard refuses them to DBAs, on the form
and in the name check as they type, and starts nothing."""

from __future__ import annotations

import pytest

from restore_wizard.models import RestoreOperation
from tests.wizard.conftest import (
    DETAILS_URL,
    RESTORE_URL,
    build_arm,
    details_form,
    restore_puts,
    use_azure,
)

pytestmark = pytest.mark.django_db


def test_the_wizard_refuses_a_drill_scratch_name_and_starts_nothing(settings, operator_client):
    arm = build_arm()
    use_azure(settings, arm)
    form = {**details_form(operator_client), "target_name": "orders-drill-7"}

    response = operator_client.post(RESTORE_URL, form)

    assert response.status_code == 200  # the form again, with the reason
    assert "reserved for restore drills" in response.content.decode()
    assert not RestoreOperation.objects.exists()
    assert not restore_puts(arm)


def test_the_name_check_as_you_type_says_the_name_is_reserved(settings, operator_client):
    use_azure(settings, build_arm())
    response = operator_client.get(
        DETAILS_URL.replace("details/", "check-name/"), {"target_name": "orders-drill-12"}
    )
    assert "reserved for restore drills" in response.content.decode()


def test_the_restore_command_refuses_a_drill_scratch_name_and_starts_nothing(settings):
    from django.core.management import CommandError, call_command

    arm = build_arm()
    use_azure(settings, arm)
    with pytest.raises(CommandError, match="reserved for restore drills' scratch groups"):
        call_command("restore", "orders", "--earliest", "--name", "orders-drill-7")
    assert not RestoreOperation.objects.exists()
    assert not restore_puts(arm)
