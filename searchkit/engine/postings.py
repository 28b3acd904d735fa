"""A term's postings as typed arrays and a blob of positions: how they are written, and
read back by numpy from the mapped file without a copy."""

from __future__ import annotations

import struct
import sys
from array import array
from functools import lru_cache
from itertools import accumulate

import numpy as np
from whoosh.codec.whoosh3 import (
    W3TermInfo,
)
from whoosh.formats import Positions
from whoosh.system import pack_int, pack_long
from whoosh.util.numeric import byte_to_length, length_to_byte

from .views import ViewFile

#: Terms in at most this many posts of a segment are stored inline in the term dictionary
#: (most terms): one pickle and no seek to the postings file.  64 rather than 8: a list of
#: 9-64 postings written apart cost 34 us a term, inline 5 us; a 6,000-post segment holds
#: 22,000 such terms, and merges join inline entries without reading them as postings.
INLINE_LIMIT = 64

#: The first byte of a term-dictionary entry: its postings written apart, in the postings
#: file (W3's flag 0), or kept inline, in the entry itself (W3 wrote 1 and a pickle there,
#: as searchkit did up to index format 5).
APART = 0
INLINE = 2
#: An inline entry's head: its kind, the length bytes of its shortest and longest field,
#: the codes of its arrays (gaps | weights << 2 | sizes << 4), how many postings it holds
#: and its first post number.
_INLINE_HEAD = struct.Struct("<BBBBBI")
INLINE_HEAD_SIZE = _INLINE_HEAD.size
_COUNT_AT, _FIRST_AT = 4, 5
_FIRST = struct.Struct("<I")
#: The most postings an inline entry can hold (its count is a byte).
MAX_INLINE = 0xFF
_ID_CODES = ("B", "H", "I")  # gaps between post numbers, and sizes of positions
_WEIGHT_CODES = ("B", "H", "f")
_ITEM_SIZES = (1, 2, 4)
_NO_SIZES = 3  # the sizes' code of postings without positions
_BYTES = [bytes((n,)) for n in range(0x100)]
_FLOAT = struct.Struct("<f")

_SWAP = sys.byteorder == "big"  # positions are stored little-endian
ONE_BYTE = [b"B" + bytes((pos,)) for pos in range(0x100)]
TERMINFO = W3TermInfo._struct  # private: the fixed part of a term-dictionary entry
_IDS = np.dtype("<u4")
#: The type codes before a term's arrays written apart: of its weights, of its sizes of
#: positions (``0`` for none), of the gaps between its post numbers.
_CODES_SIZE = 3
#: The type codes of weights and of sizes of positions, as written before a term's arrays.
_CODES = {"B": np.dtype("<u1"), "H": np.dtype("<u2"), "I": np.dtype("<u4"), "f": np.dtype("<f4")}
_NO_POSITIONS = "0"
_BYTE_DELTAS = ord("B")
#: Whoosh's matchers see a term's postings in blocks of this many (as W3 writes them).
MATCHER_BLOCK = 128
#: A term in at most this many posts is merged in plain Python, a longer one with numpy.
SMALL_MERGE = 48


class CompactPositions(Positions):
    """Positions in one typed array of deltas: ``b"B"``/``b"H"``/``b"I"`` then the array."""

    def encode(self, poslist):
        if len(poslist) == 1:  # most postings: one byte string per small position, cached
            pos = poslist[0]
            if pos < 0x100:
                return ONE_BYTE[pos]
            deltas = poslist
        else:
            deltas = [poslist[0]]
            deltas.extend(b - a for a, b in zip(poslist, poslist[1:], strict=False))
        top = max(deltas)
        code = "B" if top < 0x100 else "H" if top < 0x10000 else "I"
        packed = array(code, deltas)
        if _SWAP:
            packed.byteswap()
        return code.encode("ascii") + packed.tobytes()

    def decode_positions(self, valuestring):
        return decode_positions(valuestring)

    def decode_frequency(self, valuestring):
        return (len(valuestring) - 1) // array(chr(valuestring[0])).itemsize

    def decode_weight(self, valuestring):
        return self.decode_frequency(valuestring) * self.field_boost

    def decode_position_boosts(self, valuestring):
        return [(pos, 1) for pos in self.decode_positions(valuestring)]


