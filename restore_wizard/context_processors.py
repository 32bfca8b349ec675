"""What every template may use from the wizard."""

from .models import RestoreOperation


def states(request):
    """A restore operation's status enum, so templates compare against it, not strings."""
    return {"OperationStatus": RestoreOperation.Status}
