"""Progress a backend reports from its own threads reaches the operation's row, and
leaves no database connection open in those threads."""

import threading

import pytest
from django.db import connection

from portal.backends.base import Progress
from restore_wizard.services.runner import ProgressWriter
from tests.wizard.test_operation_progress_and_cancel import operation

pytestmark = pytest.mark.django_db(transaction=True)


def test_progress_from_a_backends_thread_is_written_and_its_connection_closed(operator):
    row = operation(operator)
    writer = ProgressWriter(row.pk)
    left_open = []

    def report(node: str, percent: int) -> None:
        writer(Progress(phase=f"replaying {node}", nodes={node: percent}))
        left_open.append(connection.connection is not None)

    for node, percent in (("coordinator", 60), ("worker-1", 40)):
        thread = threading.Thread(target=report, args=(node, percent))
        thread.start()
        thread.join()

    row.refresh_from_db()
    assert row.node_progress == {"coordinator": 60, "worker-1": 40}
    assert row.phase == "replaying worker-1"
    assert left_open == [False, False]
    # The writer's own thread keeps its connection, as Django does for a request.
    writer(Progress(phase="backing up", nodes={"coordinator": 100}))
    assert connection.connection is not None
