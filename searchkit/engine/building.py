"""Writing segments: token streams of analysed posts, and the builder that turns them into a
segment's postings, term dictionary, columns and stored fields."""

from __future__ import annotations

import contextlib
from array import array
from hashlib import md5

import numpy as np
from whoosh import columns
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    STORED_COLUMN,
    _lenfield,
)
from whoosh.filedb.filetables import _lengths as _LENGTHS
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from .arrays import SegmentArrays
from .codec import SearchkitCodec
from .postings import (
    INLINE,
    INLINE_LIMIT,
    SMALL_MERGE,
    doc_frequency,
    inline_bytes,
    inline_entries,
    inline_postings,
    shifted_inline,
    write_arrays,
    write_postings,
)
from .storage import WriterIndex

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
        texts = [tokens[number] for number in order]
        return write_terms(postfile, prefix, lengths, boost, terms, docs, positions, texts)


class PairStreams:
    """The character pairs of a segment's posts (:mod:`searchkit.strings`): each post's pair
    keys and offsets, made with numpy; at the end, each distinct key is a term, numbered in the
    order of its bytes, and written as :class:`TokenStreams` writes words."""

    def __init__(self) -> None:
        self.keys: list[np.ndarray] = []
        self.offsets: list[np.ndarray] = []
        self.docnums: list[int] = []
        self.counts: list[int] = []

    def add(self, docnum: int, found: tuple[np.ndarray, np.ndarray]) -> int:
        keys, offsets = found
        self.keys.append(keys)
        self.offsets.append(offsets)
        self.docnums.append(docnum)
        self.counts.append(len(keys))
        return len(keys)

    def write(self, postfile, prefix: bytes, lengths: dict[int, int], boost: float) -> list:
        from ..strings import key_text

        if not sum(self.counts):
            return []
        keys = np.concatenate(self.keys)
        positions = np.concatenate(self.offsets).astype(np.int64)
        docs = np.repeat(np.array(self.docnums, dtype=np.int64), self.counts)
        self.keys, self.offsets = [], []
        # a key orders as its pair's UTF-8 bytes: the distinct keys are the terms in order
        distinct, terms = np.unique(keys, return_inverse=True)
        del keys
        texts = [key_text(key).encode("utf-8", "surrogatepass") for key in distinct.tolist()]
        terms = terms.astype(np.uint32).reshape(-1)
        return write_terms(postfile, prefix, lengths, boost, terms, docs, positions, texts)


def write_terms(postfile, prefix, lengths, boost, terms, docs, positions, texts) -> list:
    """Write the postings of every term: ``terms`` (each token's term number, numbered in
    the order of ``texts``, the terms' bytes), ``docs`` and ``positions``, in the order the
    posts were added; returns the term-dictionary entries, in term order."""
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

    # one term-dictionary entry per run of a term: short lists inline, all made at once
    term_starts = np.flatnonzero(np.diff(posting_terms, prepend=-1) != 0)
    term_sizes = np.diff(term_starts, append=len(first))
    small = term_sizes <= INLINE_LIMIT
    picked = np.flatnonzero(np.repeat(small, term_sizes))
    small_sizes = term_sizes[small]
    inline = iter(
        inline_entries(
            posting_docs[picked],
            weights[picked],
            sizes[picked],
            (ends - sizes)[picked],
            blob,
            field_lengths[picked],
            np.cumsum(small_sizes) - small_sizes,
            small_sizes,
        )
    )
    del picked
    view = memoryview(blob)
    entries = []
    for term, start, size, short in zip(
        posting_terms[term_starts].tolist(),
        term_starts.tolist(),
        term_sizes.tolist(),
        small.tolist(),
        strict=True,
    ):
        if short:
            entry = next(inline)
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
        entries.append((prefix + texts[term], entry))
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
        super().__init__(WriterIndex(ix), _lk=False, codec=SearchkitCodec(), **kwargs)
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
                        # words come with their analyzer's table; character pairs without
                        kind = PairStreams() if table is None else TokenStreams(table)
                        streams = self._streams[name] = kind
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
        if sum(len(postings) for _, postings in group) <= SMALL_MERGE:
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
        shifts = []
        for n, entry in group:
            if entry[0] != INLINE:
                return None
            shift = self._lists(n, name)[2]
            if shift is None:  # that segment has deletions
                return None
            shifts.append(shift)
        if len(group) == 1:
            return shifted_inline(group[0][1], shifts[0])
        if sum(doc_frequency(entry) for _, entry in group) > INLINE_LIMIT:
            return None
        ids: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []
        lows, highs = [], []
        for (_, entry), shift in zip(group, shifts, strict=True):
            found, found_weights, found_values, low, high = inline_postings(entry)
            ids += [docnum + shift for docnum in found]
            weights += found_weights
            values += found_values or [b""] * len(found)
            if low:
                lows.append(low)
            if high:
                highs.append(high)
        low, high = min(lows, default=0), max(highs, default=0)
        return inline_bytes(ids, weights, values, low, high)

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
                self._remove_files()
                return None
            return self._finalize_segment()
        finally:
            self._tempstorage.destroy()  # private: the writer's temporary folder

    def abandon(self) -> None:
        try:
            self._close_segment()
            self._remove_files()
        finally:
            self._tempstorage.destroy()

    def _remove_files(self) -> None:
        """Remove the files of the segment this writer began and did not finish (an update
        that changed nothing leaves none behind)."""
        segment = self.newsegment  # the segment being written
        prefix = f"{segment.indexname}_{segment.segid}."
        for name in list(self.storage.list()):
            if name.startswith(prefix):
                with contextlib.suppress(OSError):
                    self.storage.delete_file(name)


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
