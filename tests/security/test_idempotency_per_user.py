"""Idempotency keys are per user: another user's identical key never leads to the first
user's operation; it starts that user's own."""

import uuid

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from restore_wizard.models import RestoreOperation
from tests.wizard.conftest import (
    RESTORE_URL,
    build_arm,
    details_form,
    start_orders_restore,
    use_azure,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def azure(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    arm = build_arm()
    use_azure(settings, arm)
    return arm


@pytest.fixture
def second_operator(django_user_model):
    user = django_user_model.objects.create_user(username="oscar", password="x")
    user.groups.add(Group.objects.get_or_create(name="Restore operators")[0])
    return user


def test_the_same_key_from_another_user_starts_that_users_own_operation(
    operator, second_operator, django_capture_on_commit_callbacks
):
    key = uuid.uuid4()
    with django_capture_on_commit_callbacks():
        first, _ = start_orders_restore(operator, "orders-a", key)
        second, created = start_orders_restore(second_operator, "orders-b", key)

    assert created
    assert second.pk != first.pk
    assert (second.created_by, second.target_name) == (second_operator, "orders-b")


def test_a_key_posted_by_another_user_never_shows_the_first_users_operation(
    operator_client, second_operator, django_capture_on_commit_callbacks
):
    form = {**details_form(operator_client), "target_name": "orders-a"}
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(RESTORE_URL, form)
    first = RestoreOperation.objects.get()

    other = Client()
    other.force_login(second_operator)
    stolen = {**details_form(other), "target_name": "orders-b"}
    stolen["idempotency_key"] = form["idempotency_key"]
    with django_capture_on_commit_callbacks(execute=True):
        response = other.post(RESTORE_URL, stolen, follow=True)

    mine = RestoreOperation.objects.exclude(pk=first.pk).get()
    assert (mine.created_by, mine.target_name) == (second_operator, "orders-b")
    assert [url for url, _ in response.redirect_chain] == ["/servergroups/azure/orders/"]
    assert "The restore operation has been initiated" in response.text
    assert f"/operations/{first.pk}/" not in response.text
    assert "already initiated" not in response.text


def test_the_database_allows_one_operation_per_user_and_key(operator, second_operator):
    from django.db import IntegrityError, transaction

    key = uuid.uuid4()
    fields = dict(backend="azure", source_id="s", source_name="orders", choice="earliest")
    RestoreOperation.objects.create(
        idempotency_key=key, target_name="x-1", created_by=operator, **fields
    )
    RestoreOperation.objects.create(
        idempotency_key=key, target_name="x-2", created_by=second_operator, **fields
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        RestoreOperation.objects.create(
            idempotency_key=key, target_name="x-3", created_by=operator, **fields
        )
