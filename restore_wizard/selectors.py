"""Reads for the wizard's pages: operation phases and the post-restore checklist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import Q

from portal.backends import BackendError
from portal.backends.base import Backend, FirewallRule, Parameter, ServerGroup
from portal.services import may_restore

from .models import PostRestoreMark, RestoreOperation


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


def running_restores_for(user):
    """The restores the bell shows this user: every running one to Restore operators
    (a restore started from the command line included), a viewer's own to others."""
    active = RestoreOperation.objects.filter(status__in=RestoreOperation.ACTIVE).select_related(
        "created_by"
    )
    if not may_restore(user):
        active = active.filter(created_by=user)
    return list(active.order_by("created_at")[:10])


def operation_phases(operation: RestoreOperation) -> list[tuple[str, str]]:
    """The coarse steps of any restore, each "done", "current" or "todo"."""
    steps = ["Queued", "Restoring", "Ready"]
    if operation.status == RestoreOperation.Status.QUEUED:
        position = 0
    elif operation.status == RestoreOperation.Status.RUNNING:
        position = 1
    elif operation.status == RestoreOperation.Status.SUCCEEDED:
        position = 3
    elif operation.status in (
        RestoreOperation.Status.CANCELLING,
        RestoreOperation.Status.CANCELLED,
    ):
        return [("Queued", "done"), ("Restoring", "done"), ("Cancelled", "current")]
    else:
        return [("Queued", "done"), ("Restoring", "done"), ("Failed", "current")]
    return [
        (step, "done" if index < position else "current" if index == position else "todo")
        for index, step in enumerate(steps)
    ]


class State(StrEnum):
    DONE = "done"
    TODO = "todo"


@dataclass
class Task:
    """One post-restore task: Done only when nothing is left to do, by the portal's own
    check or by a DBA's mark where the portal cannot check (``markable``)."""

    key: str
    title: str
    state: State = State.TODO
    summary: str = ""  # what the state rests on, in words
    markable: bool = False  # the DBA's mark decides (the portal cannot check this)
    mark: PostRestoreMark | None = None
    error: str = ""
    data: dict = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state is State.DONE

    def decide(self, checked_done: bool, summary: str) -> None:
        """The portal's own check (a DBA's mark is applied afterwards, where allowed)."""
        self.summary = summary
        self.state = State.DONE if checked_done else State.TODO


def attempt(task: Task, read):
    try:
        return read()
    except BackendError as error:
        task.error = error.message
        return None


def count_noun(count: int, singular: str, plural: str | None = None) -> str:
    """``1 firewall rule``, ``2 firewall rules``."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def post_restore_tasks(backend: Backend, group: ServerGroup) -> list[Task]:
    """The seed's five post-restore tasks, each with its state and the words for it."""
    marks = {
        mark.task: mark
        for mark in PostRestoreMark.objects.filter(backend=backend.key, group_id=group.id)
    }
    source = None
    source_task = Task("source", "")
    if group.restored_from:
        source = attempt(source_task, lambda: backend.find_server_group(group.restored_from))
    tasks = [
        endpoint_task(group, source),
        firewall_task(backend, group, source),
        parameters_task(backend, group, source),
        logins_task(backend, group, source),
        alerts_task(backend, group),
    ]
    manual = backend.manual_tasks(group.id)
    if manual:
        tasks.append(
            Task(
                "manual",
                "Do what a restore does not carry over",
                markable=True,
                summary="The portal cannot check these: mark this done once they are done.",
                data={"links": manual},
            )
        )
    for task in tasks:
        task.mark = marks.get(task.key)
        if task.markable and task.mark is not None and not task.done:
            task.state = State.DONE
    if source_task.error:
        tasks[0].error = f"The source group could not be read: {source_task.error}"
    return tasks


