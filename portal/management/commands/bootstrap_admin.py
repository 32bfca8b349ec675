"""Create the first administrator, once, and print its generated password once."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from portal.services import OPERATORS_GROUP


class Command(BaseCommand):
    help = "Create the 'Restore operators' group and, on first run, an admin account."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        Group.objects.get_or_create(name=OPERATORS_GROUP)
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the portal administrator '{username}' with the password: {password}\n"
                "It is shown only this once: keep it somewhere safe. "
                f"Change it with: python manage.py changepassword {username}"
            )
        )
