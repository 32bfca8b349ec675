"""``signin_lockouts [--reset USER] [--reset-address ADDRESS] [--json]``.

Lists the accounts and addresses that sign-in refuses now (too many failed sign-ins
within ``PORTAL_SIGNIN_LOCKOUT_MINUTES``), or lifts a lockout.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.instants import utc_iso, utc_text
from portal.selectors import signin_lockouts
from portal.services import signin_lockout_reset


class Command(BaseCommand):
    help = "List sign-in lockouts, or lift one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", metavar="USER", help="unlock this user name")
        parser.add_argument("--reset-address", metavar="ADDRESS", help="unlock this address")
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options) -> None:
        username, address = options["reset"] or "", options["reset_address"] or ""
        if username or address:
            self.reset(username, address, options["json"])
            return
        lockouts = signin_lockouts()
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    [
                        {
                            "kind": lockout.kind,
                            "value": lockout.value,
                            "failures": lockout.failures,
                            "last_failure": utc_iso(lockout.last_failure),
                            "locked_until": utc_iso(lockout.locked_until),
                        }
                        for lockout in lockouts
                    ],
                    indent=2,
                )
            )
            return
        if not lockouts:
            self.stdout.write("No account or address is locked out.")
            return
        for lockout in lockouts:
            self.stdout.write(
                f"{lockout.kind:8} {lockout.value}: {lockout.failures} failed sign-ins, "
                f"locked until {utc_text(lockout.locked_until)}"
            )

    def reset(self, username: str, address: str, as_json: bool) -> None:
        if username and len(username) > 150:
            raise CommandError("A user name has at most 150 characters.")
        removed = signin_lockout_reset(actor=None, username=username, address=address)
        if as_json:
            self.stdout.write(
                json.dumps({"username": username, "address": address, "removed": removed})
            )
            return
        what = " and ".join(
            part
            for part in (username and f"user {username}", address and f"address {address}")
            if part
        )
        if removed:
            self.stdout.write(f"Unlocked {what}: {removed} failure records removed.")
        else:
            self.stdout.write(f"No failed sign-ins were recorded for {what}; nothing to unlock.")
