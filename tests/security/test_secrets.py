"""No secret in page source, logs, CLI output or ActivityEvents: the localcloud admin
password (a real engine), Azure's client secret and bearer tokens (the real SDK over
FakeArm), on the paths that succeed and on those that fail."""

from __future__ import annotations

import logging
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from localcloud.testing import create_ticks, processes_under, temporary_engine
from portal.backends import get_backend
from portal.models import ActivityEvent, Notification
from restore_wizard.models import RestoreOperation
from restore_wizard.services.operations import restore_operation_start
from restore_wizard.services.runner import restore_operation_run
from tests.fakes.azure_arm import FakeCredential, arm_error
from tests.ports import shifted_port
from tests.wizard.conftest import RESTORE_URL, build_arm, details_form, use_azure

pytestmark = pytest.mark.django_db
BASE_PORT = shifted_port(32432)
AZURE_SECRET = "azure-client-secret-Zq8~never-shown-0123456789"


@pytest.fixture(scope="module")
def root():
    with temporary_engine(base_port=BASE_PORT) as engine:
        engine.create_group("sec-src", workers=0, setup=create_ticks)
        yield engine.root
    assert processes_under(engine.root) == []


@pytest.fixture
def local(settings, root):
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(root), "base_port": BASE_PORT},
        }
    }
    return get_backend("local")


def stored_text() -> str:
    """Everything the portal stored about what happened, as text."""
    rows = [
        *ActivityEvent.objects.values(),
        *Notification.objects.values(),
        *RestoreOperation.objects.values(),
    ]
    return "\n".join(repr(row) for row in rows)


def run_restore(operator, backend, target: str, point=None) -> RestoreOperation:
    operation, _ = restore_operation_start(
        user=operator,
        backend=backend,
        group=backend.get_server_group("sec-src"),
        choice="custom" if point else "earliest",
        point=point,
        target_name=target,
        idempotency_key=uuid.uuid4(),
    )
    restore_operation_run(operation_id=operation.pk)
    operation.refresh_from_db()
    return operation


def pages(client, urls: list[str]) -> str:
    html = []
    for url in urls:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code != 500, url  # a cloud refusal may be a 502
            html.append(response.content.decode())
    return "\n".join(html)


@pytest.mark.django_db(transaction=True)  # the worker's heartbeat thread writes the row
def test_local_admin_password_is_never_shown_logged_or_recorded(
    local, operator, operator_client, caplog
):
    caplog.set_level(logging.DEBUG)
    password = local.admin_password("sec-src")
    assert len(password) >= 20
    done = run_restore(operator, local, "sec-copy")
    failed = run_restore(
        operator,
        local,
        "sec-fail",
        point=local.restore_window("sec-src").earliest.replace(year=2001),
    )
    assert done.status == RestoreOperation.Status.SUCCEEDED, done.message
    assert failed.status == RestoreOperation.Status.FAILED
    assert local.admin_password("sec-copy") == password
    operator_client.post(
        "/servergroups/local/sec-copy/post-restore/copy-firewall/",
        {},
        headers={"HX-Request": "true"},
    )
    operator_client.post(RESTORE_URL.replace("azure/orders", "local/sec-src"), {"choice": "custom"})

    html = pages(
        operator_client,
        [
            "/",
            "/servergroups/local/sec-src/",
            "/servergroups/local/sec-copy/",
            "/servergroups/local/sec-src/restore/",
            "/servergroups/local/sec-src/restore/details/?choice=earliest",
            "/servergroups/local/sec-src/restore/details/?choice=custom",
            "/servergroups/local/sec-src/restore/check-name/?target_name=sec-new",
            "/servergroups/local/sec-copy/post-restore/",
            "/operations/",
            f"/operations/{done.pk}/",
            f"/operations/{failed.pk}/",
            "/activity/",
            "/notifications/",
            "/notifications/badge/",
        ],
    )

    assert "sec-copy" in html and "citus" in html
    assert password not in html
    assert password not in caplog.text
    assert password not in stored_text()
    local.engine.delete_group("sec-copy")


def test_servergroups_cli_shows_the_password_only_when_asked(local):
    password = local.admin_password("sec-src")

    def run(*args) -> str:
        out, err = StringIO(), StringIO()
        try:
            call_command(*args, stdout=out, stderr=err)
        except CommandError as error:
            err.write(str(error))
        return out.getvalue() + err.getvalue()

    quiet = [
        run("servergroups", "show", "sec-src"),
        run("servergroups", "show", "sec-src", "--json"),
        run("servergroups", "list"),
        run("servergroups", "list", "--json"),
        run("restore", "sec-src", "--point", "2001-01-01T00:00:00Z", "--name", "sec-old"),
    ]
    assert "sec-src" in quiet[0]
    for output in quiet:
        assert password not in output
    assert password in run("servergroups", "show", "sec-src", "--show-password")


@pytest.fixture
def azure(settings, monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-0000000000bb")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", AZURE_SECRET)
    arm = build_arm()
    use_azure(settings, arm)
    return arm


def secrets_absent(text: str) -> None:
    assert AZURE_SECRET not in text
    assert FakeCredential.TOKEN not in text
    assert "Bearer " not in text


AZURE_PAGES = [
    "/",
    "/servergroups/azure/orders/",
    "/servergroups/azure/orders/restore/",
    "/servergroups/azure/orders/restore/details/?choice=earliest",
    "/activity/",
    "/notifications/",
    "/operations/",
]


def test_azure_token_and_secret_never_reach_pages_logs_or_records(
    azure, operator_client, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    form = {**details_form(operator_client), "target_name": "orders-ok"}
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(RESTORE_URL, form)
    azure.plan_restore("orders-bad", in_progress=0, error=("Conflict", "Storage unavailable."))
    form = {**details_form(operator_client), "target_name": "orders-bad"}
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(RESTORE_URL, form)
    operations = list(RestoreOperation.objects.order_by("pk"))
    assert [o.status for o in operations] == ["succeeded", "failed"]

    html = pages(operator_client, AZURE_PAGES + [f"/operations/{o.pk}/" for o in operations])

    assert "orders" in html
    secrets_absent(html)
    secrets_absent(caplog.text)
    secrets_absent(stored_text())


@pytest.mark.parametrize("status", [401, 403])
def test_azure_refusals_show_no_token_or_secret(azure, operator_client, caplog, status):
    caplog.set_level(logging.DEBUG)
    code = "InvalidAuthenticationToken" if status == 401 else "AuthorizationFailed"
    azure.script("GET", "serverGroupsv2", status=status, body=arm_error(code, "Refused."), times=50)

    html = pages(operator_client, AZURE_PAGES)

    assert "Azure" in html
    secrets_absent(html)
    secrets_absent(caplog.text)
    secrets_absent(stored_text())


def test_a_failing_client_secret_credential_keeps_its_secret(
    settings, azure, operator_client, caplog
):
    """The real azure-identity credential, holding the secret, fails to get a token."""
    from azure.identity import ClientSecretCredential

    caplog.set_level(logging.DEBUG)
    credential = ClientSecretCredential(
        "00000000-0000-0000-0000-0000000000aa",
        "00000000-0000-0000-0000-0000000000bb",
        AZURE_SECRET,
        transport=azure,  # offline: FakeArm refuses the token endpoint
    )
    settings.PORTAL_BACKENDS["azure"]["OPTIONS"]["credential"] = credential
    from portal.backends import reset_backends

    reset_backends()

    html = pages(operator_client, AZURE_PAGES)

    assert "did not accept the portal&#x27;s credentials" in html
    secrets_absent(html)
    secrets_absent(caplog.text)
    secrets_absent(stored_text())
