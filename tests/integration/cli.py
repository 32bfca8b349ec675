"""The portal's management commands run in the test's process, as the CLI runs them."""

from io import StringIO

from django.core.management import call_command


def run(*args: str) -> str:
    """What the command wrote to standard output (its standard error is kept apart)."""
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()
