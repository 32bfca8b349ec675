"""The demo group ``citus-demo`` and a gentle writer that makes restore points differ."""

from __future__ import annotations

import logging
import threading

import psycopg

from .engine import Engine
from .errors import LocalCloudError, NotFound

log = logging.getLogger("localcloud.demo")

DEMO = "citus-demo"
COMPANIES = ["Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Litware"]

# The Citus tutorial's schema spread by hand: companies on the coordinator (reference
# data), each worker holding the campaigns of its share of companies, page views everywhere.
PAGE_VIEWS = """
CREATE TABLE page_views (
    id bigserial PRIMARY KEY,
    company_id int NOT NULL,
    url text NOT NULL,
    viewed_at timestamptz NOT NULL DEFAULT now()
)"""


def _setup(workers: int):
    def setup(node: str, conn: psycopg.Connection) -> None:
        conn.execute(PAGE_VIEWS)
        if node == "coordinator":
            conn.execute("CREATE TABLE companies (id int PRIMARY KEY, name text NOT NULL)")
            for index, name in enumerate(COMPANIES, 1):
                conn.execute("INSERT INTO companies VALUES (%s, %s)", (index, name))
        if node != "coordinator" or workers == 0:
            share = int(node.split("-")[1]) if node != "coordinator" else 1
            conn.execute(
                "CREATE TABLE campaigns (id serial PRIMARY KEY, company_id int NOT NULL,"
                " name text NOT NULL, budget numeric(12, 2) NOT NULL)"
            )
            for company in range(1, len(COMPANIES) + 1):
                if workers == 0 or company % workers == share % workers:
                    conn.execute(
                        "INSERT INTO campaigns (company_id, name, budget) VALUES (%s, %s, %s)",
                        (company, f"Spring sale {company}", 1000 * company),
                    )

    return setup


def ensure_demo(engine: Engine, workers: int = 2) -> bool:
    """Create ``citus-demo`` unless it exists; True when it was created now."""
    try:
        engine.get_group(DEMO)
        return False
    except NotFound:
        pass
    engine.create_group(DEMO, workers, tags={"purpose": "demo"}, setup=_setup(workers))
    return True


def write_once(engine: Engine, name: str = DEMO) -> int:
    """One page view on every running node of the group; returns how many were written."""
    group = engine.get_group(name)
    written = 0
    for node in group.nodes:
        if not node.running:
            continue
        with engine.connect(name, node.name) as conn:
            conn.execute(
                "INSERT INTO page_views (company_id, url) VALUES (%s, %s)",
                (written % len(COMPANIES) + 1, f"/{node.name}/home"),
            )
        written += 1
    return written


def writer(engine: Engine, stop: threading.Event, every: float = 15.0, name: str = DEMO) -> None:
    """Write a few rows a minute on every node until ``stop`` is set."""
    while not stop.is_set():
        try:
            write_once(engine, name)
        except (LocalCloudError, psycopg.Error) as error:
            log.warning("demo writer: %s", error)
        stop.wait(every)
