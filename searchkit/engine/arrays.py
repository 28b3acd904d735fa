"""A segment's postings, columns and deletions read as numpy arrays, for the engine."""

from __future__ import annotations

import contextlib
from array import array

import numpy as np
from whoosh.filedb.filetables import _lengths as _LENGTHS
from whoosh.reading import TermNotFound
from whoosh.system import pack_ushort

from .codec import term_info
from .postings import LENGTH_TABLE, Postings, buffer_of, doc_frequency, read_postings

# --- reading segments as arrays ---------------------------------------------------------------


#: The column Whoosh keeps each post's stored fields in (not a field of the schema).
STORED = "_stored"


class SegmentArrays:
    """One segment of an open index, as the arrays the engine scores with.

    ``offset`` is the number of its first document in the whole index.  Whatever is read
    is kept for the next query (field lengths, deletions, dates).
    """

    def __init__(self, reader, offset: int):
        self.reader = reader
        self.offset = offset
        self.size = reader.doc_count_all()
        self._terms = reader._terms  # private: the segment's term dictionary
        self._postfile = self._terms._postfile  # private: its postings
        self._perdoc = reader._perdoc  # private: its per-document reader
        self._lengths: dict[str, np.ndarray] = {}
        self._live: np.ndarray | None = None
        self._columns: dict[str, np.ndarray | None] = {}

    def postings(self, fieldname: str, btext: bytes) -> Postings | None:
        try:
            info = self._terms.term_info(fieldname, btext)
        except (TermNotFound, KeyError):
            return None
        return read_postings(self._postfile, info)

    def doc_frequency(self, fieldname: str, btext: bytes) -> int:
        try:
            return self._terms.doc_frequency(fieldname, btext)
        except (TermNotFound, KeyError):
            return 0

    def field_names(self) -> list[str]:
        return list(self._terms.indexed_field_names())

    def term_entries(self, fieldname: str, prefix: bytes = b""):
        """``(term bytes, entry bytes)`` of every term of a field (starting with ``prefix``),
        in order, read straight from the term dictionary's records (:meth:`terms` decodes
        each entry and its postings)."""
        terms = self._terms
        if fieldname not in terms.indexed_field_names():
            return
        tindex = terms._tindex  # private from here on: the term dictionary, an ordered hash
        field = pack_ushort(terms._fieldmap[fieldname])
        start = field + prefix
        pos = tindex.closest_key_pos(start)
        if pos is None:
            return
        end = tindex.endofdata
        buf, base = buffer_of(tindex.dbfile, pos, end - pos)
        at, stop = base, base + end - pos
        unpack, width = _LENGTHS.unpack_from, _LENGTHS.size
        size = len(start)
        while at < stop:
            keylen, datalen = unpack(buf, at)
            key = bytes(buf[at + width : at + width + keylen])
            if key[:size] != start:
                return
            at += width + keylen
            yield key[2:], bytes(buf[at : at + datalen])
            at += datalen

    def entry_postings(self, entry: bytes) -> Postings:
        """The postings of a term-dictionary entry of this segment."""
        return read_postings(self._postfile, term_info(entry))

    def terms(self, fieldname: str):
        """``(term bytes, postings)`` of every term of a field, in order."""
        if fieldname not in self._terms.indexed_field_names():
            return
        for key, info in self._terms.items_from(fieldname, b""):
            if key[0] != fieldname:
                break
            yield key[1], read_postings(self._postfile, info)

    def lengths(self, fieldname: str) -> np.ndarray:
        """Each post's length in a field (as Whoosh stores it: one byte, approximate)."""
        found = self._lengths.get(fieldname)
        if found is None:
            table = self._perdoc.length_bytes(fieldname)
            found = np.zeros(self.size)
            if table is not None:
                codes = np.frombuffer(table, np.uint8)[: self.size]
                found[: len(codes)] = LENGTH_TABLE[codes]
            self._lengths[fieldname] = found
        return found

    def live(self) -> np.ndarray:
        """True for each post not deleted."""
        if self._live is None:
            live = np.ones(self.size, dtype=bool)
            deleted = list(self._perdoc.deleted_docs())
            if deleted:
                live[np.asarray(deleted, dtype=np.int64)] = False
            self._live = live
        return self._live

    def byte_column(self, fieldname: str) -> ByteColumn | None:
        """A column of bytes, read one post at a time (``column[local]``); None when the
        segment has none."""
        known = fieldname in self.reader.schema or fieldname == STORED
        if not known or not self._perdoc.has_column(fieldname):
            return None
        dbfile, _base, length = self._perdoc._get_column_file(fieldname)  # private
        return ByteColumn(dbfile, length, self.size)

    def byte_values(self, fieldname: str) -> list[bytes]:
        """Each post's value in a column of bytes (empty where it has none), in one read."""
        column = self.byte_column(fieldname)
        values = column.values() if column is not None else []
        return values + [b""] * (self.size - len(values))

    def joined_values(self, fieldname: str) -> bytes | None:
        """Every post's value in a column of bytes, joined by NULs (for values that hold
        none), in one read and one copy; None when a post has no value."""
        column = self.byte_column(fieldname)
        if column is None:
            return None
        offsets, lengths = column.offsets, column.lengths
        if len(lengths) != self.size or not len(lengths) or not lengths.all():
            return None
        total = int(offsets[-1] + lengths[-1])
        if total != int(lengths.sum()) or (offsets[1:] != offsets[:-1] + lengths[:-1]).any():
            return None  # not one value after another
        data = np.frombuffer(column.data(total), dtype=np.uint8)
        separators = np.zeros(total + len(lengths) - 1, dtype=bool)
        separators[np.cumsum(lengths[:-1]) + np.arange(len(lengths) - 1)] = True
        joined = np.zeros(len(separators), dtype=np.uint8)
        joined[~separators] = data
        return joined.tobytes()

    def numeric_column(self, fieldname: str) -> np.ndarray | None:
        """A fixed-width numeric column (such as the date), or None when it has none."""
        if fieldname not in self._columns:
            column = None
            if fieldname in self.reader.schema and self.reader.has_column(fieldname):
                creader = self.reader.column_reader(fieldname, translate=False)
                code = creader._typecode  # private: the column's struct code and layout
                data = creader._dbfile.get(creader._basepos, creader._count * creader._fixedlen)
                column = np.full(self.size, creader._default, dtype=np.dtype(">" + code))
                found = np.frombuffer(data, dtype=np.dtype(">" + code))
                column[: len(found)] = found[: self.size]
            self._columns[fieldname] = column
        return self._columns[fieldname]


