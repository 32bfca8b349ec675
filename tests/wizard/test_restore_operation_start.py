"""restore_operation_start: one row per restore, whoever asks at the same moment."""

import threading
import uuid

import pytest
from django.db import connection
from django.test import Client

from restore_wizard.models import RestoreOperation
from restore_wizard.services.checks import RestoreRefused
from tests.fakes.azure_arm import FakeArm

from .conftest import (
    RESTORE_URL,
    build_arm,
    details_form,
    restore_puts,
    start_orders_restore,
    use_azure,
)


@pytest.mark.django_db
def test_same_key_answers_with_the_first_operation(
    operator, azure, django_capture_on_commit_callbacks
):
    key = uuid.uuid4()
    with django_capture_on_commit_callbacks() as callbacks:
        first, created_first = start_orders_restore(operator, "orders-r1", key)
        again, created_again = start_orders_restore(operator, "orders-r1", key)

    assert (created_first, created_again) == (True, False)
    assert again.pk == first.pk
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_second_active_restore_to_the_same_name_is_refused_by_the_database(
    operator, azure, django_capture_on_commit_callbacks
):
    # Both passed the form's checks (the race): the unique constraint decides.
    with django_capture_on_commit_callbacks() as callbacks:
        start_orders_restore(operator, "orders-r1")
        with pytest.raises(RestoreRefused) as refused:
            start_orders_restore(operator, "orders-r1")

    assert refused.value.field == "target_name"
    assert refused.value.message == (
        "A restore to 'orders-r1' was started a moment ago by someone else. Choose another name."
    )
    assert RestoreOperation.objects.count() == 1
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_name_already_being_restored_to_is_refused_on_the_form(
    operator_client, azure, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        operator_client.post(RESTORE_URL, {**details_form(operator_client), "target_name": "x-r1"})
        response = operator_client.post(
            RESTORE_URL, {**details_form(operator_client), "target_name": "x-r1"}
        )

    assert "A restore to &#x27;x-r1&#x27; is already running (started by olivia)" in (
        response.content.decode()
    )
    assert RestoreOperation.objects.count() == 1


class GatedArm(FakeArm):
    """Holds the first two name checks until both arrived: both requests then believe
    the name is free, as two browsers pressing OK at the same moment would."""

    def __init__(self) -> None:
        super().__init__()
        # Generous: both requests must get here, however loaded the machine.
        self.gate = threading.Barrier(2, timeout=60)

    def send(self, request, **kwargs):
        if "checkNameAvailability" in request.url and self.gate.n_waiting < 2:
            try:
                self.gate.wait()
            except threading.BrokenBarrierError:
                pass
        return super().send(request, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_two_browsers_submitting_the_same_new_name_at_once_start_one_restore(
    settings, django_user_model
):
    from django.contrib.auth.models import Group
    from django_tasks_db.models import DBTaskResult

    arm = build_arm()
    gated = GatedArm()
    gated.subscriptions, gated.clusters = arm.subscriptions, arm.clusters
    use_azure(settings, gated, tasks="django_tasks_db.DatabaseBackend")
    operators = Group.objects.create(name="Restore operators")
    clients = []
    for username in ("olivia", "oscar"):
        user = django_user_model.objects.create_user(username=username, password="x")
        user.groups.add(operators)
        client = Client()
        client.force_login(user)
        clients.append((client, {**details_form(client), "target_name": "orders-race"}))
    responses = {}

    def submit(index: int) -> None:
        client, form = clients[index]
        try:
            responses[index] = client.post(RESTORE_URL, form)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request did not answer"

    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [200, 302]
    (refused,) = [r for r in responses.values() if r.status_code == 200]
    assert "was started a moment ago by someone else. Choose another name." in (
        refused.content.decode()
    )
    assert RestoreOperation.objects.count() == 1
    assert DBTaskResult.objects.count() == 1
    assert len(gated.requests_to("POST", "checkNameAvailability")) == 2
    assert not restore_puts(gated)


@pytest.mark.django_db
def test_with_the_database_task_backend_the_operation_and_its_task_commit_together(
    operator, azure, settings
):
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    operation, created = start_orders_restore(operator, "orders-r1")
    assert created
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"] == [operation.pk]

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        start_orders_restore(operator, "orders-r2")
        raise Abort  # whatever fails after: neither row is left behind
    assert not RestoreOperation.objects.filter(target_name="orders-r2").exists()
    assert DBTaskResult.objects.count() == 1