def decode_positions(valuestring) -> list[int]:
    if valuestring[0] == _BYTE_DELTAS:  # most values: the bytes are the deltas
        return list(accumulate(valuestring[1:]))
    packed = array(chr(valuestring[0]))
    packed.frombytes(valuestring[1:])
    if _SWAP:
        packed.byteswap()
    return list(accumulate(packed))


#: The width of a position's delta for each leading type code (0: not a code).
_WIDTHS = np.zeros(256, dtype=np.int64)
_WIDTHS[[ord("B"), ord("H"), ord("I")]] = 1, 2, 4


def decode_many(data: np.ndarray, starts: np.ndarray, stops: np.ndarray):
    """The positions of many postings in one pass: ``data[starts[i]:stops[i]]`` is one
    posting's value as :class:`CompactPositions` writes it (empty for none).  Returns how
    many positions each has, and all of them one posting after the other."""
    sizes = stops - starts
    present = sizes > 0
    widths = np.zeros(len(starts), dtype=np.int64)
    widths[present] = _WIDTHS[data[starts[present]]]
    if (widths[present] == 0).any():
        raise ValueError("not a value of CompactPositions")
    counts = np.zeros(len(starts), dtype=np.int64)
    counts[present] = (sizes[present] - 1) // widths[present]
    ends = np.cumsum(counts)
    begins = ends - counts
    within = np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(begins, counts)
    width = np.repeat(widths, counts)
    at = np.repeat(starts + 1, counts) + within * width
    deltas = data[at].astype(np.int64)
    for byte in (1, 2, 3):  # the higher bytes of wider deltas (little-endian)
        wide = np.flatnonzero(width > byte)
        if not len(wide):
            break
        deltas[wide] |= data[at[wide] + byte].astype(np.int64) << (8 * byte)
    summed = np.cumsum(deltas)
    before = np.concatenate(([0], summed))[begins]
    return counts, summed - np.repeat(before, counts)


# --- postings as arrays -----------------------------------------------------------------------


def write_postings(postfile, docnums, weights, values, lengths) -> bytes:
    """Write one term's postings and return its term-dictionary entry.

    ``docnums`` increase; ``weights`` are the postings' weights (frequencies, mostly),
    ``values`` their encoded positions (or empty), ``lengths`` the field's length in each post
    (0 if not kept).  A term in at most :data:`INLINE_LIMIT` posts is kept inline.
    """
    if len(docnums) <= INLINE_LIMIT:
        return inline_entry(docnums, weights, values, lengths)
    sizes = np.fromiter((len(v or b"") for v in values), dtype=np.int64, count=len(values))
    return write_arrays(
        postfile,
        np.asarray(docnums, dtype=_IDS),
        np.asarray(weights, dtype=np.float64),
        sizes,
        b"".join(v or b"" for v in values),
        np.asarray(lengths, dtype=np.float64),
    )


def _weight_code(integral: bool, top: float) -> str:
    """The narrowest type for a term's weights: whole frequencies fit a byte, mostly."""
    if integral and top < 0x100:
        return "B"
    if integral and top < 0x10000:
        return "H"
    return "f"


def _size_code(top: int) -> str:
    return _ID_CODES[_width_code(top)]


def _entry(postfile, offset, weight, count, lengths: np.ndarray, maxweight, first, last) -> bytes:
    present = lengths[lengths > 0]  # the posts whose length is kept
    head = TERMINFO.pack(
        0,
        weight,
        count,
        length_to_byte(int(present.min())) if len(present) else 0,
        length_to_byte(int(present.max())) if len(present) else 0,
        maxweight,
        first,
        last,
    )
    return head + pack_long(offset) + pack_int(postfile.tell() - offset)


