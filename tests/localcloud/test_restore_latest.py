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


def test_latest_is_recorded_and_the_new_group_is_restorable_again(engine: Engine, source):
    restored = engine.restore("src", "truth-latest-2", latest=True)

    earliest, _ = engine.restore_window("truth-latest-2")

    assert earliest <= datetime.now(UTC)
    assert restored.nodes and all(node.backups for node in restored.nodes)
    engine.delete_group("truth-latest-2")
