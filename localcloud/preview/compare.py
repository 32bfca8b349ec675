"""Compare with now: the tables of a preview at T beside the same tables in the running
source node, so a DBA sees what a restore to T brings back (tables dropped since T, rows
deleted since) and what it loses (tables created since T, rows added since)."""

from __future__ import annotations

from ..model import PreviewTable, TableComparison


def compare(at_point: list[PreviewTable], now: list[PreviewTable]) -> list[TableComparison]:
    """Every table of either list once, by schema and name, in that order."""
    before = {(table.schema, table.name): table for table in at_point}
    after = {(table.schema, table.name): table for table in now}
    return [
        TableComparison(schema, name, before.get((schema, name)), after.get((schema, name)))
        for schema, name in sorted(before.keys() | after.keys())
    ]
