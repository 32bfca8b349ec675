"""pgbench's tables loaded into every node of a localcloud group at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from localcloud import Engine


def load_pgbench(engine: Engine, name: str, scale: int) -> None:
    """``pgbench -i -s scale`` on every node of group ``name``, the nodes in parallel."""
    group = engine.get_group(name)
    pg = engine.pg_for(engine.catalog.read()["groups"][name])

    def load(node) -> None:
        # As the group's OS user: only it (and root) can open the group's socket folder.
        pg.run(
            f"{name}/{node.name}",
            "pgbench",
            "-i",
            "-q",
            "-s",
            str(scale),
            "-h",
            node.socket_dir,
            "-p",
            str(node.port),
            "-U",
            "postgres",
            group.database,
        )

    with ThreadPoolExecutor(len(group.nodes)) as pool:
        list(pool.map(load, group.nodes))
