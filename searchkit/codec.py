"""Whoosh's W3 codec, made lean for many short posting lists.

Three things cost most of a build in plain Whoosh and are changed here, on the index format's
own extension points (the codec and the format are pickled with each segment and the schema,
so an index always reads back with the code that wrote it):

* Postings are pickled with protocol 5, not 2 (half the bytes for short lists).
* Positions are stored as one array of deltas (1, 2 or 4 bytes each) instead of a pickled
  list behind a 4-byte count: about a quarter of the bytes, and decoded in C.
* A term found in only a few posts keeps its postings inline in the term dictionary, with no
  block in the postings file (W3 has this switch, but its writer calls a method that does not
  exist, so it was never used).  Blocks too small to gain from zlib are stored as they are.
* Field lengths, looked up once per posting while a segment is written and once per hit
  while scoring, are read from their column in one go and kept as a table.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from itertools import accumulate

from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3PerDocReader,
    W3PostingsWriter,
    W3Segment,
    _lenfield,
)
from whoosh.compat import dumps
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.formats import Positions
from whoosh.util.numeric import byte_to_length, length_to_byte

#: Terms in at most this many posts of a segment are stored inline in the term dictionary.
INLINE_LIMIT = 8
#: W3 pickles with protocol 2, which spells each bytes object as a call to
#: ``_codecs.encode`` (about 30 bytes more per posting); any protocol reads back.
PICKLE_PROTOCOL = 5
#: Pickled blocks shorter than this are stored uncompressed.
COMPRESS_MIN = 64

_SWAP = sys.byteorder == "big"  # positions are stored little-endian
_ONE_BYTE = [b"B" + bytes((pos,)) for pos in range(0x100)]


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
        packed = array(chr(valuestring[0]))
        packed.frombytes(valuestring[1:])
        if _SWAP:
            packed.byteswap()
        return list(accumulate(packed))

    def decode_frequency(self, valuestring):
        return (len(valuestring) - 1) // array(chr(valuestring[0])).itemsize

    def decode_weight(self, valuestring):
        return self.decode_frequency(valuestring) * self.field_boost

    def decode_position_boosts(self, valuestring):
        return [(pos, 1) for pos in self.decode_positions(valuestring)]


class _PostingsWriter(W3PostingsWriter):
    def finish_postings(self):
        if not self.written() and len(self) <= self._inlinelimit:
            terminfo = self._terminfo
            terminfo.add_block(self)
            terminfo.set_inlined(self._ids, self._weights, self._values)
            self._terminfo = None
            return terminfo
        return super().finish_postings()

    def _write_block(self, last=False):
        # W3PostingsWriter._write_block, with the compression decided per block
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        databytes = dumps(
            (self._mini_ids(), self._mini_weights(), self._mini_values()), PICKLE_PROTOCOL
        )
        comp = self._compression if len(databytes) >= COMPRESS_MIN else 0
        if comp:
            databytes = zlib.compress(databytes, comp)
        ids = self._ids
        infobytes = dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                comp,
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            ),
            PICKLE_PROTOCOL,
        )
        blocklength = len(infobytes) + len(databytes)
        if last:
            blocklength *= -1
        self._postfile.write_int(blocklength)
        self._postfile.write(infobytes)
        self._postfile.write(databytes)
        self._blockcount += 1
        self._new_block()


class _PerDocReader(W3PerDocReader):
    def __init__(self, storage, segment):
        super().__init__(storage, segment)
        self._length_tables = {}

    def doc_field_length(self, docnum, fieldname, default=0):
        table = self._length_tables.get(fieldname)
        if table is None:
            reader = self._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if reader is None:
                return default
            # one read of the whole one-byte-per-post column
            table = reader._dbfile.get(reader._basepos, reader._count)
            self._length_tables[fieldname] = table
        lbyte = table[docnum] if docnum < len(table) else 0
        return byte_to_length(lbyte) if lbyte else None


class SearchkitCodec(W3Codec):
    """W3 with inline short posting lists, per-block compression and table lookups of lengths."""

    def __init__(self, blocklimit=128, compression=3, inlinelimit=INLINE_LIMIT):
        super().__init__(blocklimit, compression, inlinelimit)

    def postings_writer(self, dbfile, byteids=False):
        return _PostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def per_document_reader(self, storage, segment):
        return _PerDocReader(storage, segment)

    def new_segment(self, storage, indexname):
        return _Segment(self, indexname)


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
