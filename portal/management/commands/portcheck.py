"""Say clearly, before the servers start, when the portal's port is taken."""

import socket

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Exit with a clear message when 127.0.0.1:PORT is already in use."

    def add_arguments(self, parser):
        parser.add_argument("port", type=int)

    def handle(self, *args, port: int, **options):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise CommandError(
                    f"Port {port} on 127.0.0.1 is already in use (is the portal running in "
                    f"another terminal?). Stop that process, or pick another port: "
                    f"make run PORTAL_PORT={port + 1}"
                ) from None
