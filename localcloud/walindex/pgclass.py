"""Names read from the catalog's own changes in the WAL (PostgreSQL 15 layouts).

A table created and dropped between two passes was never seen by a snapshot of a
running node, but its name went through the WAL: the heap INSERT of its ``pg_class``
row (and of its schema's ``pg_namespace`` row, when that is new too). This module turns
such a record into (OID, name, schema OID, file node, kind). It also follows UPDATEs of
``pg_class`` (TRUNCATE gives a table a new file node, ALTER TABLE RENAME a new name):
an UPDATE on the same page logs only the bytes that changed, so the row versions read
in this pass are kept by position to rebuild the new one.

Only fixed-width columns before the first variable-width one are read, so the offsets
below hold for every row: ``oid``, ``relname`` (NAMEDATALEN 64), ``relnamespace``,
``relfilenode`` and ``relkind`` of ``pg_class``; ``oid`` and ``nspname`` of
``pg_namespace``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .records import Block, decode, tuple_at

PG_CLASS = 1259  # file nodes at initdb (pg_class is a mapped catalog: they stay so)
PG_NAMESPACE = 2615

CLASS_OID, CLASS_NAME, CLASS_NAMESPACE, CLASS_FILENODE, CLASS_KIND = 0, 4, 68, 88, 115
CLASS_WIDTH = CLASS_KIND + 1
NAME_LENGTH = 64

HEAP_HEADER = 5  # xl_heap_header: t_infomask2, t_infomask, t_hoff
TUPLE_HEADER = 23  # SizeofHeapTupleHeader: what comes before the null bitmap
PREFIX_FROM_OLD = 0x20
SUFFIX_FROM_OLD = 0x40


@dataclass(frozen=True)
class ClassRow:
    oid: int
    name: str
    namespace: int
    filenode: int  # 0: no storage of its own (a view, a partitioned table, mapped)
    kind: str


@dataclass(frozen=True)
class NamespaceRow:
    oid: int
    name: str


def _name(data: bytes, offset: int) -> str:
    return data[offset : offset + NAME_LENGTH].split(b"\0", 1)[0].decode("utf-8", "replace")


def class_row(data: bytes) -> ClassRow | None:
    if len(data) < CLASS_WIDTH:
        return None
    (oid,) = struct.unpack_from("<I", data, CLASS_OID)
    (namespace,) = struct.unpack_from("<I", data, CLASS_NAMESPACE)
    (filenode,) = struct.unpack_from("<I", data, CLASS_FILENODE)
    kind = chr(data[CLASS_KIND])
    return ClassRow(oid, _name(data, CLASS_NAME), namespace, filenode, kind)


def namespace_row(data: bytes) -> NamespaceRow | None:
    if len(data) < CLASS_NAME + NAME_LENGTH:
        return None
    (oid,) = struct.unpack_from("<I", data, 0)
    return NamespaceRow(oid, _name(data, CLASS_NAME))


def _logged_tuple(data: bytes) -> bytes:
    """The tuple's data part from a heap record's block data that starts with
    ``xl_heap_header`` (the null bitmap and padding up to ``t_hoff`` skipped)."""
    t_hoff = data[HEAP_HEADER - 1]
    return data[HEAP_HEADER + t_hoff - TUPLE_HEADER :]


class CatalogReader:
    """Row versions of catalog tables read in one stream, by (database, block, offset),
    so that an UPDATE logging only the changed bytes can be rebuilt."""

    def __init__(self) -> None:
        self.versions: dict[tuple[int, int, int], bytes] = {}

    def forget(self, slot: tuple[int, int, int]) -> None:
        """The row version at ``slot`` (database, block, offset) is gone or unknown."""
        self.versions.pop(slot, None)

    def new_tuple(self, word: str, record: bytes) -> tuple[int, bytes] | None:
        """(database, data part) of the row version an INSERT or UPDATE record wrote;
        None when it cannot be told (a compressed page image, an unknown old version)."""
        blocks, main = decode(record)
        if not blocks:
            return None
        target = blocks[0]
        if word.startswith("INSERT"):
            (offset,) = struct.unpack_from("<H", main, 0)
            data = self._from_block(target, offset, target.data)
        else:
            # xl_heap_update: old_xmax, old_offnum, old_infobits_set, flags, new_xmax,
            # new_offnum
            _, old_offset, _, flags, _, offset = struct.unpack_from("<IHBBIH", main, 0)
            old_block = blocks[1] if len(blocks) > 1 else target
            old = self.versions.get((old_block.db, old_block.number, old_offset))
            data = self._updated(target, offset, flags, old)
        if data is None:
            return None
        self.versions[(target.db, target.number, offset)] = data
        return target.db, data

    @staticmethod
    def _from_block(block: Block, offset: int, logged: bytes) -> bytes | None:
        if block.image is not None:
            return tuple_at(block.image, offset)
        if len(logged) < HEAP_HEADER:
            return None
        return _logged_tuple(logged)

    def _updated(self, block: Block, offset: int, flags: int, old: bytes | None) -> bytes | None:
        if block.image is not None or not flags & (PREFIX_FROM_OLD | SUFFIX_FROM_OLD):
            return self._from_block(block, offset, block.data)
        if old is None:
            return None
        logged = block.data
        prefix = suffix = 0
        if flags & PREFIX_FROM_OLD:
            (prefix,) = struct.unpack_from("<H", logged, 0)
            logged = logged[2:]
        if flags & SUFFIX_FROM_OLD:
            (suffix,) = struct.unpack_from("<H", logged, 0)
            logged = logged[2:]
        if prefix + suffix > len(old):
            return None  # not the version this update was made from
        middle = _logged_tuple(logged)
        return old[:prefix] + middle + (old[len(old) - suffix :] if suffix else b"")
