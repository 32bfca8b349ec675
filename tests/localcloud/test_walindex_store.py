"""The WAL event index's file, opened by many at once: the nodes of a group are indexed
in parallel, and the agent, the web process and the CLI may open it at the same moment."""

import threading

import pytest

from localcloud.walindex import store


@pytest.mark.parametrize("attempt", range(20))
def test_a_new_index_file_opened_by_many_threads_at_once_opens_for_each(tmp_path, attempt):
    root = tmp_path / "root"
    start, errors, modes = threading.Barrier(12), [], []

    def open_it() -> None:
        start.wait()
        try:
            conn = store.connect(root)
            try:
                with store.transaction(conn):  # and writes at once, as indexing nodes do
                    conn.execute("CREATE TABLE IF NOT EXISTS probe (n integer)")
                    conn.execute("INSERT INTO probe VALUES (1)")
                modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
            finally:
                conn.close()
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert modes == ["wal"] * 12
    assert (store.index_path(root).stat().st_mode & 0o777) == 0o600