class ByteColumn:
    """A segment's column of bytes (Whoosh's ``VarBytesColumn`` layout: the values, each
    post's length, the offsets when there are many, their type codes last), its lengths and
    offsets read by numpy in one go: Whoosh's reader adds up the offsets in a Python loop, 5 ms
    for each column of a segment of 80,000 posts, which a one-off search would pay to read a
    few values."""

    def __init__(self, dbfile, length: int, count: int):
        self._dbfile = dbfile
        last = length - 1
        code = chr(dbfile.get_byte(last))
        offsets = None
        if code == "X":  # the offsets were written too
            code, offsets_code = chr(dbfile.get_byte(last - 2)), chr(dbfile.get_byte(last - 1))
            start = (last - 2) - count * array(offsets_code).itemsize
            offsets = _big_endian(dbfile, start, offsets_code, count)
            last = start
        lengths = _big_endian(dbfile, last - count * array(code).itemsize, code, count)
        if offsets is None:
            offsets = np.zeros(count, dtype=np.int64)
            np.cumsum(lengths[:-1], out=offsets[1:])
        self.lengths = lengths.astype(np.int64)
        self.offsets = offsets.astype(np.int64)

    def __getitem__(self, local: int) -> bytes:
        size = int(self.lengths[local])
        return self._dbfile.get(int(self.offsets[local]), size) if size else b""

    def data(self, size: int) -> bytes:
        """The first ``size`` bytes of the values, one after the other."""
        return self._dbfile.get(0, size)

    def values(self) -> list[bytes]:
        """Every post's value, in one read."""
        if not len(self.lengths):
            return []
        data = self.data(int(self.offsets[-1] + self.lengths[-1]))
        pairs = zip(self.offsets.tolist(), self.lengths.tolist(), strict=True)
        return [data[at : at + size] for at, size in pairs]


def _big_endian(dbfile, position: int, code: str, count: int) -> np.ndarray:
    """An array Whoosh wrote (big-endian, the item size of ``array(code)``)."""
    size = array(code).itemsize
    kind = "i" if code in "bhilq" else "u"
    return np.frombuffer(dbfile.get(position, size * count), dtype=f">{kind}{size}")


def reader_segments(reader) -> list[SegmentArrays]:
    """The non-empty segments of an open Whoosh reader."""
    return [SegmentArrays(r, offset) for r, offset in reader.leaf_readers() if r.doc_count_all()]


def leaf_segments(searcher) -> list[tuple[object, SegmentArrays]]:
    """The non-empty segments of an open Whoosh searcher: each one's own searcher, and its
    arrays."""
    return [
        (sub, SegmentArrays(sub.reader(), offset))
        for sub, offset in searcher.leaf_searchers()
        if sub.reader().doc_count_all()
    ]


@contextlib.contextmanager
def index_segments(ix):
    """The non-empty segments of an index as it is now (:class:`SegmentArrays`), while open."""
    with ix.reader() as reader:
        yield reader_segments(reader)


def word_counts(segments: list[SegmentArrays], fieldname: str, keep) -> dict[str, int]:
    """``word -> posts holding it`` of the terms of a field that ``keep`` matches, read from
    the term dictionaries' records without decoding a posting (deleted posts counted)."""
    counts: dict[str, int] = {}
    for seg in segments:
        for key, entry in seg.term_entries(fieldname):
            word = key.decode("utf-8", "replace")
            if keep(word):
                counts[word] = counts.get(word, 0) + doc_frequency(entry)
    return counts
