"""make run's first admin: its password written for later, never printed here."""

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_bootstrap_admin_writes_the_password_for_later_and_does_not_print_it(tmp_path):
    target = tmp_path / "var" / "admin-password"
    out = StringIO()

    call_command("bootstrap_admin", "--password-file", str(target), stdout=out)

    user, password = target.read_text().split()
    assert user == "admin" and len(password) >= 16
    assert target.stat().st_mode & 0o777 == 0o600
    assert password not in out.getvalue()
    assert "shown once, when the portal starts" in out.getvalue()
