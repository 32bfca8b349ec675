"""The catalog written by several OS processes at once: creates, restores and deletes,
with two races for one name. Afterwards every group is whole and nothing is orphaned."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter

import pytest

from localcloud.proc import port_free
from localcloud.testing import processes_under, temporary_engine

from .catalog_jobs import run
from .conftest import BASE_PORT

pytestmark = pytest.mark.slow
PORTS = BASE_PORT + 200


@pytest.fixture
def engine():
    with temporary_engine(base_port=PORTS) as engine:
        engine.create_group("cc-src", workers=1)
        engine.create_group("cc-old1", workers=0)
        engine.create_group("cc-old2", workers=0)
        yield engine
    assert processes_under(engine.root) == []


def test_concurrent_creates_restores_and_deletes_leave_a_consistent_catalog(engine):
    jobs = [
        ("create", "cc-a"),
        ("create", "cc-b"),
        ("create", "cc-dup"),
        ("create", "cc-dup"),
        ("restore", "cc-r1"),
        ("restore", "cc-r2"),
        ("restore", "cc-race"),
        ("create", "cc-race"),
        ("delete", "cc-old1"),
        ("delete", "cc-old2"),
    ]
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(len(jobs)) as pool:
        results = pool.starmap(
            run, [(str(engine.root), PORTS, action, name, "cc-src") for action, name in jobs]
        )

    outcomes: dict[str, list[str]] = {}
    for name, outcome in results:
        outcomes.setdefault(name, []).append(outcome)
    for name in ("cc-a", "cc-b", "cc-r1", "cc-r2", "cc-old1", "cc-old2"):
        assert outcomes[name] == ["ok"], (name, outcomes[name])
    for name in ("cc-dup", "cc-race"):
        assert sorted(outcomes[name]) == [
            f"NameTaken: A server group named '{name}' already exists.",
            "ok",
        ]

    catalog = engine.catalog.read()["groups"]
    names = {"cc-src", "cc-a", "cc-b", "cc-dup", "cc-r1", "cc-r2", "cc-race"}
    assert set(catalog) == names
    assert {group["status"] for group in catalog.values()} == {"Ready"}
    assert set(os.listdir(engine.root / "groups")) == names
    assert not [path.name for path in engine.root.iterdir() if path.name.endswith(".tmp")]
    ports = Counter(node["port"] for group in catalog.values() for node in group["nodes"])
    assert max(ports.values()) == 1, ports
    data_dirs = set()
    for name, group in catalog.items():
        assert sorted(os.listdir(engine.group_dir(name))) == sorted(
            n["name"] for n in group["nodes"]
        )
        for node in engine.nodes(group):
            assert node.is_running(), node.label
            assert not port_free(node.port), node.label
            data_dirs.add(str(node.data))
        with engine.connect(name) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    for pid in processes_under(engine.root):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except FileNotFoundError:
            continue  # ended since the listing (a backend closing, an archive command)
        assert any(cwd == d or cwd.startswith(d + "/") for d in data_dirs), cwd
