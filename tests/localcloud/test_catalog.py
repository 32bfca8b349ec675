"""The catalog survives concurrent writers in separate processes."""

from __future__ import annotations

import multiprocessing

from localcloud.catalog import Catalog


def bump(root: str, times: int) -> None:
    catalog = Catalog(root)
    for _ in range(times):
        with catalog.change() as data:
            data["counter"] = data.get("counter", 0) + 1


def test_concurrent_processes_lose_no_update(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=bump, args=(str(tmp_path), 50)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert Catalog(tmp_path).read()["counter"] == 200
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_failed_change_writes_nothing(tmp_path):
    catalog = Catalog(tmp_path)
    with catalog.change() as data:
        data["kept"] = True
    try:
        with catalog.change() as data:
            data["kept"] = False
            raise RuntimeError("abandon this change")
    except RuntimeError:
        pass

    assert catalog.read()["kept"] is True
