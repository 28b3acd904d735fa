"""Writing new posts as Whoosh segments, fast and on every core.

Whoosh's own writer sends each posting through an external-sort pool, then through a
generic loop that checks their order one by one.  :class:`SegmentBuilder` groups postings by
term in a dictionary as the posts come in and, at the end, writes each term's postings in
one go; the files it writes are plain Whoosh segments (with :class:`SearchkitCodec`).

:func:`build_segments` splits the posts to write into one contiguous share per core, builds
a segment from each share in a forked process (the posts are read, converted and analysed
there too) and returns the segments for the caller's writer to commit.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import traceback
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import md5

from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.compat import dumps
from whoosh.filedb.filetables import _lengths as _LENGTHS
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from .codec import INLINE_LIMIT, PICKLE_PROTOCOL, SearchkitCodec
from .errors import SearchkitError

_TERMINFO = W3TermInfo._struct


class SegmentBuilder(SegmentWriter):
    """A writer of one new segment: documents in, a segment out; no deletes, no merges."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, _lk=False, codec=SearchkitCodec(), **kwargs)
        # fieldname -> term bytes -> [(docnum, weight, value), ...]
        self._terms: dict[str, dict[bytes, list[tuple[int, float, bytes]]]] = {}
        # fieldname -> docnum -> field length, as Whoosh keeps it (one byte, approximate)
        self._lengths: dict[str, dict[int, int]] = {}

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
                terms = self._terms.setdefault(name, {})
                for btext, freq, weight, vbytes in fieldobj.index(value):
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
        fieldwriter = self.fieldwriter
        for name in sorted(self._terms):
            terms = self._terms[name]
            lengths = self._lengths.get(name, {})
            fieldobj = self.schema[name]
            fieldwriter.start_field(name, fieldobj)
            prefix = pack_ushort(fieldwriter._fieldid)
            postwriter = fieldwriter._postwriter
            entries = []
            for btext in sorted(terms):
                docnums, weights, values = zip(*terms[btext], strict=True)
                found = [lengths.get(d, 0) for d in docnums]
                if len(docnums) <= INLINE_LIMIT:
                    info = _inline_terminfo(docnums, weights, values, found)
                else:
                    postwriter.start_postings(fieldobj.format, W3TermInfo())
                    add_postings(postwriter, docnums, weights, values, found)
                    info = postwriter.finish_postings().to_bytes()
                entries.append((prefix + btext, info))
            add_terms(fieldwriter._tindex, entries)
            fieldwriter.finish_field()
        fieldwriter.close()
        self._terms.clear()
        self._lengths.clear()


def _inline_terminfo(docnums, weights, values, lengths) -> bytes:
    """The term-dictionary entry of a term whose postings are kept inline: the bytes
    ``W3TermInfo.to_bytes`` gives after W3's own writer has buffered the same postings."""
    if len(docnums) == 1:  # most terms
        docnum, weight, value, length = docnums[0], weights[0], values[0], lengths[0]
        lbyte = length_to_byte(length) if length else 0
        head = _TERMINFO.pack(1, weight, 1, lbyte, lbyte, weight, docnum, docnum)
        posting = ((docnum,), (_number(weight),), (value,) if value else ())
        return head + dumps(posting, PICKLE_PROTOCOL)
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
    return head + dumps(postings, PICKLE_PROTOCOL)


def _number(weight: float) -> float | int:
    """Whole weights (frequencies, mostly) pickle shorter as ints."""
    whole = int(weight)
    return whole if whole == weight else weight


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


def add_postings(postwriter, docnums, weights, values, lengths) -> None:
    """Fill ``postwriter`` (a W3 postings writer) with one term's postings, block by block."""
    limit = postwriter._blocklimit
    for start in range(0, len(docnums), limit):
        if postwriter._ids:
            postwriter._write_block()
        end = start + limit
        postwriter._ids = array("I", docnums[start:end])
        block_weights = weights[start:end]
        postwriter._weights = array("f", block_weights)
        postwriter._values = [v for v in values[start:end] if v]
        postwriter._maxweight = max(block_weights)
        block_lengths = [n for n in lengths[start:end] if n]
        postwriter._minlength = min(block_lengths) if block_lengths else None
        postwriter._maxlength = max(block_lengths) if block_lengths else 0


# --- many cores -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one file given to a builder."""

    root: str
    path: str
    kind: str  # "added", "updated", "unchanged" or "skipped"
    notes: list[str] | str = field(default_factory=list)


@dataclass
class Share:
    """One builder's work: the files, and the digests already indexed for them, by
    ``(root, path)``."""

    sources: list
    digests: dict[tuple[str, str], str]


