"""Committing segments into an index's table of contents, and merging them in tiers."""

from __future__ import annotations

import contextlib

from whoosh.index import TOC
from whoosh.writing import SegmentWriter

from .building import SegmentBuilder
from .codec import SearchkitCodec
from .storage import WriterIndex, write_manifest

#: Segments within a factor of this of each other in size are one tier; a tier of this many
#: segments is merged into one, so that each post is rewritten about log(N) / log(8) times.
MERGE_FACTOR = 8
#: How many segments a build must leave below its largest for them to be merged at its end
#: (half a tier: 200,000 posts leave four of 10,000 beside two of 80,000).  A search looks
#: each word up in every segment; the merge rewrites only what the last tier left.
LEFTOVERS = MERGE_FACTOR // 2


def open_writer(ix):
    """A Whoosh writer for deletions and the commit, without Whoosh's lock (searchkit's own
    lock keeps other writers out; a forked builder must not inherit Whoosh's)."""
    writer = SegmentWriter(WriterIndex(ix), codec=SearchkitCodec(), _lk=False)  # no lock
    writer.storage = ix.storage
    return writer


def cancel(writer) -> None:
    """Cancel a writer of :func:`open_writer` and remove the files of the segment it began
    (an update that changed nothing leaves nothing behind)."""
    segment = writer.newsegment
    prefix = f"{segment.indexname}_{segment.segid}."
    writer.cancel()
    for name in list(writer.storage.list()):
        if name.startswith(prefix):
            with contextlib.suppress(OSError):
                writer.storage.delete_file(name)


def commit_segments(ix, writer, segments: list, before: set[str] | None = None) -> None:
    """Commit ``writer`` (its deletions) with ``segments`` built elsewhere added, merging
    segments tier by tier (:data:`MERGE_FACTOR`) and rewriting any that is mostly deleted.
    At the end of a build, ``before`` names the segments there were when it began: what
    it leaves below its largest segments is merged (:func:`leftovers`)."""
    given = list(writer.segments) + list(segments)  # private from here on
    final = merge_tiers(ix, given)
    dropped = {seg.segment_id() for seg in given} | {writer.newsegment.segment_id()}
    if before is not None:
        small = leftovers(final, before)
        if small:
            merged = _merged(ix, [seg for seg in final if seg.segment_id() in small])
            final = [seg for seg in final if seg.segment_id() not in small]
            final += [merged] if merged is not None else []
            dropped |= small
    writer._close_segment()
    toc = TOC(writer.schema, final, writer.generation)
    toc.write(writer.storage, writer.indexname)  # for Whoosh's own tools: searchkit reads
    write_manifest(writer.storage, writer.generation, ix.analyzer_settings(), final)  # last
    # Remove what the new table of contents no longer names: the older tables and the
    # segments merged away or emptied.  Whoosh's own clean-up removes every segment file it
    # does not name, and would take those a builder is writing for the next commit.
    named = {seg.segment_id() for seg in final}
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


def leftovers(segments: list, before: set[str]) -> frozenset[str]:
    """The segments a long build leaves below its largest (those not in ``before``, the
    segments there were when it began), when there are :data:`LEFTOVERS` or more: merged
    into one at its end, a search reads each term from fewer segments.  Fewer are left as
    they are: a short update merges nothing."""
    new = [seg for seg in segments if seg.segment_id() not in before and seg.doc_count()]
    if not new:
        return frozenset()
    top = max(_tier(seg.doc_count()) for seg in new)
    small = frozenset(seg.segment_id() for seg in new if _tier(seg.doc_count()) < top)
    return small if len(small) >= LEFTOVERS else frozenset()


def _tier(count: int) -> int:
    tier = 0
    while count >= MERGE_FACTOR:
        count //= MERGE_FACTOR
        tier += 1
    return tier


def merge_tiers(ix, segments: list) -> list:
    """The segments to commit: ``segments`` with those :func:`merge_plan` picks merged."""
    segments = [seg for seg in segments if seg.doc_count_all()]
    groups = merge_plan([(seg.doc_count(), seg.doc_count_all()) for seg in segments])
    merged_away = {n for group in groups for n in group}
    final = [seg for n, seg in enumerate(segments) if n not in merged_away and seg.doc_count()]
    for group in groups:
        merged = _merged(ix, [segments[n] for n in sorted(group)])
        if merged is not None:
            final.append(merged)
    return final


def _merged(ix, segments: list):
    """One segment of the live posts of ``segments`` (None if none is left)."""
    from whoosh.reading import SegmentReader

    builder = SegmentBuilder(ix)
    readers = []
    try:
        for segment in segments:
            readers.append(SegmentReader(ix.storage, ix.schema, segment))
            builder.add_segment(readers[-1])
        return builder.finish()
    except BaseException:
        builder.abandon()
        raise
    finally:
        for reader in readers:
            reader.close()


def delete_posts(writer, paths, keep) -> int:
    """Delete, through ``writer``, the live posts at each of ``paths`` whose signature column
    ``keep(path, sig)`` accepts; returns how many there were."""
    reader = writer.searcher().reader()
    if reader.doc_count_all() == 0:
        return 0
    sigs = reader.column_reader("sig", translate=False)
    count = 0
    for path in paths:
        if not reader.doc_frequency("path", path):
            continue
        for docnum in reader.postings("path", path).all_ids():
            if not reader.is_deleted(docnum) and keep(path, sigs[docnum]):
                writer.delete_document(docnum)
                count += 1
    return count
