"""Raw WAL records read from segment files, for the few records whose content matters.

pg_waldump describes every record but prints none of its data; the names of relations
are in the data of the catalog's own changes (a heap INSERT or UPDATE of ``pg_class``).
For those records only, ``SegmentFiles.record`` reads the bytes at the LSN pg_waldump
named, across page and segment boundaries, and ``decode`` splits them into block
references (page image, block data) and main data, as PostgreSQL 15 writes them
(``access/xlogrecord.h``). Only what the decoder needs is kept.

The segment files were decompressed by the node's OS user: they are read without
following links, and only when they are that user's regular files.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .. import archive
from ..node import UnsafeFile, read_owned

XLOG_BLCKSZ = 8192  # WAL page size
BLCKSZ = 8192  # data page size
SHORT_PAGE_HEADER = 24  # MAXALIGN(sizeof(XLogPageHeaderData))
LONG_PAGE_HEADER = 40  # the first page of a segment
RECORD_HEADER = 24  # sizeof(XLogRecord)
MAX_RECORD = 1 << 20  # a catalog change is far smaller; more is a damaged length

BLOCK_ID_DATA_SHORT = 255
BLOCK_ID_DATA_LONG = 254
BLOCK_ID_ORIGIN = 253
BLOCK_ID_TOPLEVEL_XID = 252
MAX_BLOCK_ID = 32

HAS_IMAGE = 0x10
HAS_DATA = 0x20
SAME_REL = 0x80

IMAGE_HAS_HOLE = 0x01
IMAGE_COMPRESS_PGLZ = 0x04
IMAGE_COMPRESSED = 0x04 | 0x08 | 0x10  # pglz, lz4, zstd


@dataclass
class Block:
    """One block reference of a record."""

    db: int
    relfilenode: int
    number: int
    image: bytes | None = None  # the page as it was after the change, when logged
    data: bytes = b""


class BadRecord(ValueError):
    """The bytes at an LSN are not a record this decoder understands."""


class SegmentFiles:
    """The decompressed segments of one timeline in one directory."""

    def __init__(self, directory: Path, timeline: int, owner: int | None):
        self.directory = directory
        self.timeline = timeline
        self.owner = owner
        self.pages: dict[int, bytes] = {}

    def _page(self, position: int) -> bytes | None:
        start = position - position % XLOG_BLCKSZ
        page = self.pages.get(start)
        if page is None:
            name = archive.wal_file_name(self.timeline, start)
            try:
                page = read_owned(
                    self.directory / name, self.owner, XLOG_BLCKSZ, start % archive.SEGMENT_SIZE
                )
            except (FileNotFoundError, UnsafeFile):
                return None
            if len(page) != XLOG_BLCKSZ:
                return None
            self.pages[start] = page
        return page

    def _bytes(self, lsn: int, count: int) -> bytes | None:
        """``count`` bytes of record content from ``lsn``, skipping page headers."""
        out = bytearray()
        position = lsn
        while len(out) < count:
            within = position % XLOG_BLCKSZ
            if within == 0:
                first = position % archive.SEGMENT_SIZE == 0
                position += LONG_PAGE_HEADER if first else SHORT_PAGE_HEADER
                continue
            page = self._page(position)
            if page is None:
                return None
            take = min(count - len(out), XLOG_BLCKSZ - within)
            out += page[within : within + take]
            position += take
        return bytes(out)

    def record(self, lsn: int) -> bytes | None:
        """The whole record at ``lsn`` (None: its segment is not in the directory)."""
        header = self._bytes(lsn, RECORD_HEADER)
        if header is None:
            return None
        (total,) = struct.unpack_from("<I", header)
        if not RECORD_HEADER <= total <= MAX_RECORD:
            raise BadRecord(f"record length {total}")
        return self._bytes(lsn, total)


def decode(record: bytes) -> tuple[list[Block], bytes]:
    """The record's block references (in block id order) and its main data."""
    position = RECORD_HEADER
    blocks: list[tuple[Block, int, int, int, int]] = []  # block, image/data lengths, hole
    main_length = 0
    rel = (0, 0)
    while position < len(record):
        block_id = record[position]
        position += 1
        if block_id == BLOCK_ID_DATA_SHORT:
            main_length = record[position]
            position += 1
            break
        if block_id == BLOCK_ID_DATA_LONG:
            (main_length,) = struct.unpack_from("<I", record, position)
            position += 4
            break
        if block_id == BLOCK_ID_ORIGIN:
            position += 2
            continue
        if block_id == BLOCK_ID_TOPLEVEL_XID:
            position += 4
            continue
        if block_id > MAX_BLOCK_ID:
            raise BadRecord(f"block id {block_id}")
        fork_flags, data_length = struct.unpack_from("<BH", record, position)
        position += 3
        image_length = hole_offset = hole_length = info = 0
        if fork_flags & HAS_IMAGE:
            image_length, hole_offset, info = struct.unpack_from("<HHB", record, position)
            position += 5
            if info & IMAGE_HAS_HOLE and info & IMAGE_COMPRESSED:
                (hole_length,) = struct.unpack_from("<H", record, position)
                position += 2
            elif info & IMAGE_HAS_HOLE:
                hole_length = BLCKSZ - image_length
        if not fork_flags & SAME_REL:
            _, db, relfilenode = struct.unpack_from("<III", record, position)
            rel = (db, relfilenode)
            position += 12
        (number,) = struct.unpack_from("<I", record, position)
        position += 4
        block = Block(rel[0], rel[1], number)
        blocks.append((block, image_length, data_length, hole_offset, (hole_length << 8) | info))
    found = []
    for block, image_length, data_length, hole_offset, packed in blocks:
        hole_length, info = packed >> 8, packed & 0xFF
        if image_length:
            image = record[position : position + image_length]
            position += image_length
            block.image = page_image(image, hole_offset, hole_length, info)
        if data_length:
            block.data = record[position : position + data_length]
            position += data_length
        found.append(block)
    main = record[position : position + main_length]
    if len(main) != main_length:
        raise BadRecord("main data cut short")
    return found, main


