"""Drills on real localcloud groups: one throwaway root per module, the portal's
backend configured on it, and the checks that a scratch group left nothing behind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from localcloud import Engine
from localcloud.proc import port_free
from localcloud.testing import processes_under, temporary_engine
from tests.ports import shifted_port

BASE_PORT = shifted_port(35432)


def make_orders(node: str, conn) -> None:
    conn.execute("CREATE TABLE orders (id bigserial PRIMARY KEY, node text NOT NULL, total int)")
    conn.execute("CREATE INDEX orders_total ON orders (total)")
    conn.execute(
        "INSERT INTO orders (node, total) SELECT %s, g FROM generate_series(1, 500) g", (node,)
    )


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with temporary_engine(base_port=BASE_PORT) as engine:
        yield engine
    assert processes_under(engine.root) == []


@pytest.fixture
def local_cloud(settings, engine) -> Engine:
    settings.PORTAL_BACKENDS = {
        "local": {
            "BACKEND": "portal.backends.local.LocalBackend",
            "OPTIONS": {"root": str(engine.root), "base_port": BASE_PORT},
        }
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return engine


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it is truthy (its value is returned); past ``timeout``
    seconds, fail saying what did not happen instead of going on regardless."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return value


def scratch_ports(engine: Engine, name: str) -> list[int]:
    group = engine.catalog.read()["groups"].get(name)
    return [node["port"] for node in group["nodes"]] if group else []


def nothing_left(engine: Engine, name: str, ports: list[int]) -> None:
    """No record, folder, process or port of the group ``name`` remains."""
    assert name not in engine.catalog.read()["groups"]
    assert not engine.group_dir(name).exists()
    assert processes_under(engine.group_dir(name)) == []
    assert all(port_free(port) for port in ports), ports
