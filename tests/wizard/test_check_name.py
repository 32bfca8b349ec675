"""As-you-type name check (step 2): the local rules, then Azure's answer."""

import pytest

from .conftest import RESTORE_URL

pytestmark = pytest.mark.django_db

URL = RESTORE_URL + "check-name/"


def test_free_name_is_said_available(operator_client, azure):
    html = operator_client.get(URL, {"target_name": "orders-new"}).content.decode()

    assert "'orders-new' is available." in html
    assert azure.requests_to("POST", "checkNameAvailability")


def test_name_taken_in_azure_is_said_taken(operator_client, azure):
    azure.taken_names.add("orders-old")

    html = operator_client.get(URL, {"target_name": "orders-old"}).content.decode()

    assert "cannot be used in Azure" in html


def test_invalid_name_is_refused_without_asking_azure(operator_client, azure):
    html = operator_client.get(URL, {"target_name": "Bad_Name"}).content.decode()

    assert "is not a valid server group name" in html
    assert not azure.requests_to("POST", "checkNameAvailability")


def test_a_name_one_over_the_limit_is_refused_with_the_rule_without_asking_azure(
    operator_client, azure
):
    from portal.backends.azure import NAME_MAX_LENGTH, NAME_RULE_TEXT

    too_long = "a" * (NAME_MAX_LENGTH + 1)
    html = operator_client.get(URL, {"target_name": too_long * 3}).content.decode()

    assert f"&#x27;{too_long}&#x27; is not a valid server group name. {NAME_RULE_TEXT}" in html
    assert not azure.requests_to("POST", "checkNameAvailability")
