"""Sign-in throttling: 20 wrong passwords lock the account and the address; while
locked, even the right password is refused, without hashing anything."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from portal.signin import client_address
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HOME = "127.0.0.2"
ELSEWHERE = "127.0.0.3"


class CountingHasher(MD5PasswordHasher):
    """A fast hasher (these tests sign in hundreds of times), counting every password
    it hashes. The real hasher's cost is measured by scripts/measure_signin_refusal.py."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.security.test_signin_throttling.CountingHasher"]


def sign_in(username: str, password: str, address: str = HOME):
    client = Client()
    response = client.post(
        "/signin/", {"username": username, "password": password}, REMOTE_ADDR=address
    )
    return response, "_auth_user_id" in client.session


def fail(times: int, username: str, address: str = HOME):
    answers = [sign_in(username, "wrong-password", address)[0] for _ in range(times)]
    return answers[-1]


def locked(response) -> bool:
    return response.status_code == 429 and b"Sign-in locked" in response.content


def test_twenty_wrong_signins_lock_the_account_and_the_address(operator, viewer):
    nineteenth = fail(19, operator.username)
    assert nineteenth.status_code == 200 and not locked(nineteenth)

    twentieth = fail(1, operator.username)

    assert locked(twentieth)
    # The right password now fails: from the same address, and from another one.
    for address in (HOME, ELSEWHERE):
        response, signed_in = sign_in(operator.username, PASSWORD, address)
        assert locked(response) and not signed_in
    # The address is locked for every account.
    response, signed_in = sign_in(viewer.username, PASSWORD, HOME)
    assert locked(response) and not signed_in
    # Another account from another address is not affected.
    response, signed_in = sign_in(viewer.username, PASSWORD, ELSEWHERE)
    assert response.status_code == 302 and signed_in


def test_the_right_password_works_again_once_the_lockout_has_passed(operator, settings):
    fail(20, operator.username)
    assert locked(sign_in(operator.username, PASSWORD)[0])

    # Time travel: every failure happened just over one lockout duration ago.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )

    response, signed_in = sign_in(operator.username, PASSWORD)
    assert response.status_code == 302 and signed_in


def test_a_shorter_lockout_setting_is_honoured(operator, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    fail(20, operator.username)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=61))

    assert sign_in(operator.username, PASSWORD)[1]


def test_a_successful_signin_forgets_the_failures(operator):
    fail(19, operator.username)
    assert sign_in(operator.username, PASSWORD)[1]

    nineteen_more = fail(19, operator.username)

    assert not locked(nineteen_more)
    assert sign_in(operator.username, PASSWORD)[1]


def test_a_refused_attempt_hashes_no_password(operator):
    CountingHasher.calls = 0
    fail(20, operator.username)
    # The counter sees the hashing a wrong password costs before the lockout.
    assert CountingHasher.calls >= 19

    CountingHasher.calls = 0
    answers = [
        sign_in(operator.username, PASSWORD)[0],
        sign_in(operator.username, "wrong-password", ELSEWHERE)[0],
        sign_in("no-such-user", "wrong-password", HOME)[0],
    ]

    assert all(locked(answer) for answer in answers)
    assert CountingHasher.calls == 0


def test_failures_never_record_the_password(operator):
    fail(3, operator.username)

    stored = " ".join(AccessAttempt.objects.values_list("post_data", flat=True))
    assert "wrong-password" not in stored


def test_the_command_lists_lockouts_and_lifts_one(operator, capsys):
    fail(20, operator.username)

    call_command("signin_lockouts")
    listing = capsys.readouterr().out
    assert f"account  {operator.username}: 20 failed sign-ins, locked until" in listing
    assert f"address  {HOME}: 20 failed sign-ins" in listing

    call_command("signin_lockouts", "--reset", operator.username)
    assert "Unlocked user olivia" in capsys.readouterr().out

    assert sign_in(operator.username, PASSWORD, ELSEWHERE)[1]
    call_command("signin_lockouts", "--json")
    assert '"kind": "account"' not in capsys.readouterr().out


def test_administrators_see_lockouts_and_lift_them(operator, django_user_model):
    admin = django_user_model.objects.create_superuser("ada", password=PASSWORD)
    fail(20, operator.username)
    client = Client()
    client.force_login(admin)

    page = client.get("/signin-lockouts/")
    assert page.status_code == 200
    assert f"Unlock account {operator.username}" in page.text
    assert f"Unlock address {HOME}" in page.text

    done = client.post(
        "/signin-lockouts/", {"kind": "account", "value": operator.username}, follow=True
    )
    assert f"Unlocked account {operator.username}" in done.text
    assert sign_in(operator.username, PASSWORD, ELSEWHERE)[1]
    assert "unlock sign-in" in client.get("/activity/").text


def test_operators_cannot_see_or_lift_lockouts(operator_client):
    assert operator_client.get("/signin-lockouts/").status_code == 403
    assert (
        operator_client.post("/signin-lockouts/", {"kind": "address", "value": HOME}).status_code
        == 403
    )


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(settings, rf):
    settings.PORTAL_SIGNIN_PROXY_COUNT = 1
    request = rf.post(
        "/signin/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 127.0.0.4"
    )
    assert client_address(request) == "127.0.0.4"

    settings.PORTAL_SIGNIN_PROXY_COUNT = 0
    assert client_address(request) == "127.0.0.9"
