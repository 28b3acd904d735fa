"""Committing segments into an index's table of contents, and merging them in tiers."""

from __future__ import annotations

import contextlib

from whoosh.index import TOC
from whoosh.writing import SegmentWriter

from .building import SegmentBuilder
from .codec import SearchkitCodec
from .storage import _WriterIndex

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
