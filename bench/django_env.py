"""A throwaway portal database for benchmarks, so they never touch var/portal.sqlite3."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def portal_test_env():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["DEBUG"] = "false"  # measure what production runs
    import django

    django.setup()
    from django.db import connection

    # No setup_test_environment(): its instrumented template rendering would slow the
    # pages down and not the trivial view, and skew every ratio.
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def signed_in_client(username: str = "bench", *, operator: bool = True):
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user = User.objects.create_user(username=username, password="bench-password-1")
    if operator:
        group, _ = Group.objects.get_or_create(name="Restore operators")
        user.groups.add(group)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client, user
