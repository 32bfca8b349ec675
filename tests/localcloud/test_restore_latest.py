"""Latest restore point: seal, then recover to the end of the archive."""

from __future__ import annotations

from datetime import UTC, datetime

from localcloud import Engine
from localcloud.testing import ticks_all, ticks_until


def test_latest_restore_has_every_row_committed_before_ok_on_every_node(engine: Engine, source):
    ok = datetime.now(UTC)  # the DBA presses OK; the writer keeps committing on every node
    committed = {node.name: ticks_until(engine, "src", node.name, ok) for node in source.nodes}

    restored = engine.restore("src", "truth-latest", latest=True)

    assert restored.status == "Ready" and restored.restored_from == "src"
    assert restored.restore_point >= ok  # when the sealing began, after OK
    for node in restored.nodes:
        rows = ticks_all(engine, "truth-latest", node.name)
        before_ok = committed[node.name]
        assert before_ok and rows[: len(before_ok)] == before_ok, node.name
        # Nothing invented or skipped: the restore is a prefix of the source's commits,
        # and it reaches at least the point it reports.
        assert ticks_all(engine, "src", node.name)[: len(rows)] == rows, node.name
        assert len(rows) >= len(ticks_until(engine, "src", node.name, restored.restore_point))
    engine.delete_group("truth-latest")


def test_latest_through_the_portal_backend(engine: Engine, source):
    """The path the wizard's OK takes: LocalBackend.begin_restore, then wait_restore."""
    from portal.backends.base import RestoreRequest
    from portal.backends.local import LocalBackend

    backend = LocalBackend(root=engine.root, base_port=engine.base_port)
    ok = datetime.now(UTC)
    committed = {node.name: ticks_until(engine, "src", node.name, ok) for node in source.nodes}

    token = backend.begin_restore(RestoreRequest("src", "truth-latest-2", None, choice="latest"))
    result = backend.wait_restore(token, lambda progress: None)

    assert result.point_in_time is not None and result.point_in_time >= ok
    for node in engine.get_group("truth-latest-2").nodes:
        rows = ticks_all(engine, "truth-latest-2", node.name)
        assert rows[: len(committed[node.name])] == committed[node.name], node.name
    # The new group has its own first backup: it can be restored in turn.
    assert engine.restore_window("truth-latest-2")[0] <= datetime.now(UTC)
    engine.delete_group("truth-latest-2")
