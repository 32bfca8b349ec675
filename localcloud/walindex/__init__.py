"""The WAL event index: destructive transactions and activity found in archived WAL.

Each node's archive is read with ``pg_waldump``, incrementally, into an SQLite file
beside the catalog (``events.sqlite3``). Per (group, node, timeline) the index keeps
where the last pass stopped, the last commit time seen and the partial aggregates of
transactions still open there, so that a pass reads only WAL archived since the last
one and a transaction spanning two passes is counted once.

What a pass finds, per committed transaction (subtransactions folded into their
parent):

* DROP TABLE: the commit record drops a table's files (``rels:``) and the table's own
  OID is among the relations whose statistics it drops (``dropped stats: 2/DB/OID``).
* TRUNCATE: the files are dropped and new storage was created (``Storage CREATE``),
  but the relation lives on (its OID is not dropped). A rewrite (VACUUM FULL, CLUSTER,
  ALTER TABLE ... TYPE, REFRESH MATERIALIZED VIEW) also swaps storage; it is told apart
  by the transient relation it creates and drops in the same transaction, and a copy
  (SET TABLESPACE, REINDEX) by new storage filled only with page images. Neither is
  reported.
* DELETE and UPDATE: at least ``engine.large_change_rows`` heap DELETE (resp. UPDATE
  and HOT_UPDATE) records on user tables in one transaction.

Names come from a relation map per (group, node): (database OID, file node) and
(database OID, relation OID) -> schema, name, kind, snapshotted from every running node
on each pass and never forgotten, and learned from the catalog's own changes in the WAL
as it is read (the ``pg_class`` and ``pg_namespace`` rows a transaction wrote), so that
a table created and dropped between two passes is named as it was at the event. A
dropped table is listed once: its TOAST table and indexes are known as such and left
out. Each event's "just before" is the instant before its commit, for every node.

The package, by what each part does:

* ``waldump``: reading pg_waldump's output (records into events and activity);
* ``store``: the SQLite file, its schema, the positions and the name maps;
* ``indexer``: a pass over a group's archives (pg_waldump run batch by batch);
* ``queries``: the read side, what the restore wizard's timeline asks for;
* ``background``: passes a page asks for, run in a thread without blocking it;
* ``records`` and ``pgclass``: raw WAL records, and the names in the catalog's changes.

It imports no engine: the engine hands it the group's nodes and its settings.
"""

from . import background
from .indexer import ArchivedNode, index_group
from .queries import read_group
from .store import forget, index_path

__all__ = ["ArchivedNode", "background", "forget", "index_group", "index_path", "read_group"]
