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
