"""The names restore drills reserve for their scratch groups: ``<group>-drill-<n>``.

Nobody else may create a group so named (the wizard refuses it), and a backend that
refuses a DBA's Delete (a cloud) still deletes a drill's scratch group, by such a name
only: the rule lives here, beside the backends, so the backends can enforce it.
"""

from __future__ import annotations

import re

SCRATCH_SUFFIX = "-drill-"
SCRATCH_NAME = re.compile(r".+-drill-[0-9]+")


def is_scratch_name(name: str) -> bool:
    return bool(SCRATCH_NAME.fullmatch(name or ""))


def not_scratch(name: str) -> str | None:
    """Why ``name`` may not be deleted as a drill's scratch group, or None."""
    if is_scratch_name(name):
        return None
    return (
        f"'{name}' is not a restore drill's scratch group (<group>-drill-<n>): the portal "
        "deletes no other server group on this cloud. Delete it in the cloud's own portal."
    )
