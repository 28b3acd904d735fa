"""Whoosh's W3 codec with searchkit's postings: the codec, its per-document reader, segments
and the memory views their files are read through, and Whoosh's own matchers over the arrays."""

from __future__ import annotations

import struct
from bisect import bisect_left

import numpy as np
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    W3Codec,
    W3PerDocReader,
    W3Segment,
    W3TermInfo,
    W3TermsReader,
    _lenfield,
)
from whoosh.filedb.compound import CompoundStorage
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.system import _INT_SIZE, _LONG_SIZE
from whoosh.util.numeric import byte_to_length

from .postings import (
    APART,
    INLINE,
    INLINE_LIMIT,
    MATCHER_BLOCK,
    TERMINFO,
    EntryError,
    PositionValues,
    doc_frequency,
    inline_postings,
    read_postings,
    write_postings,
)
from .views import ViewFile


class SearchkitCodec(W3Codec):
    """W3 with postings as arrays, inline short posting lists and lengths as a table."""

    def __init__(self, blocklimit=128, compression=3, inlinelimit=INLINE_LIMIT):
        super().__init__(blocklimit, compression, inlinelimit)

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(dbfile)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        postings = read_postings(dbfile, terminfo)
        values = PositionValues(postings) if postings.has_positions() else None
        return _ArrayMatcher(postings, values, format_, scorer, term, terminfo)

    def terms_reader(self, storage, segment):
        tiname = segment.make_filename(self.TERMS_EXT)
        tilen = storage.file_length(tiname)
        tifile = storage.open_file(tiname)
        postfile = segment.open_file(storage, self.POSTS_EXT)
        return _TermsReader(self, tifile, tilen, postfile)

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment)

    def new_segment(self, storage, indexname):
        return SearchkitSegment(self, indexname)


def term_info(data: bytes) -> W3TermInfo:
    """A term's entry in the term dictionary: W3's for postings written apart, searchkit's
    own for postings kept inline (:func:`~searchkit.engine.postings.inline_postings`; W3
    keeps them as a pickle)."""
    kind = data[0] if data else None
    if kind == INLINE:
        ids, weights, values, low, high = inline_postings(data)
        info = W3TermInfo()
        total = sum(weights)
        info._weight = total if isinstance(total, int) else _single(total)
        info._df = len(ids)
        info._minlength, info._maxlength = byte_to_length(low), byte_to_length(high)
        info._maxweight = max(weights)
        info._minid, info._maxid = ids[0], ids[-1]
        info._inlined = (ids, weights, values)
        return info
    if kind != APART or len(data) != TERMINFO.size + _LONG_SIZE + _INT_SIZE:
        raise EntryError("not a term entry of this index format")
    layout = TERMINFO
    values = layout.unpack(data[: layout.size])
    info = W3TermInfo()
    info._weight, info._df = values[1], values[2]
    info._minlength = byte_to_length(values[3])
    info._maxlength = byte_to_length(values[4])
    info._maxweight = values[5]
    info._minid = None if values[6] == 0xFFFFFFFF else values[6]
    info._maxid = None if values[7] == 0xFFFFFFFF else values[7]
    at = layout.size
    info._offset = struct.unpack("!q", data[at : at + _LONG_SIZE])[0]
    info._length = struct.unpack("!i", data[at + _LONG_SIZE : at + _LONG_SIZE + _INT_SIZE])[0]
    return info


def _single(value: float) -> float:
    """A float as a 32-bit float holds it (as W3's entries keep a term's total weight)."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


class _TermsReader(W3TermsReader):
    """W3's term dictionary, its entries read by :func:`term_info`."""

    def items(self):
        decode = self._keydecoder
        return ((decode(key), term_info(value)) for key, value in self._tindex.items())

    def items_from(self, fieldname, prefix):
        decode = self._keydecoder
        start = self._keycoder(fieldname, prefix)
        return ((decode(k), term_info(v)) for k, v in self._tindex.items_from(start))

    def term_info(self, fieldname, tbytes):
        try:
            return term_info(self._tindex[self._keycoder(fieldname, tbytes)])
        except KeyError:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}") from None

    # (both raise KeyError for a term not there, as Whoosh's reader expects)
    def frequency(self, fieldname, tbytes):
        return term_info(self._tindex[self._keycoder(fieldname, tbytes)]).weight()

    def doc_frequency(self, fieldname, tbytes):
        return doc_frequency(self._tindex[self._keycoder(fieldname, tbytes)])


