"""The localcloud-only commands ask the configured backend whether it is localcloud, and
say so plainly when it is not (never an AttributeError from reaching into it)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

NOT_LOCAL = "exists for localcloud server groups only; the 'listed' backend is not localcloud"


@pytest.mark.parametrize(
    "command",
    [
        ("servergroups", "create", "sales", "--backend", "listed"),
        ("servergroups", "stop", "group-0000", "--backend", "listed"),
        ("localcloud_agent", "--once", "--backend", "listed"),
        ("localcloud_demo", "--backend", "listed"),
    ],
)
def test_a_backend_that_is_not_localcloud_is_refused_in_words(listed_backends, command):
    listed_backends(1)
    with pytest.raises(CommandError, match=NOT_LOCAL):
        call_command(*command)


def test_an_unknown_backend_is_named(listed_backends):
    listed_backends(1)
    with pytest.raises(CommandError, match="No backend named 'nowhere' is configured."):
        call_command("servergroups", "backup", "sales", "--backend", "nowhere")
