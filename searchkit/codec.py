"""searchkit's segment format, and every use of Whoosh's internals, in one module.

An index is a Whoosh index (schema, storage, stored fields, columns, the term dictionary and
the table of contents are Whoosh's), written with :class:`SearchkitCodec`, W3 with these
changes made on the format's own extension points:

* A term's postings are three typed arrays and a blob, which numpy reads from the mapped
  file without a copy (see :func:`write_postings`): document numbers (``uint32``), weights
  (``float32``), the end of each posting's positions in the blob (``uint32``), then the
  positions.  The search engine (:mod:`searchkit.engine`) scores whole arrays at a time;
  Whoosh's own matchers read the same arrays as lists (:class:`whoosh.matching.ListMatcher`).
* Positions are one array of deltas (1, 2 or 4 bytes each), decoded in C.
* A term found in only a few posts keeps its postings inline in the term dictionary.
* Field lengths are read from their column in one go and kept as a table.
* Segment files are read through memory views of the mapped compound file, not copies.

Anything here that names a private Whoosh attribute is marked so; a Whoosh upgrade touches
this module only.  The format is versioned by :data:`searchkit.store.FORMAT`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import sys
from array import array
from bisect import bisect_left
from functools import lru_cache
from hashlib import md5
from itertools import accumulate

import numpy as np
from whoosh import columns
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    STORED_COLUMN,
    W3Codec,
    W3PerDocReader,
    W3Segment,
    W3TermInfo,
    _lenfield,
)
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.filetables import _lengths as _LENGTHS
from whoosh.filedb.structfile import BufferFile
from whoosh.formats import Positions
from whoosh.index import TOC
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from . import safepickle
from .errors import LinkRefused

#: Terms in at most this many posts of a segment are stored inline in the term dictionary
#: (most terms): one pickle and no seek to the postings file.  64 rather than 8: a list of
#: 9-64 postings written apart cost 34 us a term, inline 5 us; a 6,000-post segment holds
#: 22,000 such terms, and merges join inline entries without reading them as postings.
INLINE_LIMIT = 64
PICKLE_PROTOCOL = 5

_SWAP = sys.byteorder == "big"  # positions are stored little-endian
_ONE_BYTE = [b"B" + bytes((pos,)) for pos in range(0x100)]
_TERMINFO = W3TermInfo._struct  # private: the fixed part of a term-dictionary entry
_IDS = np.dtype("<u4")
#: The type codes of weights and of sizes of positions, as written before a term's arrays.
_CODES = {"B": np.dtype("<u1"), "H": np.dtype("<u2"), "I": np.dtype("<u4"), "f": np.dtype("<f4")}
_NO_POSITIONS = "0"
#: Whoosh's matchers see a term's postings in blocks of this many (as W3 writes them).
_MATCHER_BLOCK = 128
#: A term in at most this many posts is merged in plain Python, a longer one with numpy.
_SMALL_MERGE = 48
#: One byte per post and field stands for its length, as Whoosh stores it.
LENGTH_TABLE = np.array([0.0] + [float(byte_to_length(b)) for b in range(1, 256)])


# --- an index folder is data: no pickle builds what the format does not hold ----------------

#: The Whoosh modules that read pickles from an index (the table of contents, compound
#: files' directories, term dictionaries and entries, stored fields and column pages).
_PICKLE_READERS = (
    "whoosh.compat",
    "whoosh.index",
    "whoosh.filedb.fileindex",
    "whoosh.filedb.structfile",
    "whoosh.filedb.compound",
    "whoosh.filedb.filetables",
    "whoosh.codec.whoosh3",
    "whoosh.columns",
)


def install_safe_unpickling() -> None:
    """Make every Whoosh module loaded so far read pickles through
    :mod:`searchkit.safepickle`: each module-level reference to ``pickle``, ``pickle.loads``
    or ``pickle.load`` is replaced (Whoosh imports them by name)."""
    import importlib

    for name in _PICKLE_READERS:
        importlib.import_module(name)
    swaps = (
        (pickle, safepickle.pickle_module()),
        (pickle.loads, safepickle.loads),
        (pickle.load, safepickle.load),
    )
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "whoosh" or name.startswith("whoosh.")):
            continue
        for key, value in list(vars(module).items()):
            for unsafe, safe in swaps:
                if value is unsafe:
                    setattr(module, key, safe)


install_safe_unpickling()


# --- an index folder is written, never written through ----------------------------------------


def refuse_link(path: str) -> None:
    """Raise :class:`LinkRefused` if ``path`` is a symbolic link."""
    if os.path.islink(path):
        raise LinkRefused(
            f"{path} is a symbolic link; searchkit writes only files of its own in an index "
            "folder: remove the link"
        )


class IndexStorage(FileStorage):
    """Whoosh's file storage, creating files without following links: a link planted in a
    generation folder is refused, not written through."""

    def create_file(self, name, excl=False, mode="wb", **kwargs):
        from whoosh.filedb.structfile import StructFile

        path = self._fpath(name)
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        if excl:
            flags |= os.O_EXCL
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                refuse_link(path)
            raise
        return StructFile(os.fdopen(fd, mode), name=name, **kwargs)

    def temp_storage(self, name=None):
        from whoosh.util import random_name

        path = os.path.join(self.folder, name or f"{random_name()}.tmp")
        refuse_link(path)
        storage = IndexStorage(path)
        storage.create()
        return storage


def index_storage(generation) -> IndexStorage:
    """The storage of a generation folder, which must not itself be a link."""
    refuse_link(str(generation))
    return IndexStorage(str(generation))


def open_whoosh_index(generation):
    """The Whoosh index in a generation folder."""
    return index_storage(generation).open_index(INDEX_NAME)


def create_whoosh_index(generation, schema):
    """A new, empty Whoosh index in a generation folder."""
    return index_storage(generation).create().create_index(schema, INDEX_NAME)


INDEX_NAME = "MAIN"  # Whoosh's default index name within a folder


class CompactPositions(Positions):
    """Positions in one typed array of deltas: ``b"B"``/``b"H"``/``b"I"`` then the array."""

    def encode(self, poslist):
        if len(poslist) == 1:  # most postings: one byte string per small position, cached
            pos = poslist[0]
            if pos < 0x100:
                return _ONE_BYTE[pos]
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
    packed = array(chr(valuestring[0]))
    packed.frombytes(valuestring[1:])
    if _SWAP:
        packed.byteswap()
    return list(accumulate(packed))


# --- postings as arrays -----------------------------------------------------------------------


def write_postings(postfile, docnums, weights, values, lengths) -> bytes:
    """Write one term's postings and return its term-dictionary entry.

    ``docnums`` increase; ``weights`` are the postings' weights (frequencies, mostly),
    ``values`` their encoded positions (or empty), ``lengths`` the field's length in each post
    (0 if not kept).  A term in at most :data:`INLINE_LIMIT` posts is kept inline.
    """
    if len(docnums) <= INLINE_LIMIT:
        return _inline_entry(docnums, weights, _interned(values), lengths)
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
    return "B" if top < 0x100 else "H" if top < 0x10000 else "I"


def _entry(postfile, offset, weight, count, lengths: np.ndarray, maxweight, first, last) -> bytes:
    present = lengths[lengths > 0]  # the posts whose length is kept
    head = _TERMINFO.pack(
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

    On disk: two type codes (of the weights, of the sizes of the positions, ``0`` when there
    are none), the document numbers (``uint32``), the weights (a byte each when they are
    frequencies under 256), each posting's size of positions, the positions.
    """
    if len(ids) <= INLINE_LIMIT:
        ends = np.cumsum(sizes, dtype=np.int64)
        starts = ends - sizes
        values = [bytes(blob[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        return _inline_entry(
            ids.tolist(), weights.tolist(), _interned(values), [int(n) for n in lengths.tolist()]
        )
    weights = np.asarray(weights, dtype=np.float64)
    top = float(weights.max())
    code = _weight_code(bool((weights == np.floor(weights)).all()), top)
    coded = weights.astype(_CODES[code])
    parts = [ids.astype(_IDS).tobytes(), coded.tobytes()]
    scode = _NO_POSITIONS
    if len(blob):
        scode = _size_code(int(sizes.max()))
        parts.append(sizes.astype(_CODES[scode]).tobytes())
    offset = postfile.tell()
    postfile.write((code + scode).encode("ascii") + b"".join(parts))
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


def _inline_entry(docnums, weights, values, lengths) -> bytes:
    """The entry of a term whose postings are kept inline: the bytes ``W3TermInfo.to_bytes``
    gives after W3's own writer has buffered the same postings."""
    if len(docnums) == 1:  # most terms
        return _single_entry(docnums[0], weights[0], values[0], lengths[0])
    weights = array("f", weights)
    present = [n for n in lengths if n]
    head = _TERMINFO.pack(
        1,
        sum(weights),
        len(docnums),
        length_to_byte(min(present)) if present else 0,
        length_to_byte(max(present)) if present else 0,
        max(weights),
        docnums[0],
        docnums[-1],
    )
    postings = (tuple(docnums), tuple(map(_number, weights)), tuple(v for v in values if v))
    return head + pickle.dumps(postings, PICKLE_PROTOCOL)


def _shifted_inline(entry: bytes, shift: int) -> bytes:
    """An inline term-dictionary entry with its post numbers moved by ``shift``: the bytes
    :func:`_inline_entry` gives for the same postings so numbered."""
    if not shift:
        return entry
    head = _TERMINFO.unpack_from(entry)
    ids, weights, values = safepickle.loads(entry[_TERMINFO.size :])
    moved = _TERMINFO.pack(*head[:6], head[6] + shift, head[7] + shift)
    postings = (tuple(docnum + shift for docnum in ids), weights, values)
    return moved + pickle.dumps(postings, PICKLE_PROTOCOL)


def _interned(values: list[bytes]) -> list[bytes]:
    """Positions to be kept inline (read back from segments, or sliced from arrays), each
    one-byte position as the one object :class:`CompactPositions` gives for it: pickle then
    writes it once per entry, as in a segment built in one go."""
    return [_ONE_BYTE[value[1]] if len(value) == 2 else value for value in values]


def _single_entry(docnum: int, weight: float, value: bytes, length: int) -> bytes:
    """:func:`_inline_entry` for a term in one post."""
    lbyte = _length_byte(length) if length else 0
    head = _TERMINFO.pack(1, weight, 1, lbyte, lbyte, weight, docnum, docnum)
    posting = ((docnum,), (_number(weight),), (value,) if value else ())
    return head + pickle.dumps(posting, PICKLE_PROTOCOL)


@lru_cache(maxsize=4096)
def _length_byte(length: int) -> int:
    """Whoosh's one-byte code of a field length (a search of its table each time)."""
    return length_to_byte(length)


def _number(weight: float) -> float | int:
    """Whole weights (frequencies, mostly) pickle shorter as ints."""
    whole = int(weight)
    return whole if whole == weight else weight


class Postings:
    """One term's postings in one segment, as arrays (views of the mapped file); a term
    kept inline has them as tuples, made arrays when first asked.  Positions are read only
    when asked for."""

    __slots__ = ("_ids", "_weights", "_sizes", "_ends", "_blob", "_blob_at")

    def __init__(self, ids, weights, sizes=None, blob=None, blob_at=None):
        self._ids = ids
        self._weights = weights
        self._sizes = sizes
        self._ends = None
        self._blob = blob  # a tuple of values (inline), bytes, or None (none, or not read)
        self._blob_at = blob_at  # (file, offset) of the positions not read yet

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
            buf, start = _buffer(dbfile, offset, size)
            self._blob = memoryview(buf)[start : start + size]
            self._blob_at = None
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

    def positions(self, i: int) -> list[int]:
        value = self.value(i)
        return decode_positions(value) if value else []

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
    buf, base = _buffer(dbfile, offset, 2)
    code, scode = chr(buf[base]), chr(buf[base + 1])
    wsize = _CODES[code].itemsize
    ssize = _CODES[scode].itemsize if scode != _NO_POSITIONS else 0
    head = 2 + count * (4 + wsize + ssize)
    buf, base = _buffer(dbfile, offset, head)
    ids = np.frombuffer(buf, _IDS, count, base + 2)
    weights = np.frombuffer(buf, _CODES[code], count, base + 2 + 4 * count)
    if not ssize:
        return Postings(ids, weights)
    sizes = np.frombuffer(buf, _CODES[scode], count, base + 2 + (4 + wsize) * count)
    return Postings(ids, weights, sizes, blob_at=(dbfile, offset + head))


def _buffer(dbfile, offset: int, length: int):
    """``(buffer, start)`` holding ``length`` bytes of ``dbfile`` at ``offset``: the mapped
    file itself when there is one, else a copy."""
    if isinstance(dbfile, _ViewFile):
        return dbfile._buf, offset
    return dbfile.get(offset, length), 0


class _Values:
    """The positions of a term's postings, for Whoosh's ListMatcher, decoded when asked."""

    def __init__(self, postings: Postings):
        self._postings = postings

    def __len__(self) -> int:
        return len(self._postings)

    def __getitem__(self, i: int) -> bytes:
        return self._postings.value(i)


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
        values = _Values(postings) if postings.has_positions() else None
        return _ArrayMatcher(postings, values, format_, scorer, term, terminfo)

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment)

    def new_segment(self, storage, indexname):
        return _Segment(self, indexname)


class IndexSnapshot:
    """An index as its table of contents was when this was made: what a segment builder
    reads of it (Whoosh's writer reads the table again, and a builder in another process
    would race the commit that replaces it)."""

    def __init__(self, ix):
        self.storage = ix.storage
        self.indexname = ix.indexname
        self.schema = ix.schema
        self._toc = ix._read_toc()  # private: the table of contents

    def _read_toc(self):
        return self._toc


def is_temp_folder(name: str, indexname: str) -> bool:
    """Whether ``name`` is a temporary folder of a writer of the index ``indexname``."""
    return name.startswith(indexname) and name.endswith(".tmp")


class _OwnTemporaryFolder:
    """A storage whose temporary storage is one given folder (whatever name is asked for:
    the writer's and its per-document writer's files go to the writer's own folder)."""

    def __init__(self, storage, folder):
        self._storage = storage
        self._folder = folder

    def temp_storage(self, name=None):
        return self._folder

    def __getattr__(self, name):
        return getattr(self._storage, name)


class _WriterIndex:
    """An index as a Whoosh writer is given it, with a temporary folder of the writer's own.

    Whoosh gives every writer the index's one temporary folder; the second writer's
    ``makedirs`` fails on it, and the error Whoosh keeps in a local holds the frames above it,
    with all their data, until a garbage collection (an update pauses the collector: the
    posts' table and the walk's files, or a merge's arrays, outlived it)."""

    def __init__(self, ix):
        from whoosh.util import random_name

        self._ix = ix
        self.indexname = ix.indexname
        self.schema = ix.schema
        self.temp_folder = ix.storage.temp_storage(f"{ix.indexname}.{random_name()}.tmp")
        self.storage = _OwnTemporaryFolder(ix.storage, self.temp_folder)

    def _read_toc(self):
        return self._ix._read_toc()  # private: the table of contents


class _ArrayMatcher(ListMatcher):
    """Whoosh's list matcher over a term's arrays, with what W3's block reader offers
    Whoosh's union and intersection matchers: binary-search skips and blocks of
    :data:`_MATCHER_BLOCK` postings with their best weight, so that blocks that cannot reach
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
        return self._i % _MATCHER_BLOCK == 0

    def skip_to(self, id):
        if self._i < len(self._ids) and self._ids[self._i] < id:
            block = self._i // _MATCHER_BLOCK
            self._i = bisect_left(self._ids, id, self._i)
            return self._i // _MATCHER_BLOCK != block
        return False

    def supports_block_quality(self):
        return self._scorer is not None and self._scorer.supports_block_quality()

    def max_quality(self):
        return self._scorer.max_quality()

    def block_quality(self):
        return self._scorer.block_quality(self)

    def block_max_weight(self):
        if self._block_max is None:
            starts = np.arange(0, len(self._array), _MATCHER_BLOCK)
            self._block_max = np.maximum.reduceat(self._array, starts).tolist()
        block = self._i // _MATCHER_BLOCK
        return self._block_max[block] if block < len(self._block_max) else 0.0

    def block_min_length(self):
        return self._terminfo.min_length()

    def block_max_length(self):
        return self._terminfo.max_length()

    def skip_to_quality(self, minquality):
        skipped = 0
        while self.is_active() and self.block_quality() <= minquality:
            self._i = (self._i // _MATCHER_BLOCK + 1) * _MATCHER_BLOCK
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


class _Segment(W3Segment):
    def open_compound_file(self, storage):
        name = self.make_filename(self.COMPOUND_EXT)
        return _CompoundStorage(storage.open_file(name), use_mmap=storage.supports_mmap)


class _CompoundStorage(CompoundStorage):
    def open_file(self, name, *args, **kwargs):
        if self.is_closed or self._source is None:
            return super().open_file(name, *args, **kwargs)
        offset, length = self.range(name)
        return _ViewFile(memoryview(self._source)[offset : offset + length], name=name)


class _ViewFile(BufferFile):
    """Whoosh's BufferFile without the copy: reads go straight to the memory view."""

    def __init__(self, buf, name=None, onclose=None):
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _ViewReader(buf)

    def subset(self, position, length, name=None):
        return _ViewFile(self._buf[position : position + length], name=name or self._name)


class _ViewReader:
    """The read side of a binary file over a memoryview, for StructFile and pickle."""

    def __init__(self, view: memoryview):
        self._view = view
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        start = self._pos
        end = len(self._view) if size is None or size < 0 else min(start + size, len(self._view))
        self._pos = end
        return self._view[start:end].tobytes()

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        view = self._view
        start = self._pos
        end = len(view) if size is None or size < 0 else min(start + size, len(view))
        probe = start
        while probe < end:  # look for the newline a little at a time, not in a copy of it all
            window = view[probe : min(probe + 256, end)].tobytes()
            at = window.find(b"\n")
            if at >= 0:
                return self.read(probe + at + 1 - start)
            probe += len(window)
        return self.read(end - start)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, len(self._view))[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._view = memoryview(b"")

    def flush(self) -> None:
        pass


# --- writing segments ---------------------------------------------------------------------------


class TokenStreams:
    """The tokens of one field of a segment's posts, as the entries of their words in the
    analyzer's :class:`searchkit.analysis.WordTable` (each word's tokens and the step to the
    next position), with each post's number and count of words.  At the end they are expanded
    to every token's number, post and position, sorted by term and post, and each term's
    postings (frequencies and the positions as :class:`CompactPositions` writes them) are
    made with numpy, not posting by posting."""

    def __init__(self, table) -> None:
        self.table = table
        self.entries = array("I")
        self.docnums: list[int] = []
        self.counts: list[int] = []

    def add(self, docnum: int, entries: list[int]) -> int:
        """Add one post's words; returns how many tokens they give."""
        self.entries.extend(entries)
        self.docnums.append(docnum)
        self.counts.append(len(entries))
        return self.table.length(entries)

    def write(self, postfile, prefix: bytes, lengths: dict[int, int], boost: float) -> list:
        """Write every term's postings; returns the term-dictionary entries, in term order."""
        if not self.entries:
            return []
        numbers, docs, positions = self.table.expand(self.entries, self.counts, self.docnums)
        self.entries = array("I")
        if not len(numbers):
            return []
        tokens = self.table.encoded
        used = np.zeros(len(tokens), dtype=bool)
        used[numbers] = True
        order = sorted(np.flatnonzero(used).tolist(), key=tokens.__getitem__)
        rank = np.zeros(len(tokens), dtype=np.uint32)
        rank[order] = np.arange(len(order), dtype=np.uint32)
        terms = rank[numbers]
        del numbers, used, rank
        sort = np.argsort(terms, kind="stable")  # by term, then post and position as added
        terms, docs, positions = terms[sort], docs[sort], positions[sort]
        del sort
        total = len(terms)

        # one posting per run of (term, post), its positions as deltas
        starts = np.ones(total, dtype=bool)
        starts[1:] = (terms[1:] != terms[:-1]) | (docs[1:] != docs[:-1])
        first = np.flatnonzero(starts)
        del starts
        posting_terms, posting_docs = terms[first], docs[first]
        del terms, docs
        freqs = np.diff(first, append=total)
        deltas = positions.copy()
        deltas[1:] -= positions[:-1]
        deltas[first] = positions[first]  # a posting's first position is itself
        del positions
        blob, sizes = _position_blob(deltas, first, freqs)
        del deltas
        ends = np.cumsum(sizes)
        weights = freqs.astype(np.float64) * boost
        del freqs
        doc_lengths = np.zeros(int(posting_docs.max()) + 1, dtype=np.float64)
        for docnum, length in lengths.items():
            if docnum < len(doc_lengths):
                doc_lengths[docnum] = length
        field_lengths = doc_lengths[posting_docs]

        # one term-dictionary entry per run of a term: a list kept inline in plain Python
        term_starts = np.flatnonzero(np.diff(posting_terms, prepend=-1) != 0)
        term_sizes = np.diff(term_starts, append=len(first))
        small = term_sizes <= INLINE_LIMIT
        picked = np.flatnonzero(np.repeat(small, term_sizes))
        small_docs = posting_docs[picked].tolist()
        small_weights = weights[picked].tolist()
        small_lengths = [int(n) for n in field_lengths[picked].tolist()]
        small_ends = ends[picked].tolist()
        small_begins = (ends[picked] - sizes[picked]).tolist()
        blob_bytes = blob.tobytes()
        del blob, picked
        view = memoryview(blob_bytes)
        entries = []
        at = 0  # in the lists kept inline
        for term, start, size, short in zip(
            posting_terms[term_starts].tolist(),
            term_starts.tolist(),
            term_sizes.tolist(),
            small.tolist(),
            strict=True,
        ):
            key = prefix + tokens[order[term]]
            if size == 1:  # most terms: one posting, inline, written here without calls
                begin, stop = small_begins[at], small_ends[at]
                value = (
                    _ONE_BYTE[blob_bytes[stop - 1]] if stop - begin == 2 else blob_bytes[begin:stop]
                )
                entries.append(
                    (
                        key,
                        _single_entry(small_docs[at], small_weights[at], value, small_lengths[at]),
                    )
                )
                at += 1
                continue
            if short:
                end = at + size
                # a one-byte position is the shared object CompactPositions gives, which
                # pickle writes once per term: the same bytes as a post-by-post build
                values = [
                    _ONE_BYTE[blob_bytes[stop - 1]] if stop - begin == 2 else blob_bytes[begin:stop]
                    for begin, stop in zip(small_begins[at:end], small_ends[at:end], strict=True)
                ]
                entry = _inline_entry(
                    small_docs[at:end], small_weights[at:end], values, small_lengths[at:end]
                )
                at = end
            else:
                stop = start + size
                entry = write_arrays(
                    postfile,
                    posting_docs[start:stop],
                    weights[start:stop],
                    sizes[start:stop],
                    view[int(ends[start] - sizes[start]) : int(ends[stop - 1])],
                    field_lengths[start:stop],
                )
            entries.append((key, entry))
        return entries


def _position_blob(deltas, first, freqs):
    """Each posting's positions (``deltas``, a posting's ``first`` being its position) as
    :class:`CompactPositions` encodes them, one after the other; returns the bytes (as an
    array) and each posting's size."""
    top = np.maximum.reduceat(deltas, first)
    width = np.where(top < 0x100, 1, np.where(top < 0x10000, 2, 4)).astype(np.int64)
    del top
    sizes = 1 + freqs * width
    begins = np.cumsum(sizes) - sizes
    blob = np.zeros(int(begins[-1] + sizes[-1]), dtype=np.uint8)
    blob[begins] = np.where(width == 1, ord("B"), np.where(width == 2, ord("H"), ord("I")))
    posting = np.repeat(np.arange(len(first), dtype=np.int64), freqs)
    occurrence_width = width[posting]
    # where each delta goes: after its posting's code, at its index in the posting
    at = (
        begins[posting]
        + 1
        + (np.arange(len(deltas), dtype=np.int64) - first[posting]) * (occurrence_width)
    )
    del posting
    for byte in range(4):  # little-endian, as many bytes as the posting's width
        some = occurrence_width > byte
        blob[at[some] + byte] = (deltas[some] >> (8 * byte)) & 0xFF
    return blob, sizes


class SegmentBuilder(SegmentWriter):
    """A writer of one new segment: documents in, a segment out; no deletes, no merges.

    Whoosh's own writer sends each posting through an external-sort pool, then through a
    generic loop that checks their order one by one; this one groups postings by term in a
    dictionary as the posts come in and writes each term's arrays in one go at the end.
    """

    def __init__(self, ix, **kwargs):
        super().__init__(_WriterIndex(ix), _lk=False, codec=SearchkitCodec(), **kwargs)
        self.storage = ix.storage
        # fieldname -> term bytes -> [(docnum, weight, value), ...]
        self._terms: dict[str, dict[bytes, list[tuple[int, float, bytes]]]] = {}
        # fieldname -> docnum -> field length, as Whoosh keeps it (one byte, approximate)
        self._lengths: dict[str, dict[int, int]] = {}
        # segments being merged: their arrays and each post's new number (-1: deleted)
        self._sources: list[tuple[SegmentArrays, np.ndarray]] = []
        self._list_cache: dict[tuple[int, str], tuple[list[int], list[int]]] = {}
        # fieldname -> the token streams of a field that gives them (``index_stream``)
        self._streams: dict[str, TokenStreams] = {}
        # (fieldname, value) -> its terms, for a field whose values repeat (a day) and whose
        # postings hold none
        self._indexed: dict[tuple[str, object], list] = {}

    def add_segment(self, reader) -> None:
        """Append the live posts of an open segment reader: stored fields and columns one
        post at a time (Whoosh's own copy), postings term by term as arrays at the end."""
        base = self.docnum
        arrays = SegmentArrays(reader, 0)
        live = arrays.live()
        self._copy_columns(reader, np.flatnonzero(live).tolist())
        docmap = np.cumsum(live, dtype=np.int64) - 1 + base
        docmap[~live] = -1
        self._sources.append((arrays, docmap))
        self._added = self._added or self.docnum > base

    def _copy_columns(self, reader, keep: list[int]) -> None:
        """Copy the per-post data (stored fields, lengths, columns) of the posts ``keep`` of
        a segment as the bytes they are: Whoosh's own copy unpickles, pickles and compresses
        each post's stored fields again."""
        source = reader._perdoc  # private from here on: W3's per-document reader and writer
        target = self.perdocwriter
        base = self.docnum
        names = [("_stored", STORED_COLUMN, None)]
        for name in self.schema.scorable_names():
            names.append((_lenfield(name), LENGTHS_COLUMN, name))
        for name in self.schema.names():
            if self.schema[name].column_type is not None:
                names.append((name, self.schema[name].column_type, None))
        for name, column, lengths_of in names:
            if not source.has_column(name):
                continue
            if isinstance(column, columns.NumericColumn):
                raw, add_raw = column, None
            else:  # variable-length bytes, compressed or pickled or not: copied as bytes
                raw, add_raw = columns.VarBytesColumn(), columns.VarBytesColumn.Writer.add
            values = source.column_reader(name, raw)
            if not target._has_column(name):
                target._create_column(name, column)
            writer = target._get_column(name)
            while add_raw is not None and not isinstance(writer, columns.VarBytesColumn.Writer):
                writer = writer._child  # the bytes writer under pickling and compression
            add = writer.add if add_raw is None else add_raw.__get__(writer)
            for n, docnum in enumerate(keep):
                value = values[docnum]
                if add_raw is None or value:
                    add(base + n, value)
            if lengths_of is not None:  # a length column: the field's total length too
                lengths = [byte_to_length(values[d]) for d in keep]
                target._fieldlengths[lengths_of] += sum(n for n in lengths if n)
        target._doccount += len(keep)
        self.docnum += len(keep)

    @property
    def added(self) -> bool:
        return self._added  # private: whether any document was added

    def add_document(self, **fields):
        schema = self.schema
        docnum = self.docnum
        perdoc = self.perdocwriter
        perdoc.start_doc(docnum)
        for name in sorted(n for n in fields if not n.startswith("_")):
            value = fields[name]
            if value is None:
                continue
            fieldobj = schema[name]
            length = 0
            if fieldobj.indexed:
                stream = getattr(fieldobj, "index_stream", None)
                if stream is not None:  # words in order: postings made as arrays at the end
                    table, entries = stream(value)
                    streams = self._streams.get(name)
                    if streams is None:
                        streams = self._streams[name] = TokenStreams(table)
                    length = streams.add(docnum, entries)
                else:
                    terms = self._terms.setdefault(name, {})
                    indexed = self._indexed.get((name, value))
                    if indexed is None:
                        indexed = list(fieldobj.index(value))
                        if not fieldobj.unique and not any(found[3] for found in indexed):
                            # a day's eight terms, a year's: made once per segment (terms
                            # with values, a tag's frequency, are made again, so that each
                            # posting has its own value as in a merge)
                            self._indexed[name, value] = indexed
                    for btext, freq, weight, vbytes in indexed:
                        posting = (docnum, weight, vbytes)
                        found = terms.get(btext)
                        if found is None:
                            terms[btext] = [posting]
                        else:
                            found.append(posting)
                        length += freq
                if fieldobj.scorable:
                    self._lengths.setdefault(name, {})[docnum] = byte_to_length(
                        length_to_byte(length)
                    )
                else:
                    length = 0
            stored = fields.get(f"_stored_{name}", value)
            perdoc.add_field(name, fieldobj, stored if fieldobj.stored else None, length)
            if fieldobj.column_type and stored is not None:
                perdoc.add_column_value(
                    name, fieldobj.column_type, fieldobj.to_column_value(stored)
                )
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        if self._sources:
            self._flush_merged()
            return
        fieldwriter = self.fieldwriter
        postfile = fieldwriter._postfile  # private: the segment's postings file
        for name in sorted(set(self._terms) | set(self._streams)):
            lengths = self._lengths.get(name, {})
            fieldwriter.start_field(name, self.schema[name])
            prefix = pack_ushort(fieldwriter._fieldid)  # private: the field's number
            if name in self._streams:
                boost = self.schema[name].format.field_boost
                entries = self._streams[name].write(postfile, prefix, lengths, boost)
            else:
                terms = self._terms[name]
                entries = []
                for btext in sorted(terms):
                    docnums, weights, values = zip(*terms[btext], strict=True)
                    found = [lengths.get(d, 0) for d in docnums]
                    entry = write_postings(postfile, docnums, weights, values, found)
                    entries.append((prefix + btext, entry))
            add_terms(fieldwriter._tindex, entries)  # private: the term dictionary
            fieldwriter.finish_field()
        fieldwriter.close()
        self._terms.clear()
        self._streams.clear()
        self._lengths.clear()
        self._indexed.clear()

    def _flush_merged(self) -> None:
        """Write the postings of the segments added with :meth:`add_segment`: each term's
        arrays from each segment, renumbered, without their deleted posts, one after the
        other."""
        import heapq

        fieldwriter = self.fieldwriter
        postfile = fieldwriter._postfile  # private: the segment's postings file
        names = set()
        for arrays, _ in self._sources:
            names.update(arrays.field_names())
        for name in sorted(n for n in names if n in self.schema.names()):
            fieldwriter.start_field(name, self.schema[name])
            prefix = pack_ushort(fieldwriter._fieldid)  # private: the field's number
            streams = [
                _numbered(arrays.term_entries(name), n)
                for n, (arrays, _) in enumerate(self._sources)
            ]
            entries: list[tuple[bytes, bytes]] = []
            group: list[tuple[int, bytes]] = []
            current = None
            # in term order, then segment order (no two items have both alike, so the
            # entries themselves are never compared)
            for btext, n, entry in heapq.merge(*streams):
                if btext != current and group:
                    entries.append((prefix + current, self._merged_entry(postfile, name, group)))
                    group = []
                current = btext
                group.append((n, entry))
            if group:
                entries.append((prefix + current, self._merged_entry(postfile, name, group)))
            entries = [entry for entry in entries if entry[1] is not None]
            add_terms(fieldwriter._tindex, entries)  # private: the term dictionary
            fieldwriter.finish_field()
        fieldwriter.close()
        self._sources.clear()

    def _merged_entry(self, postfile, name: str, group) -> bytes | None:
        """One term's postings from the segments merged (``(segment, entry bytes)``),
        renumbered, deleted posts dropped."""
        copied = self._copied_entry(name, group)
        if copied is not None:
            return copied
        group = [(n, self._sources[n][0].entry_postings(entry)) for n, entry in group]
        if sum(len(postings) for _, postings in group) <= _SMALL_MERGE:
            return self._merged_small(postfile, name, group)
        ids, weights, sizes, blobs, lengths = [], [], [], [], []
        for n, postings in group:
            arrays, docmap = self._sources[n]
            new = docmap[postings.ids]
            keep = new >= 0
            if not keep.any():
                continue
            size = postings.sizes()
            blob = postings.blob()
            if not keep.all():
                if len(blob):
                    blob = np.frombuffer(blob, np.uint8)[np.repeat(keep, size)]
                size = size[keep]
            ids.append(new[keep])
            weights.append(postings.weights[keep])
            sizes.append(size)
            blobs.append(bytes(blob))
            lengths.append(arrays.lengths(name)[postings.ids[keep]])
        if not ids:
            return None
        return write_arrays(
            postfile,
            np.concatenate(ids),
            np.concatenate(weights),
            np.concatenate(sizes),
            b"".join(blobs),
            np.concatenate(lengths),
        )

    def _copied_entry(self, name: str, group) -> bytes | None:
        """The entry of a term inline in each segment that holds it, in too few posts in all to
        be written apart, none of those segments with deletions (most terms): their entries
        joined, the post numbers moved, without reading them as postings; else None."""
        heads, shifts = [], []
        for n, entry in group:
            if entry[0] != 1:  # the entry's flags: 1 for inline postings
                return None
            shift = self._lists(n, name)[2]
            if shift is None:  # that segment has deletions
                return None
            heads.append(_TERMINFO.unpack_from(entry))
            shifts.append(shift)
        if len(group) == 1:
            return _shifted_inline(group[0][1], shifts[0])
        if sum(head[2] for head in heads) > INLINE_LIMIT:
            return None
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []
        for (_, entry), shift in zip(group, shifts, strict=True):
            docnums, found, positions = safepickle.loads(entry[_TERMINFO.size :])
            ids += [docnum + shift for docnum in docnums]
            weights += found
            values += positions
        floats = array("f", weights)
        low = [head[3] for head in heads if head[3]]  # each entry's shortest length, as a byte
        high = [head[4] for head in heads if head[4]]
        head = _TERMINFO.pack(
            1,
            sum(floats),
            len(ids),
            min(low) if low else 0,
            max(high) if high else 0,
            max(floats),
            ids[0],
            ids[-1],
        )
        postings = (tuple(ids), tuple(map(_number, floats)), tuple(_interned(values)))
        return head + pickle.dumps(postings, PICKLE_PROTOCOL)

    def _merged_small(self, postfile, name: str, group) -> bytes | None:
        """:meth:`_merged_entry` for a term in few posts, in plain Python (numpy's cost per
        call is more than the work)."""
        ids, weights, values, lengths = [], [], [], []
        for n, postings in group:
            docmap, table, base = self._lists(n, name)
            found = postings.id_list()
            if base is not None:  # no deletions: the posts keep their order, shifted
                ids += [docnum + base for docnum in found]
                weights += postings.weight_list()
                values += postings.values()
                lengths += [table[docnum] for docnum in found]
                continue
            for docnum, weight, value in zip(
                found, postings.weight_list(), postings.values(), strict=True
            ):
                if docmap[docnum] >= 0:
                    ids.append(docmap[docnum])
                    weights.append(weight)
                    values.append(value)
                    lengths.append(table[docnum])
        if not ids:
            return None
        return write_postings(postfile, ids, weights, values, lengths)

    def _lists(self, n: int, name: str) -> tuple[list[int], list[int], int | None]:
        """A merged segment's new post numbers, a field's lengths, as Python lists, and the
        shift of its post numbers when it has no deletions."""
        key = (n, name)
        found = self._list_cache.get(key)
        if found is None:
            arrays, docmap = self._sources[n]
            base = None if (docmap < 0).any() else int(docmap[0]) if len(docmap) else 0
            found = (docmap.tolist(), [int(v) for v in arrays.lengths(name).tolist()], base)
            self._list_cache[key] = found
        return found

    def finish(self):
        """The finished segment, or None when no document was added."""
        try:
            if not self._added:
                self._close_segment()
                return None
            return self._finalize_segment()
        finally:
            self._tempstorage.destroy()  # private: the writer's temporary folder

    def abandon(self) -> None:
        try:
            self._close_segment()
        finally:
            self._tempstorage.destroy()


def _numbered(terms, n: int):
    for btext, postings in terms:
        yield btext, n, postings


def add_terms(tindex, entries: list[tuple[bytes, bytes]]) -> None:
    """``OrderedHashWriter.add`` for many keys (in order) at once: the same bytes on disk,
    one write, and MD5 hashes taken straight from the digest."""
    if not entries:
        return
    if entries[0][0] <= tindex.lastkey:
        raise ValueError(f"keys must increase: {tindex.lastkey!r}..{entries[0][0]!r}")
    dbfile = tindex.dbfile
    pos = dbfile.tell()
    chunks = []
    positions = tindex.index.append
    buckets = tindex.buckets
    pack = _LENGTHS.pack
    for key, value in entries:
        positions(pos)
        chunks.append(pack(len(key), len(value)))
        chunks.append(key)
        chunks.append(value)
        h = int.from_bytes(md5(key, usedforsecurity=False).digest()[12:], "big")
        buckets[h & 255].append((h, pos))
        pos += 8 + len(key) + len(value)
    dbfile.write(b"".join(chunks))
    tindex.lastkey = entries[-1][0]


#: Segments within a factor of this of each other in size are one tier; a tier of this many
#: segments is merged into one, so that each post is rewritten about log(N) / log(8) times.
MERGE_FACTOR = 8


def open_writer(ix):
    """A Whoosh writer for deletions and the commit, without Whoosh's lock (searchkit's own
    lock keeps other writers out; a forked builder must not inherit Whoosh's)."""
    writer = SegmentWriter(_WriterIndex(ix), codec=SearchkitCodec(), _lk=False)  # no lock
    writer.storage = ix.storage
    return writer


def commit_segments(ix, writer, segments: list) -> None:
    """Commit ``writer`` (its deletions) with ``segments`` built elsewhere added, merging
    segments tier by tier (:data:`MERGE_FACTOR`) and rewriting any that is mostly deleted."""
    given = list(writer.segments) + list(segments)  # private from here on
    final = merge_tiers(ix, given)
    writer._close_segment()
    toc = TOC(writer.schema, final, writer.generation)
    toc.write(writer.storage, writer.indexname)
    # Remove what the new table of contents no longer names: the older tables and the
    # segments merged away or emptied.  Whoosh's own clean-up removes every segment file it
    # does not name, and would take those a builder is writing for the next commit.
    named = {seg.segment_id() for seg in final}
    dropped = {seg.segment_id() for seg in given} | {writer.newsegment.segment_id()}
    tocs = TOC._pattern(writer.indexname)
    files = TOC._segment_pattern(writer.indexname)
    for name in list(writer.storage):
        toc_match, segment_match = tocs.match(name), files.match(name)
        if (toc_match and int(toc_match.group(1)) != writer.generation) or (
            segment_match and segment_match.group(1) in dropped - named
        ):
            with contextlib.suppress(OSError):
                writer.storage.delete_file(name)
    writer._finish()


def merge_plan(sizes: list[tuple[int, int]]) -> list[list[int]]:
    """Which segments to merge: ``sizes`` are ``(live, all)`` post counts; returns groups of
    indexes.  A tier (live count within a factor of :data:`MERGE_FACTOR`) that holds
    ``MERGE_FACTOR`` segments is merged, and again for the tier the result joins; a segment
    with more deleted posts than live ones is rewritten."""
    groups: list[list[int]] = []
    pending = [(live, [n]) for n, (live, every) in enumerate(sizes) if live and live * 2 >= every]
    groups.extend([n] for n, (live, every) in enumerate(sizes) if live and live * 2 < every)
    while True:
        tiers: dict[int, list[tuple[int, list[int]]]] = {}
        for item in pending:
            tiers.setdefault(_tier(item[0]), []).append(item)
        full = [tier for tier in sorted(tiers) if len(tiers[tier]) >= MERGE_FACTOR]
        if not full:
            break
        chosen = tiers[full[0]]
        merged = (sum(live for live, _ in chosen), [n for _, ns in chosen for n in ns])
        pending = [item for item in pending if item not in chosen] + [merged]
    groups.extend(ns for _, ns in pending if len(ns) > 1)
    return groups


def _tier(count: int) -> int:
    tier = 0
    while count >= MERGE_FACTOR:
        count //= MERGE_FACTOR
        tier += 1
    return tier


def merge_tiers(ix, segments: list) -> list:
    """The segments to commit: ``segments`` with those :func:`merge_plan` picks merged."""
    from whoosh.reading import SegmentReader

    segments = [seg for seg in segments if seg.doc_count_all()]
    groups = merge_plan([(seg.doc_count(), seg.doc_count_all()) for seg in segments])
    merged_away = {n for group in groups for n in group}
    final = [seg for n, seg in enumerate(segments) if n not in merged_away and seg.doc_count()]
    for group in groups:
        builder = SegmentBuilder(ix)
        readers = []
        try:
            for n in sorted(group):
                readers.append(SegmentReader(ix.storage, ix.schema, segments[n]))
                builder.add_segment(readers[-1])
            merged = builder.finish()
        except BaseException:
            builder.abandon()
            raise
        finally:
            for reader in readers:
                reader.close()
        if merged is not None:
            final.append(merged)
    return final


# --- reading segments as arrays ---------------------------------------------------------------


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

    def term_entries(self, fieldname: str):
        """``(term bytes, entry bytes)`` of every term of a field, in order, read straight from
        the term dictionary's records (:meth:`terms` decodes each entry and its postings)."""
        terms = self._terms
        if fieldname not in terms.indexed_field_names():
            return
        tindex = terms._tindex  # private from here on: the term dictionary, an ordered hash
        prefix = pack_ushort(terms._fieldmap[fieldname])
        pos = tindex.closest_key_pos(prefix)
        if pos is None:
            return
        end = tindex.endofdata
        buf, base = _buffer(tindex.dbfile, pos, end - pos)
        at, stop = base, base + end - pos
        unpack, width = _LENGTHS.unpack_from, _LENGTHS.size
        while at < stop:
            keylen, datalen = unpack(buf, at)
            key = bytes(buf[at + width : at + width + keylen])
            if key[:2] != prefix:
                return
            at += width + keylen
            yield key[2:], bytes(buf[at : at + datalen])
            at += datalen

    def entry_postings(self, entry: bytes) -> Postings:
        """The postings of a term-dictionary entry of this segment."""
        return read_postings(self._postfile, W3TermInfo.from_bytes(entry))

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

    def byte_values(self, fieldname: str) -> list[bytes]:
        """Each post's value in a column of bytes (empty where it has none), in one read."""
        if fieldname not in self.reader.schema or not self.reader.has_column(fieldname):
            return [b""] * self.size
        creader = self.reader.column_reader(fieldname, translate=False)
        offsets, lengths = creader._offsets, creader._lengths  # private: the column layout
        total = (offsets[-1] + lengths[-1]) if len(lengths) else 0
        data = creader._dbfile.get(creader._basepos, total)
        values = [data[o : o + n] for o, n in zip(offsets, lengths, strict=True)]
        return values + [b""] * (self.size - len(values))

    def joined_values(self, fieldname: str) -> bytes | None:
        """Every post's value in a column of bytes, joined by NULs (for values that hold
        none), in one read and one copy; None when a post has no value."""
        if fieldname not in self.reader.schema or not self.reader.has_column(fieldname):
            return None
        creader = self.reader.column_reader(fieldname, translate=False)
        offsets = np.asarray(creader._offsets, dtype=np.int64)  # private: the column layout
        lengths = np.asarray(creader._lengths, dtype=np.int64)
        if len(lengths) != self.size or not len(lengths) or not lengths.all():
            return None
        total = int(offsets[-1] + lengths[-1])
        data = np.frombuffer(creader._dbfile.get(creader._basepos, total), dtype=np.uint8)
        if total != int(lengths.sum()) or (offsets[1:] != offsets[:-1] + lengths[:-1]).any():
            return None  # not one value after another
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
