"""The rule for server group names (Azure's, which localcloud adopts)."""

from __future__ import annotations

import re

NAME_RULE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")
NAME_RULE_TEXT = (
    "Use 3 to 40 characters: lowercase letters, digits and hyphens, "
    "not starting or ending with a hyphen."
)


def name_problem(name: str) -> str | None:
    if not name:
        return "Enter a name for the new server group."
    if not NAME_RULE.match(name):
        return f"'{name}' is not a valid server group name. {NAME_RULE_TEXT}"
    return None
