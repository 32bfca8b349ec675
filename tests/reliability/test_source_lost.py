"""The source stopped, or deleted, while its restore replays WAL: the restore completes
from the archive with every row, or fails with a clear message and leaves nothing."""

from __future__ import annotations

import threading
import traceback
from datetime import UTC, datetime

import pytest

from localcloud import Engine, LocalCloudError
from localcloud.testing import create_ticks, processes_under

from .conftest import fill, fingerprint, nothing_left_of, wait_for

pytestmark = pytest.mark.slow


class Restore(threading.Thread):
    """engine.restore in a thread; its result or error is kept for the test, and
    ``recovering`` is set once every restored node has started in recovery."""

    def __init__(self, engine: Engine, source: str, target: str, point: datetime):
        super().__init__()
        self.args_ = (engine, source, target, point)
        self.error: LocalCloudError | None = None
        self.crash: BaseException | None = None  # anything else is a bug
        self.recovering = threading.Event()
        self.started_nodes: set[str] = set()

    def progress(self, phase: str, node: str | None, percent: int) -> None:
        # 50: the node's server has started on the unpacked backup and replays WAL.
        if (phase, percent) == ("restoring", 50):
            self.started_nodes.add(node)
            if self.started_nodes == {"coordinator", "worker-1"}:
                self.recovering.set()

    def run(self) -> None:
        engine, source, target, point = self.args_
        try:
            engine.restore(source, target, point, self.progress)
        except LocalCloudError as error:
            self.error = error
        except BaseException as error:
            self.crash = error


def restore_while(engine: Engine, target: str, fault) -> tuple[Restore, list[int], dict]:
    engine.create_group("sl-src", workers=1, setup=create_ticks)
    fill(engine, "sl-src")
    expected = fingerprint(engine, "sl-src")
    restore = Restore(engine, "sl-src", target, datetime.now(UTC))
    restore.start()
    # Told by the restore itself, not seen by polling: a short replay cannot be missed.
    wait_for(
        lambda: restore.recovering.is_set() or not restore.is_alive(),
        timeout=300,
        what="the restored nodes to start replaying WAL",
    )
    assert restore.recovering.is_set(), restore.error or restore.crash
    ports = [n["port"] for n in engine.catalog.read()["groups"][target]["nodes"]]
    fault()
    restore.join(timeout=300)
    assert not restore.is_alive()
    assert restore.crash is None, "".join(traceback.format_exception(restore.crash))
    return restore, ports, expected


def test_source_stopped_during_recovery_restores_from_the_archive(small_engine):
    engine = small_engine
    restore, _, expected = restore_while(engine, "sl-stop", lambda: engine.stop_group("sl-src"))

    assert restore.error is None, restore.error
    assert engine.get_group("sl-src").status == "Stopped"
    assert fingerprint(engine, "sl-stop") == expected
    engine.start_group("sl-src")
    assert fingerprint(engine, "sl-src") == expected
    engine.restore("sl-src", "sl-stop-again", datetime.now(UTC))
    assert fingerprint(engine, "sl-stop-again") == expected


def test_source_deleted_during_recovery_completes_whole_or_fails_clearly(small_engine):
    engine = small_engine
    restore, ports, expected = restore_while(
        engine, "sl-del", lambda: engine.delete_group("sl-src")
    )

    assert "sl-src" not in engine.catalog.read()["groups"]
    if restore.error is None:
        assert fingerprint(engine, "sl-del") == expected
    else:
        assert restore.error.message.startswith(
            "The restore to 'sl-del' failed and was rolled back"
        )
        nothing_left_of(engine, "sl-del", ports)
        assert processes_under(engine.root) == []
