"""The rule for server group names (Azure's, which localcloud adopts)."""

from __future__ import annotations

import re

# \Z, not $: "$" also matches before a trailing newline, which would let "name\n" through.
NAME_RULE = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]\Z")
NAME_RULE_TEXT = (
    "Use 3 to 40 characters: lowercase letters, digits and hyphens, "
    "not starting or ending with a hyphen."
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
