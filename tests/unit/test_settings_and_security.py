"""Settings from the environment, production checks, and the CSP."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PRODUCTION_ENV = {
    "PORTAL_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-only-key-for-the-deploy-check-0123456789",
    "ALLOWED_HOSTS": "portal.example.com",
    "PORTAL_BACKENDS": "local",
}


def manage(*args, env):
    skip = {"SECRET_KEY", "PORTAL_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in skip}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_is_clean_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "PORTAL_ENV=production needs SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_csp_needs_no_unsafe_inline(operator_client):
    response = operator_client.get("/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy


@pytest.mark.django_db
def test_pages_have_no_inline_script_or_style(operator_client, listed_backends):
    listed_backends(2)
    for url in ["/", "/servergroups/listed/group-0001/", "/activity/", "/signin/"]:
        html = operator_client.get(url).content.decode()
        assert " style=" not in html
        assert "<style" not in html
        for chunk in html.split("<script")[1:]:
            assert 'src="' in chunk.split(">")[0], f"inline script on {url}"


@pytest.mark.django_db
def test_htmx_requests_carry_the_csrf_token(operator_client):
    html = operator_client.get("/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken":' in html


@pytest.mark.django_db
def test_posts_without_csrf_are_refused(operator):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(operator)
    response = strict.post("/notifications/read/")
    assert response.status_code == 403