def shares(sources: list, digests: dict[tuple[str, str], str], count: int) -> list[Share]:
    """Cut ``sources`` into ``count`` contiguous runs of about equal bytes (so that
    document order, and with it the order of equal scores, does not depend on the cores)."""
    total = sum(s.size for s in sources) or 1
    out: list[Share] = []
    current: list = []
    done = 0
    for source in sources:
        current.append(source)
        done += source.size
        if len(out) < count - 1 and done >= total * (len(out) + 1) / count:
            out.append(Share(current, {}))
            current = []
    if current or not out:
        out.append(Share(current, {}))
    for share in out:
        keys = ((s.root, s.path) for s in share.sources)
        share.digests = {key: digests[key] for key in keys if key in digests}
    return out


def build(ix, share: Share, to_document: Callable, read: Callable, tick: Callable[[], None]):
    """Build one segment from ``share`` in this process; returns ``(segment, outcomes)``."""
    builder = SegmentBuilder(ix)
    outcomes: list[Outcome] = []
    # Millions of small objects that all live until the segment is written: the cyclic
    # garbage collector would walk them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for source, post, notes in read(share.sources):
            tick()
            if post is None:
                outcomes.append(Outcome(source.root, source.path, "skipped", notes))
                continue
            old = share.digests.get((source.root, source.path))
            if old == post.digest:
                outcomes.append(Outcome(source.root, source.path, "unchanged", notes))
                continue
            builder.add_document(**to_document(post))
            kind = "added" if old is None else "updated"
            outcomes.append(Outcome(source.root, source.path, kind, notes))
        if not builder._added:
            builder._close_segment()
            return None, outcomes
        return builder._finalize_segment(), outcomes
    except BaseException:
        builder._close_segment()
        raise
    finally:
        if collecting:
            gc.enable()


def build_parallel(
    ix,
    work: list[Share],
    to_document: Callable,
    read: Callable,
    progress: Callable[[int], None] | None = None,
) -> tuple[list, list[Outcome]]:
    """Build a segment per share, each in a forked process; returns the segments and the
    outcomes, in the order of the shares.

    The builders die with this process (whatever kills it), hold none of its locks, and are
    killed when it stops for any reason before they are done.
    """
    import multiprocessing as mp
    import queue
    import time

    context = mp.get_context("fork")
    counter = context.Value("l", 0)
    results = context.Queue()
    parent = os.getpid()

    def run(number: int, share: Share) -> None:
        _die_with(parent)

        def tick() -> None:
            if os.getppid() != parent:  # the indexer is gone: stop writing
                os._exit(1)
            with counter.get_lock():
                counter.value += 1

        try:
            results.put((number, build(ix, share, to_document, read, tick), None))
        except BaseException as exc:  # the parent reports it
            results.put((number, None, _failure(exc)))

    workers = [context.Process(target=run, args=(n, s), daemon=True) for n, s in enumerate(work)]
    got: dict[int, tuple] = {}
    failure = None
    try:
        for worker in workers:
            worker.start()
        while len(got) < len(workers):
            if progress:
                progress(counter.value)
            try:
                number, built, error = results.get(timeout=0.1)
            except queue.Empty:  # check that no builder died without a word
                if any(w.exitcode not in (None, 0) for w in workers) and results.empty():
                    time.sleep(0.2)
                    if results.empty():
                        failure = (None, "a builder process died")
                        break
                continue
            got[number] = built
            failure = failure or error
        for worker in workers:
            worker.join(timeout=5)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
    if progress:
        progress(counter.value)
    if failure:
        code, message = failure
        if code is not None:  # a full disk or a read-only folder: the caller says which
            raise OSError(code, os.strerror(code))
        raise SearchkitError(f"indexing failed: {message.splitlines()[0]}")
    segments = [got[n][0] for n in range(len(work)) if got[n][0] is not None]
    outcomes = [o for n in range(len(work)) for o in got[n][1]]
    return segments, outcomes


#: ``prctl(PR_SET_PDEATHSIG, ...)``: Linux sends the signal to a child when its parent dies.
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Make this forked builder end with the indexer: killed when it dies (Linux), and left
    to it for Ctrl-C and SIGTERM, which it answers by stopping its builders."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the tick's parent check still stops it
        pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _failure(exc: BaseException) -> tuple[int | None, str]:
    """What a builder sends back about its failure: an OS error number, when the cause is
    the disk, and a message."""
    code = exc.errno if isinstance(exc, OSError) else None
    return code, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


def build_here(
    ix, share: Share, to_document: Callable, read: Callable, progress=None
) -> tuple[list, list[Outcome]]:
    """The same as one builder of :func:`build_parallel`, in this process."""
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if progress:
            progress(count)

    segment, outcomes = build(ix, share, to_document, read, tick)
    return ([segment] if segment is not None else []), outcomes