def write_arrays(postfile, ids, weights, sizes, blob, lengths) -> bytes:
    """Write a term's postings given as arrays (``sizes``: how many bytes of ``blob`` each
    posting's positions take) and return its term-dictionary entry.

    On disk: three type codes (of the weights, of the sizes of the positions, ``0`` when
    there are none, of the gaps between post numbers), the first post number (``uint32``), the
    gaps, the weights (a byte each when they are frequencies under 256), each posting's size of
    positions, the positions.
    """
    if len(ids) <= INLINE_LIMIT:
        ends = np.cumsum(sizes, dtype=np.int64)
        starts = ends - sizes
        values = [bytes(blob[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        return inline_entry(
            ids.tolist(), weights.tolist(), values, [int(n) for n in lengths.tolist()]
        )
    weights = np.asarray(weights, dtype=np.float64)
    top = float(weights.max())
    code = _weight_code(bool((weights == np.floor(weights)).all()), top)
    coded = weights.astype(_CODES[code])
    gaps = np.diff(ids.astype(np.int64))
    icode = _size_code(int(gaps.max()))
    parts = [_FIRST.pack(int(ids[0])), gaps.astype(_CODES[icode]).tobytes(), coded.tobytes()]
    scode = _NO_POSITIONS
    if len(blob):
        scode = _size_code(int(sizes.max()))
        parts.append(sizes.astype(_CODES[scode]).tobytes())
    offset = postfile.tell()
    postfile.write((code + scode + icode).encode("ascii") + b"".join(parts))
    postfile.write(bytes(blob))
    total = float(sum(coded.tolist())) if code == "f" else float(coded.sum(dtype=np.int64))
    return _entry(
        postfile,
        offset,
        total,
        len(ids),
        np.asarray(lengths),
        float(coded.max()),
        int(ids[0]),
        int(ids[-1]),
    )


def inline_entry(docnums, weights, values, lengths) -> bytes:
    """The entry of a term whose postings are kept inline (``values``: each posting's encoded
    positions, empty for none; ``lengths``: the field's length in each post, 0 if not kept)."""
    if len(docnums) == 1:  # most terms
        return single_entry(docnums[0], weights[0], values[0] if values else b"", lengths[0])
    present = [n for n in lengths if n]
    low = _length_byte(min(present)) if present else 0
    high = _length_byte(max(present)) if present else 0
    return inline_bytes(docnums, weights, values, low, high)


def inline_bytes(docnums, weights, values, low: int, high: int) -> bytes:
    """An inline entry (:data:`INLINE`) of postings whose shortest and longest field
    lengths are the length bytes ``low`` and ``high``: its head (:data:`_INLINE_HEAD`), the
    gaps between its post numbers, its weights, and, when it has positions, each posting's
    size of positions and the positions."""
    count = len(docnums)
    if not 0 < count <= MAX_INLINE:
        raise ValueError(f"{count} postings cannot be kept inline")
    gaps = [b - a for a, b in zip(docnums, docnums[1:], strict=False)]
    idcode = _width_code(max(gaps, default=0))
    wcode, weights = _weights_code(weights)
    parts = [b"", _packed(_ID_CODES[idcode], gaps), _packed(_WEIGHT_CODES[wcode], weights)]
    scode = _NO_SIZES
    if any(values):
        sizes = [len(v) if v else 0 for v in values]
        scode = _width_code(max(sizes))
        parts.append(_packed(_ID_CODES[scode], sizes))
        parts.extend(v for v in values if v)
    codes = idcode | wcode << 2 | scode << 4
    parts[0] = _INLINE_HEAD.pack(INLINE, low, high, codes, count, docnums[0])
    return b"".join(parts)


def single_entry(docnum: int, weight: float, value: bytes, length: int) -> bytes:
    """:func:`inline_entry` for a term in one post (most terms: written without arrays)."""
    lbyte = _length_byte(length) if length else 0
    whole = int(weight)
    if whole == weight and 0 <= whole < 0x100:
        wcode, wbytes = 0, _BYTES[whole]
    else:
        wcode, whole = _weights_code([weight])
        wbytes = _packed(_WEIGHT_CODES[wcode], whole)
    size = len(value) if value else 0
    if not size:
        tail, scode = b"", _NO_SIZES
    elif size < 0x100:
        tail, scode = _BYTES[size] + value, 0
    else:
        scode = _width_code(size)
        tail = _packed(_ID_CODES[scode], [size]) + value
    head = _INLINE_HEAD.pack(INLINE, lbyte, lbyte, wcode << 2 | scode << 4, 1, docnum)
    return head + wbytes + tail


def inline_entries(docs, weights, sizes, begins, blob, lengths, starts, counts) -> list[bytes]:
    """:func:`inline_entry` of many terms at once, in numpy: the terms' postings one term after
    the other (``docs``, ``weights``, ``sizes`` of positions, where each posting's positions
    begin in ``blob``, the field's ``lengths``), each term's first posting at ``starts`` and
    ``counts`` postings (at most :data:`MAX_INLINE`).  The same bytes, term by term."""
    terms = len(starts)
    if not terms:
        return []
    widths = np.array(_ITEM_SIZES + (0,), dtype=np.int64)
    term = np.repeat(np.arange(terms, dtype=np.int64), counts)
    within = np.arange(len(docs), dtype=np.int64) - starts[term]
    gaps = np.diff(docs, prepend=docs[:1])
    gaps[starts] = 0
    idcode = _width_codes(np.maximum.reduceat(gaps, starts))
    top = np.maximum.reduceat(weights, starts)
    integral = np.logical_and.reduceat((weights == np.floor(weights)) & (weights >= 0), starts)
    wcode = np.where(integral & (top < 0x10000), _width_codes(top), 2)
    positions = np.add.reduceat(sizes, starts)  # each term's bytes of positions
    scode = np.where(positions > 0, _width_codes(np.maximum.reduceat(sizes, starts)), _NO_SIZES)
    shortest = np.minimum.reduceat(np.where(lengths > 0, lengths, np.inf), starts)
    shortest[np.isinf(shortest)] = 0
    low = np.where(shortest > 0, _length_codes(shortest), 0)
    longest = np.maximum.reduceat(lengths, starts)
    high = np.where(longest > 0, _length_codes(longest), 0)

    # where each part of each entry goes
    id_width, weight_width, size_width = widths[idcode], widths[wcode], widths[scode]
    at_gaps = _INLINE_HEAD.size + np.zeros(terms, dtype=np.int64)
    at_weights = at_gaps + (counts - 1) * id_width
    at_sizes = at_weights + counts * weight_width
    at_blob = at_sizes + counts * size_width
    entry_sizes = at_blob + positions
    offsets = np.cumsum(entry_sizes) - entry_sizes
    out = np.zeros(int(entry_sizes.sum()), dtype=np.uint8)
    heads = (
        (0, INLINE),
        (1, low),
        (2, high),
        (3, idcode | wcode << 2 | scode << 4),
        (4, counts),
    )
    for at, values in heads:
        out[offsets + at] = values
    _scatter(out, offsets + _FIRST_AT, docs[starts], np.full(terms, 4))
    later = within > 0
    _scatter(
        out,
        (offsets + at_gaps)[term[later]] + (within[later] - 1) * id_width[term[later]],
        gaps[later],
        id_width[term[later]],
    )
    floats = wcode[term] == 2
    bits = np.where(floats, weights.astype("<f4").view("<u4"), weights.astype(np.int64) * ~floats)
    _scatter(
        out,
        (offsets + at_weights)[term] + within * weight_width[term],
        bits.astype(np.int64),
        weight_width[term],
    )
    positioned = size_width[term] > 0
    _scatter(
        out,
        ((offsets + at_sizes)[term] + within * size_width[term])[positioned],
        sizes[positioned],
        size_width[term][positioned],
    )
    # each term's positions: one run of the blob, copied to one run of the entries
    runs = positions > 0
    starts_in = begins[starts][runs]
    lengths_of = positions[runs]
    ends_of = np.cumsum(lengths_of)
    source = np.arange(int(ends_of[-1]) if len(ends_of) else 0, dtype=np.int64)
    source += np.repeat(starts_in - (ends_of - lengths_of), lengths_of)
    target = np.arange(len(source), dtype=np.int64)
    target += np.repeat((offsets + at_blob)[runs] - (ends_of - lengths_of), lengths_of)
    out[target] = blob[source]
    data = out.tobytes()
    bounds = (offsets + entry_sizes).tolist()
    return [data[a:b] for a, b in zip(offsets.tolist(), bounds, strict=True)]


def _width_codes(tops: np.ndarray) -> np.ndarray:
    """:func:`_width_code` of each number."""
    return (tops >= 0x100).astype(np.int64) + (tops >= 0x10000)


#: The field length each of Whoosh's one-byte codes stands for (a length's code is where it
#: sorts in the table).
LENGTH_TABLE = np.array([byte_to_length(code) for code in range(0x100)], dtype=np.float64)


def _length_codes(lengths: np.ndarray) -> np.ndarray:
    """:func:`_length_byte` of each length (Whoosh's ``length_to_byte``)."""
    return np.minimum(np.searchsorted(LENGTH_TABLE, lengths, side="left"), 0xFF)


def _scatter(out: np.ndarray, at: np.ndarray, values: np.ndarray, width: np.ndarray) -> None:
    """Write each of ``values`` little-endian in ``width`` bytes (1, 2 or 4) at ``at``."""
    for byte in range(4):
        some = width > byte
        if not some.any():
            break
        out[at[some] + byte] = (values[some] >> (8 * byte)) & 0xFF


def shifted_inline(entry: bytes, shift: int) -> bytes:
    """An inline entry with its post numbers moved by ``shift``: only its first post number
    is written as a number, the rest as gaps."""
    if not shift:
        return entry
    first = _FIRST.unpack_from(entry, _FIRST_AT)[0] + shift
    return entry[:_FIRST_AT] + _FIRST.pack(first) + entry[_FIRST_AT + _FIRST.size :]


def inline_postings(entry: bytes):
    """``(ids, weights, values, low, high)`` of an inline entry: its post numbers, weights
    (ints when whole), positions (one value per posting, an empty tuple when it has none)
    and the length bytes of its shortest and longest field.  A malformed entry raises
    :class:`EntryError` (sizes are checked against the entry before anything is read)."""
    try:
        kind, low, high, codes, count, first = _INLINE_HEAD.unpack_from(entry)
    except struct.error as exc:
        raise EntryError("a term entry too short") from exc
    idcode, wcode, scode = codes & 3, codes >> 2 & 3, codes >> 4
    if kind != INLINE or not count or idcode > 2 or wcode > 2 or scode > _NO_SIZES:
        raise EntryError("not a term entry of this index format")
    at = _INLINE_HEAD.size
    after_ids = at + (count - 1) * _ITEM_SIZES[idcode]
    after_weights = after_ids + count * _ITEM_SIZES[wcode]
    after_sizes = after_weights + (count * _ITEM_SIZES[scode] if scode != _NO_SIZES else 0)
    if after_sizes > len(entry):
        raise EntryError("a term entry shorter than its postings")
    if count == 1:
        ids = [first]
    else:
        ids = list(accumulate(_unpacked(_ID_CODES[idcode], entry[at:after_ids]), initial=first))
    weights = _unpacked(_WEIGHT_CODES[wcode], entry[after_ids:after_weights]).tolist()
    if scode == _NO_SIZES:
        if after_sizes != len(entry):
            raise EntryError("a term entry longer than its postings")
        return ids, weights, (), low, high
    sizes = _unpacked(_ID_CODES[scode], entry[after_weights:after_sizes])
    ends = list(accumulate(sizes, initial=after_sizes))
    if ends[-1] != len(entry):
        raise EntryError("a term entry's positions do not fill it")
    values = tuple(entry[a:b] for a, b in zip(ends, ends[1:], strict=False))
    return ids, weights, values, low, high


def doc_frequency(entry: bytes) -> int:
    """How many posts a term-dictionary entry's term is in, read from its head alone."""
    kind = entry[0] if entry else None
    if kind == INLINE and len(entry) > _COUNT_AT:
        return entry[_COUNT_AT]
    if kind == APART and len(entry) >= TERMINFO.size:
        return TERMINFO.unpack_from(entry)[2]
    raise EntryError("not a term entry of this index format")


class EntryError(ValueError):
    """A term-dictionary entry that is not one searchkit writes: an index damaged, crafted,
    or of an older format."""


def _width_code(top: int) -> int:
    return 0 if top < 0x100 else 1 if top < 0x10000 else 2


def _weights_code(weights) -> tuple[int, list]:
    """The code of the narrowest type for weights (whole frequencies fit a byte, mostly)
    and the weights as that type takes them."""
    whole = [int(w) for w in weights]
    integral = whole == list(weights) and min(whole) >= 0
    code = _WEIGHT_CODES.index(_weight_code(integral, max(weights)))
    return code, whole if code < 2 else list(weights)


def _packed(code: str, numbers) -> bytes:
    packed = array(code, numbers)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def _unpacked(code: str, data: bytes) -> array:
    packed = array(code)
    packed.frombytes(data)
    if _SWAP:
        packed.byteswap()
    return packed


@lru_cache(maxsize=4096)
def _length_byte(length: int) -> int:
    """Whoosh's one-byte code of a field length (a search of its table each time)."""
    return length_to_byte(length)


class Postings:
    """One term's postings in one segment, as arrays (views of the mapped file); a term
    kept inline has them as tuples, made arrays when first asked.  Positions are read only
    when asked for."""

    __slots__ = ("_ids", "_weights", "_sizes", "_ends", "_blob", "_blob_at", "_base")

    def __init__(self, ids, weights, sizes=None, blob=None, blob_at=None):
        self._ids = ids
        self._weights = weights
        self._sizes = sizes
        self._ends = None
        self._blob = blob  # a tuple of values (inline), bytes, or None (none, or not read)
        self._blob_at = blob_at  # (file, offset) of the positions not read yet
        self._base = None  # (buffer, offset) the positions were read from

    @property
    def ids(self) -> np.ndarray:
        if not isinstance(self._ids, np.ndarray):
            self._ids = np.asarray(self._ids, dtype=np.int64)
        return self._ids

    @property
    def weights(self) -> np.ndarray:
        if not isinstance(self._weights, np.ndarray):
            self._weights = np.asarray(self._weights, dtype=np.float64)
        return self._weights

    def id_list(self) -> list[int]:
        ids = self._ids
        return ids.tolist() if isinstance(ids, np.ndarray) else list(ids)

    def weight_list(self) -> list[float]:
        weights = self._weights
        return weights.tolist() if isinstance(weights, np.ndarray) else list(weights)

    def __len__(self) -> int:
        return len(self._ids)

    def _positions_blob(self):
        if self._blob is None and self._blob_at is not None:
            dbfile, offset = self._blob_at
            size = int(self._stops()[-1])
            buf, start = buffer_of(dbfile, offset, size)
            self._blob = memoryview(buf)[start : start + size]
            self._blob_at = None
            self._base = buf, start
        return self._blob

    def _stops(self) -> np.ndarray:
        if self._ends is None:
            self._ends = np.cumsum(self._sizes, dtype=np.int64)
        return self._ends

    def values(self) -> list[bytes]:
        """Each posting's encoded positions."""
        blob = self._positions_blob()
        if blob is None:
            return [b""] * len(self._ids)
        if isinstance(blob, tuple):
            return list(blob) + [b""] * (len(self._ids) - len(blob))
        stops = self._stops().tolist()
        starts = [0, *stops[:-1]]
        return [bytes(blob[a:b]) for a, b in zip(starts, stops, strict=True)]

    def value(self, i: int) -> bytes:
        blob = self._positions_blob()
        if blob is None:
            return b""
        if isinstance(blob, tuple):  # inline: the values themselves
            return blob[i] if i < len(blob) else b""
        stops = self._stops()
        start = int(stops[i - 1]) if i else 0
        return bytes(blob[start : int(stops[i])])

    def position_spans(self, rows: np.ndarray):
        """Where the positions of the postings ``rows`` lie, as ``(buffer, starts, stops)``
        for :func:`decode_many` (postings read from a mapped file name the whole file as
        their buffer: one decoding serves every term of a segment); the values themselves
        for postings kept inline; None when there are none."""
        blob = self._positions_blob()
        if blob is None:
            return None
        if isinstance(blob, tuple):  # inline: a few short values, themselves
            return [blob[i] if i < len(blob) else b"" for i in rows.tolist()]
        buf, base = self._base
        stops = self._stops()[rows]
        return buf, stops - self._sizes[rows] + base, stops + base

    def has_positions(self) -> bool:
        return self._blob is not None or self._blob_at is not None

    def sizes(self) -> np.ndarray:
        """How many bytes of :meth:`blob` each posting's positions take."""
        blob = self._positions_blob()
        if blob is None:
            return np.zeros(len(self._ids), dtype=np.int64)
        if isinstance(blob, tuple):
            sizes = [len(v) for v in blob] + [0] * (len(self._ids) - len(blob))
            return np.asarray(sizes, dtype=np.int64)
        return self._sizes.astype(np.int64)

    def blob(self) -> bytes | memoryview:
        """The positions of all the postings, one after the other."""
        blob = self._positions_blob()
        if blob is None:
            return b""
        if isinstance(blob, tuple):
            return b"".join(blob)
        return blob


def read_postings(dbfile, info) -> Postings:
    """The postings a term-dictionary entry points to."""
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        return Postings(ids, weights, blob=tuple(values) if values else None)
    count = info.doc_frequency()
    offset = info._offset  # private: where the arrays start
    buf, base = buffer_of(dbfile, offset, _CODES_SIZE)
    try:
        code, scode, icode = (
            _CODES[chr(c)] if chr(c) != _NO_POSITIONS else None for c in buf[base : base + 3]
        )
    except KeyError:
        raise EntryError("not postings of this index format") from None
    if code is None or icode is None or icode.kind != "u" or count < 2:
        raise EntryError("not postings of this index format")
    ssize = scode.itemsize if scode is not None else 0
    at_gaps = _CODES_SIZE + _FIRST.size
    at_weights = at_gaps + (count - 1) * icode.itemsize
    at_sizes = at_weights + count * code.itemsize
    head = at_sizes + count * ssize
    buf, base = buffer_of(dbfile, offset, head)
    ids = np.empty(count, dtype=np.int64)
    ids[0] = _FIRST.unpack_from(buf, base + _CODES_SIZE)[0]
    ids[1:] = np.frombuffer(buf, icode, count - 1, base + at_gaps)
    np.cumsum(ids, out=ids)
    weights = np.frombuffer(buf, code, count, base + at_weights)
    if not ssize:
        return Postings(ids, weights)
    sizes = np.frombuffer(buf, scode, count, base + at_sizes)
    return Postings(ids, weights, sizes, blob_at=(dbfile, offset + head))


def buffer_of(dbfile, offset: int, length: int):
    """``(buffer, start)`` holding ``length`` bytes of ``dbfile`` at ``offset``: the mapped
    file itself when there is one, else a copy."""
    if isinstance(dbfile, ViewFile):
        return dbfile._buf, offset
    return dbfile.get(offset, length), 0


class PositionValues:
    """The positions of a term's postings, for Whoosh's ListMatcher, decoded when asked."""

    def __init__(self, postings: Postings):
        self._postings = postings

    def __len__(self) -> int:
        return len(self._postings)

    def __getitem__(self, i: int) -> bytes:
        return self._postings.value(i)
