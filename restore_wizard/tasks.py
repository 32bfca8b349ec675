"""Thin task wrappers: load by id, call the service."""

from django.tasks import task

from . import services


@task
def run_restore(operation_id: int) -> None:
    services.restore_operation_run(operation_id=operation_id)
