"""A throwaway portal database for benchmarks, so they never touch var/portal.sqlite3."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def portal_test_env():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def signed_in_client(username: str = "bench", *, operator: bool = True):
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user = User.objects.create_user(username=username, password="bench-password-1")
    if operator:
        group, _ = Group.objects.get_or_create(name="Restore operators")
        user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client, user