def endpoint_task(group: ServerGroup, source: ServerGroup | None) -> Task:
    task = Task(
        "endpoint",
        "Redirect clients and applications to the new server group",
        markable=True,
        data={"group": group, "source": source},
    )
    task.summary = "Only you know where your clients connect: mark this done once they use it."
    return task


def firewall_task(backend: Backend, group: ServerGroup, source: ServerGroup | None) -> Task:
    task = Task("firewall", "Ensure a server-level firewall is in place for users to connect")
    target_rules = attempt(task, lambda: backend.firewall_rules(group.id))
    source_rules = attempt(task, lambda: backend.firewall_rules(source.id)) if source else []
    if task.error:
        return task
    missing = missing_rules(source_rules, target_rules)
    task.data = {"source": source_rules, "target": target_rules, "missing": missing}
    if missing:
        task.summary = (
            f"A restore does not copy firewall rules: {count_noun(len(missing), 'rule')} "
            f"of {group.restored_from} {'is' if len(missing) == 1 else 'are'} not on "
            f"{group.name} yet."
        )
    elif source_rules:
        task.summary = (
            f"{group.name} has every firewall rule of {group.restored_from} "
            f"({count_noun(len(source_rules), 'rule')})."
        )
    elif target_rules:
        task.summary = (
            f"{group.name} has {count_noun(len(target_rules), 'firewall rule')} of its own; "
            f"{group.restored_from or 'its source'} has none to copy."
        )
    else:
        # Nothing to copy is not the same as a firewall in place: the DBA decides.
        task.markable = True
        task.summary = (
            "Neither group has a firewall rule: there is nothing to copy. Add rules if "
            "clients must connect from other hosts, then mark this task done."
        )
    task.state = State.DONE if task.data["target"] and not missing else State.TODO
    return task


def parameters_task(backend: Backend, group: ServerGroup, source: ServerGroup | None) -> Task:
    task = Task("parameters", "Adjust PostgreSQL server parameters as needed")
    target_params = attempt(task, lambda: backend.parameters(group.id))
    source_params = attempt(task, lambda: backend.parameters(source.id)) if source else []
    if task.error:
        return task
    differences = parameter_differences(source_params, target_params or [])
    task.data = {"differences": differences}
    if differences:
        task.decide(
            False,
            f"A restore does not copy server parameters: "
            f"{count_noun(len(differences), 'parameter')} "
            f"{'differs' if len(differences) == 1 else 'differ'} from "
            f"{group.restored_from or 'the source'}.",
        )
    else:
        task.decide(
            True,
            f"The server parameters of {group.name} match those of "
            f"{group.restored_from or 'the source'}.",
        )
    return task


def logins_task(backend: Backend, group: ServerGroup, source: ServerGroup | None) -> Task:
    task = Task(
        "logins",
        "Ensure appropriate logins and database level permissions are in place",
        markable=True,
    )
    roles = attempt(task, lambda: backend.roles(group.id))
    task.data = {"roles": roles or []}
    source_roles = attempt(task, lambda: backend.roles(source.id)) if source else None
    if roles is None or source_roles is None:
        task.decide(False, "Check the roles and their grants, then mark this task done.")
        return task
    missing = sorted(set(source_roles) - set(roles))
    task.data["missing"] = missing
    if missing:
        task.decide(
            False,
            f"{count_noun(len(missing), 'role')} of {group.restored_from} "
            f"{'is' if len(missing) == 1 else 'are'} missing here (created after the "
            "restore point): create them, or mark this task done if they are not needed.",
        )
    else:
        task.decide(
            True,
            f"Every role of {group.restored_from} exists on {group.name} (checked); their "
            "passwords are those of the restore point.",
        )
    return task


def alerts_task(backend: Backend, group: ServerGroup) -> Task:
    task = Task("alerts", "Configure alerts, as appropriate", markable=True)
    task.data = {"url": backend.alerts_url(group.id) if backend.has_alerts else ""}
    task.summary = "The portal cannot see your alert rules: mark this done once they are set."
    return task


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
