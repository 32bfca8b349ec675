"""Settings from the environment and the production checks (the CSP and CSRF on pages:
tests/security/test_csp_and_csrf.py)."""

import os
import subprocess
import sys

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
