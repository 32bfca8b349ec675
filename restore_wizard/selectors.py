"""Reads for the wizard's pages: operation phases and the post-restore checklist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q

from portal.backends import BackendError
from portal.backends.base import Backend, FirewallRule, Parameter, ServerGroup

from .models import RestoreOperation


def operation_for_key(*, key: str, user) -> RestoreOperation | None:
    """The operation this user already started with this idempotency key, if any."""
    try:
        key = uuid.UUID(str(key))
    except ValueError:
        return None
    return RestoreOperation.objects.filter(idempotency_key=key, created_by=user).first()


# How far a cloud's clock and the portal's may disagree about when a group was created.
CLOCK_SLACK = timedelta(minutes=10)


def recorded_lineage(group: ServerGroup) -> tuple[str, datetime | None] | None:
    """(source name, restore point) of the restore this portal ran to make ``group``.

    A group of the same name created outside that restore's span (deleted and made again
    later, say) is not its product: None then, as for any group the portal did not restore.
    """
    operation = (
        RestoreOperation.objects.filter(
            backend=group.backend,
            target_name=group.name,
            status=RestoreOperation.Status.SUCCEEDED,
        )
        .order_by("-finished_at", "-id")
        .first()
    )
    if operation is None:
        return None
    created = group.created_at
    if created is not None and not (
        operation.created_at - CLOCK_SLACK
        <= created
        <= (operation.finished_at or operation.created_at) + CLOCK_SLACK
    ):
        return None
    return operation.source_name, operation.restored_point or operation.requested_point


def restores_of_group(backend_key: str, name: str):
    """Restores made from and into one group, newest first."""
    return RestoreOperation.objects.filter(backend=backend_key).filter(
        Q(source_name=name) | Q(target_name=name)
    )


def restore_running_for(backend_key: str, name: str) -> str | None:
    """Why ``name`` may not be deleted now: a restore running into or from it."""
    running = restores_of_group(backend_key, name).filter(status__in=RestoreOperation.ACTIVE)
    operation = running.order_by("created_at").first()
    if operation is None:
        return None
    if operation.target_name == name:
        return (
            f"A restore into {name} is running (operation #{operation.pk}); "
            "wait until it has finished."
        )
    return (
        f"A restore from {name} into {operation.target_name} is running "
        f"(operation #{operation.pk}); wait until it has finished."
    )


def operation_phases(operation: RestoreOperation) -> list[tuple[str, str]]:
    """The coarse steps of any restore, each "done", "current" or "todo"."""
    steps = ["Queued", "Restoring", "Ready"]
    if operation.status == RestoreOperation.Status.QUEUED:
        position = 0
    elif operation.status == RestoreOperation.Status.RUNNING:
        position = 1
    elif operation.status == RestoreOperation.Status.SUCCEEDED:
        position = 3
    else:
        return [("Queued", "done"), ("Restoring", "done"), ("Failed", "current")]
    return [
        (step, "done" if index < position else "current" if index == position else "todo")
        for index, step in enumerate(steps)
    ]


@dataclass
class Task:
    key: str
    title: str
    done: bool | None = None  # None: the portal cannot know
    error: str = ""
    data: dict = field(default_factory=dict)


def attempt(task: Task, read):
    try:
        return read()
    except BackendError as error:
        task.error = error.message
        return None


def post_restore_tasks(backend: Backend, group: ServerGroup) -> list[Task]:
    """The seed's five post-restore tasks, with live state where the portal can know it."""
    source = None
    source_task = Task("source", "")
    if group.restored_from:
        source = attempt(source_task, lambda: backend.find_server_group(group.restored_from))

    endpoint = Task(
        "endpoint",
        "Redirect clients and applications to the new server group",
        data={"group": group, "source": source},
    )

    firewall = Task("firewall", "Ensure a server-level firewall is in place for users to connect")
    target_rules = attempt(firewall, lambda: backend.firewall_rules(group.id)) or []
    source_rules = (
        (attempt(firewall, lambda: backend.firewall_rules(source.id)) or []) if source else []
    )
    firewall.data = {
        "source": source_rules,
        "target": target_rules,
        "missing": missing_rules(source_rules, target_rules),
    }
    if not firewall.error:
        firewall.done = not firewall.data["missing"]

    parameters = Task("parameters", "Adjust PostgreSQL server parameters as needed")
    target_params = attempt(parameters, lambda: backend.parameters(group.id)) or []
    source_params = (
        (attempt(parameters, lambda: backend.parameters(source.id)) or []) if source else []
    )
    parameters.data = {"differences": parameter_differences(source_params, target_params)}
    if not parameters.error:
        parameters.done = not parameters.data["differences"]

    logins = Task("logins", "Ensure appropriate logins and database level permissions are in place")
    logins.data = {"roles": attempt(logins, lambda: backend.roles(group.id)) or []}

    alerts = Task("alerts", "Configure alerts, as appropriate")
    alerts.data = {"url": backend.alerts_url(group.id) if backend.has_alerts else ""}

    if source_task.error:
        endpoint.error = f"The source group could not be read: {source_task.error}"
    tasks = [endpoint, firewall, parameters, logins, alerts]
    manual = backend.manual_tasks(group.id)
    if manual:
        tasks.append(
            Task("manual", "Do what a restore does not carry over", data={"links": manual})
        )
    return tasks


def missing_rules(source: list[FirewallRule], target: list[FirewallRule]) -> list[FirewallRule]:
    present = {(rule.start_ip, rule.end_ip) for rule in target}
    return [rule for rule in source if (rule.start_ip, rule.end_ip) not in present]


def parameter_differences(source: list[Parameter], target: list[Parameter]) -> list[dict]:
    """Parameters set differently on the source and the restored group."""
    by_key_source = {(p.scope, p.name): p for p in source}
    by_key_target = {(p.scope, p.name): p for p in target}
    rows = []
    for key in sorted(set(by_key_source) | set(by_key_target)):
        left, right = by_key_source.get(key), by_key_target.get(key)
        left_value = left.value if left else (right.default if right else "")
        right_value = right.value if right else (left.default if left else "")
        if left_value != right_value:
            rows.append(
                {
                    "scope": key[0],
                    "name": key[1],
                    "source": left_value,
                    "target": right_value,
                    "needs_restart": bool(
                        (left and left.needs_restart) or (right and right.needs_restart)
                    ),
                }
            )
    return rows
