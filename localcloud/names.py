"""The rule for server group names (Azure's, which localcloud adopts): one length limit
and one text, used by the engine's checks and, through the portal's local backend, by the
wizard's form, its ``maxlength`` and its help."""

from __future__ import annotations

import re

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 40
# \Z, not $: "$" also matches before a trailing newline, which would let "name\n" through.
NAME_RULE = re.compile(
    rf"\A[a-z0-9](?:[a-z0-9-]{{{NAME_MIN_LENGTH - 2},{NAME_MAX_LENGTH - 2}}})[a-z0-9]\Z"
)
NAME_RULE_TEXT = (
    f"Use {NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} characters: lowercase letters, digits and "
    "hyphens, not starting or ending with a hyphen."
)


def name_problem(name: str) -> str | None:
    if not name:
        return "Enter a name for the new server group."
    if any(char.isspace() or not char.isprintable() for char in name):
        return (
            f"{name!r} is not a valid server group name: it contains a space, a line break "
            f"or another invisible character. {NAME_RULE_TEXT}"
        )
    if not NAME_RULE.fullmatch(name):
        return f"'{name}' is not a valid server group name. {NAME_RULE_TEXT}"
    return None
