"""One error hierarchy for localcloud; every message is meant to be shown to a DBA as is."""

from __future__ import annotations


class LocalCloudError(Exception):
    """Base of every failure localcloud knows about; ``str(error)`` is the whole story."""

    code = "LocalCloudError"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(LocalCloudError):
    code = "NotFound"


class InvalidName(LocalCloudError):
    code = "InvalidName"


class NameTaken(LocalCloudError):
    code = "NameTaken"


class OutsideWindow(LocalCloudError):
    """The requested restore point is not inside the restore window (or has no offset)."""

    code = "OutsideWindow"


class NotReady(LocalCloudError):
    """The group is in a state that does not allow the operation."""

    code = "NotReady"


class NodeFailed(LocalCloudError):
    """A PostgreSQL program or server failed; the message names the node and quotes it."""

    code = "NodeFailed"


class RestoreFailed(LocalCloudError):
    code = "RestoreFailed"


class Busy(LocalCloudError):
    """Another process owns the operation; trying again later can help."""

    code = "Busy"


class RestoreCancelled(LocalCloudError):
    """An operator cancelled the restore; everything it had made is removed."""

    code = "RestoreCancelled"
