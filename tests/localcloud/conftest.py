"""Real PostgreSQL for the engine's tests: one root for the session, one source group
with a writer committing on every node, shared by the tests that only read it."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import Engine
from localcloud.testing import Writer, create_ticks, processes_under, temporary_engine
from tests.ports import shifted_port

# Far from the portal's default range, so a running portal is not disturbed.
BASE_PORT = shifted_port(int(os.environ.get("LOCALCLOUD_TEST_BASE_PORT", "26432")))


@pytest.fixture(scope="session")
def engine():
    with temporary_engine(base_port=BASE_PORT) as engine:
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture(scope="session")
def source(engine: Engine):
    """Group 'src' (coordinator + 2 workers) with a writer; its oldest backup is expired
    so that the earliest restore point falls while the writer runs."""
    engine.create_group("src", workers=2, setup=create_ticks)
    writer = Writer(engine, "src").start()
    try:
        writer.wait_rows(20)
        engine.backup_group("src")
        writer.wait_rows(40)
        Engine(engine.root, retention=timedelta(0), base_port=BASE_PORT).expire("src")
        # Tests restore to "one second ago": the window must already be that wide.
        while datetime.now(UTC) - engine.restore_window("src")[0] < timedelta(seconds=1.5):
            time.sleep(0.05)
        yield engine.get_group("src")
    finally:
        writer.stop()


@pytest.fixture
def unchanged_source(engine: Engine, source):
    """The source's catalog record before and after a test; the test may not change it."""
    before = engine.catalog.read()["groups"]["src"]
    yield
    assert engine.catalog.read()["groups"]["src"] == before
    assert engine.get_group("src").status == "Ready"
