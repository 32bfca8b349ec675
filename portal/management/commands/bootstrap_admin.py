"""Create the first administrator, once, and show its generated password once.

``make run`` passes ``--password-file``: the password is then written there (owner-only)
and ``scripts/serve`` prints it in a box after every line of set-up output, and deletes
the file, so it does not drown between pip's and the demo's lines.
"""

import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from portal.services import OPERATORS_GROUP


class Command(BaseCommand):
    help = "Create the 'Restore operators' group and, on first run, an admin account."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--password-file",
            default="",
            help="write the new password to this file (mode 600) instead of printing it",
        )

    def handle(self, *args, username: str, password_file: str = "", **options):
        Group.objects.get_or_create(name=OPERATORS_GROUP)
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email="", password=password)
        if password_file:
            path = Path(password_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(f"{username}\n{password}\n")
            self.stdout.write(
                f"Created the portal administrator '{username}'; its password is shown "
                "once, when the portal starts."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the portal administrator '{username}' with the password: {password}\n"
                "It is shown only this once: keep it somewhere safe. "
                f"Change it with: python manage.py changepassword {username}"
            )
        )
