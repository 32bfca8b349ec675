"""A restore's estimate in a DBA's words: before OK (step 2, ``restore --dry-run``) and
beside the actual time once the operation has ended.

The figures come from the backend (``Backend.restore_estimate``); an estimate that
cannot be made never stops a restore: the wizard says why, the operation keeps none.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.template.defaultfilters import filesizeformat

from portal.backends import BackendError
from portal.backends.base import Backend, NodeEstimate, RestoreEstimate
from portal.instants import utc_text

from .models import RestoreOperation
from .templatetags.restore_tags import duration

logger = logging.getLogger(__name__)


def restore_estimate_read(
    backend: Backend, group_id: str, choice: str, point: datetime | None
) -> tuple[RestoreEstimate | None, str]:
    """(the estimate or None, why there is none)."""
    try:
        return backend.restore_estimate(group_id, choice, point), ""
    except BackendError as error:
        return None, f"No estimate: {error.message}"


def estimate_context(context: dict, choice: str, point: datetime | None) -> dict:
    """Step 2's estimate of restoring the wizard's group with ``choice`` (to ``point``
    when custom: a custom choice without a valid point has none yet)."""
    context["estimate"], context["estimate_problem"] = None, ""
    if choice == "custom" and point is None:
        return context
    context["estimate"], context["estimate_problem"] = restore_estimate_read(
        context["backend"], context["group"].id, choice, point
    )
    return context


def wal_words(node_or_estimate: NodeEstimate | RestoreEstimate, wal_bytes: int) -> str:
    to_end = (
        node_or_estimate.to_archive_end
        if isinstance(node_or_estimate, NodeEstimate)
        else any(node.to_archive_end for node in node_or_estimate.nodes)
    )
    words = f"{filesizeformat(wal_bytes)} of WAL to replay"
    return words + (" (to the end of the archive)" if to_end else "")


def summary(estimate: RestoreEstimate) -> str:
    """``About 40 s: 1.2 GB to unpack, 310 MB of WAL to replay``."""
    if estimate.seconds is None:
        return estimate.message
    return (
        f"About {duration(estimate.seconds)}: {filesizeformat(estimate.unpack_bytes)} to "
        f"unpack, {wal_words(estimate, estimate.wal_bytes)}"
    )


def node_words(node: NodeEstimate) -> str:
    """``coordinator: backup 20261125T… (ended … UTC), 400 MB to unpack, 100 MB of WAL
    to replay, about 12 s``."""
    return (
        f"{node.node}: backup {node.backup} (ended {utc_text(node.backup_end)}), "
        f"{filesizeformat(node.unpack_bytes or 0)} to unpack, "
        f"{wal_words(node, node.wal_bytes or 0)}, about {duration(node.seconds)}"
    )


def operation_estimate_store(*, operation_id: int, backend: Backend) -> None:
    """Keep the estimate of the restore about to run beside it, for "Estimated · took"."""
    operation = RestoreOperation.objects.get(pk=operation_id)
    if operation.estimate:
        return  # a resumed restore keeps the estimate made when it first started
    try:
        estimate, problem = restore_estimate_read(
            backend, operation.source_id, operation.choice, operation.requested_point
        )
    except Exception:  # an estimate must never stop the restore it is about
        logger.exception("restore operation %s: the estimate failed", operation_id)
        return
    if estimate is None:
        if problem:
            logger.info("restore operation %s: %s", operation_id, problem)
        return
    RestoreOperation.objects.filter(pk=operation_id).update(estimate=estimate.to_json())


def estimate_beside_actual(operation: RestoreOperation) -> str:
    """``Estimated 40 s · took 37 s`` once the restore succeeded; ``Estimated 40 s``
    while it runs; "" without an estimate with a figure."""
    stored = operation.estimate or {}
    if stored.get("seconds") is None:
        return ""
    words = f"Estimated {duration(stored['seconds'])}"
    if (
        operation.status == RestoreOperation.Status.SUCCEEDED
        and operation.started_at
        and operation.finished_at
    ):
        took = (operation.finished_at - operation.started_at).total_seconds()
        words += f" · took {duration(took)}"
    return words
