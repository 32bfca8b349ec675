"""Thin task wrappers: load by id, call the runner. Only the runner is imported here,
so the starter (``services.operations``) can import this module without a circle."""

from django.tasks import task

from .services.runner import restore_operation_run


# The name is stored with every queued task row ("restore_wizard.tasks.run_restore"):
# renaming it would strand the restores queued before an upgrade.
@task
def run_restore(operation_id: int) -> None:
    restore_operation_run(operation_id=operation_id)