class _ArrayMatcher(ListMatcher):
    """Whoosh's list matcher over a term's arrays, with what W3's block reader offers
    Whoosh's union and intersection matchers: binary-search skips and blocks of
    :data:`MATCHER_BLOCK` postings with their best weight, so that blocks that cannot reach
    the top are skipped."""

    def __init__(self, postings, values, format_, scorer, term, terminfo):
        super().__init__(
            postings.ids.tolist(),
            postings.weights.tolist(),
            values,
            format_,
            scorer=scorer,
            term=term,
            terminfo=terminfo,
        )
        self._array = postings.weights
        self._block_max = None

    def next(self):
        self._i += 1
        return self._i % MATCHER_BLOCK == 0

    def skip_to(self, id):
        if self._i < len(self._ids) and self._ids[self._i] < id:
            block = self._i // MATCHER_BLOCK
            self._i = bisect_left(self._ids, id, self._i)
            return self._i // MATCHER_BLOCK != block
        return False

    def supports_block_quality(self):
        return self._scorer is not None and self._scorer.supports_block_quality()

    def max_quality(self):
        return self._scorer.max_quality()

    def block_quality(self):
        return self._scorer.block_quality(self)

    def block_max_weight(self):
        if self._block_max is None:
            starts = np.arange(0, len(self._array), MATCHER_BLOCK)
            self._block_max = np.maximum.reduceat(self._array, starts).tolist()
        block = self._i // MATCHER_BLOCK
        return self._block_max[block] if block < len(self._block_max) else 0.0

    def block_min_length(self):
        return self._terminfo.min_length()

    def block_max_length(self):
        return self._terminfo.max_length()

    def skip_to_quality(self, minquality):
        skipped = 0
        while self.is_active() and self.block_quality() <= minquality:
            self._i = (self._i // MATCHER_BLOCK + 1) * MATCHER_BLOCK
            skipped += 1
        return skipped


class _PostingsWriter:
    """What W3's field writer calls to write a term's postings (during merges)."""

    def __init__(self, postfile):
        self._postfile = postfile
        self._postings: list[tuple[int, float, bytes, int]] = []

    def start_postings(self, format_, terminfo):
        self._postings = []

    def add_posting(self, id_, weight, vbytes, length=None):
        self._postings.append((id_, weight, vbytes, length or 0))

    def finish_postings(self):
        docnums, weights, values, lengths = zip(*self._postings, strict=True)
        return _Entry(write_postings(self._postfile, docnums, weights, values, lengths))

    def written(self) -> bool:
        return False


class _Entry:
    """A finished term-dictionary entry, as W3's field writer expects it back."""

    def __init__(self, data: bytes):
        self._data = data

    def to_bytes(self) -> bytes:
        return self._data


class _PerDocReader(W3PerDocReader):
    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._length_tables = {}

    def length_bytes(self, fieldname) -> bytes | None:
        """The one-byte-per-post length column of a field, read in one go."""
        table = self._length_tables.get(fieldname)
        if table is None:
            reader = self._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if reader is None:
                return None
            table = reader._dbfile.get(reader._basepos, reader._count)  # private
            self._length_tables[fieldname] = table
        return table

    def doc_field_length(self, docnum, fieldname, default=0):
        table = self.length_bytes(fieldname)
        if table is None:
            return default
        lbyte = table[docnum] if docnum < len(table) else 0
        return byte_to_length(lbyte) if lbyte else None


class SearchkitSegment(W3Segment):
    def open_compound_file(self, storage):
        name = self.make_filename(self.COMPOUND_EXT)
        return _CompoundStorage(storage.open_file(name), use_mmap=storage.supports_mmap)


class _CompoundStorage(CompoundStorage):
    """A segment's compound file, each file in it a view of the mapped file (or of its bytes,
    where it cannot be mapped): never Whoosh's own file objects, whose pickles are read with
    ``pickle``."""

    def open_file(self, name, *args, **kwargs):
        if self.is_closed:
            return super().open_file(name, *args, **kwargs)  # (which raises)
        offset, length = self.range(name)
        if self._source is None:
            self._file.seek(offset)
            return ViewFile(memoryview(self._file.read(length)), name=name)
        return ViewFile(memoryview(self._source)[offset : offset + length], name=name)