def page_image(image: bytes, hole_offset: int, hole_length: int, info: int) -> bytes | None:
    """The page a full-page image holds; None when it is compressed other than with
    pglz (lz4 and zstd need libraries the engine does not carry)."""
    if info & IMAGE_COMPRESSED:
        if not info & IMAGE_COMPRESS_PGLZ:
            return None
        image = pglz_decompress(image, BLCKSZ - hole_length)
        if image is None:
            return None
    page = image[:hole_offset] + bytes(hole_length) + image[hole_offset:]
    return page if len(page) == BLCKSZ else None


def pglz_decompress(source: bytes, size: int) -> bytes | None:
    """PostgreSQL's pglz format (``common/pg_lzcompress.c``): a control byte for each
    8 items, each a literal byte or a (length, offset) copy from the output so far."""
    out = bytearray()
    position = 0
    while position < len(source) and len(out) < size:
        control = source[position]
        position += 1
        for bit in range(8):
            if position >= len(source) or len(out) >= size:
                break
            if control & (1 << bit):
                if position + 1 >= len(source):
                    return None
                first, second = source[position], source[position + 1]
                length = (first & 0x0F) + 3
                offset = ((first & 0xF0) << 4) | second
                position += 2
                if length == 18:
                    if position >= len(source):
                        return None
                    length += source[position]
                    position += 1
                if offset == 0 or offset > len(out):
                    return None
                for _ in range(length):
                    out.append(out[-offset])
            else:
                out.append(source[position])
                position += 1
    return bytes(out) if len(out) == size else None


def tuple_at(page: bytes, offset_number: int) -> bytes | None:
    """The data part (from ``t_hoff``) of the heap tuple at ``offset_number``."""
    slot = 24 + 4 * (offset_number - 1)  # line pointers follow the page header
    if offset_number < 1 or slot + 4 > len(page):
        return None
    (item,) = struct.unpack_from("<I", page, slot)
    start, flags, length = item & 0x7FFF, (item >> 15) & 0x3, item >> 17
    if flags != 1 or length < 24 or start + length > len(page):  # LP_NORMAL only
        return None
    heap_tuple = page[start : start + length]
    return heap_tuple[heap_tuple[22] :]
