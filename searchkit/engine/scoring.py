"""The query engine: whole posting arrays scored at a time, with numpy.

A query tree (:mod:`searchkit.nodes`, as :mod:`searchkit.parser` reads it) is evaluated one
segment at a time into a dense array of scores and a boolean array of the posts it matches:

* a word adds its BM25F score, computed for all its postings at once, into the scores
  (term at a time, exactly Whoosh's formula, statistics and boosts);
* OR adds, AND adds and intersects, ANDNOT, NOT and the filters (dates, tags, categories,
  deletions) are boolean masks;
* phrases intersect the arrays of their words and read positions only for the posts that
  hold all of them;
* the best ``depth`` come from ``argpartition``, ties going to the earlier post as in Whoosh;
  the total is the number of posts matched.

``Searcher(..., engine="whoosh")`` runs the whole query through Whoosh's matchers instead
(:mod:`searchkit.engine.reference`): the reference the tests compare with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..nodes import And, AndMaybe, AndNot, DateRange, Every, Not, Nothing, Or, Phrase, Require, Term
from .arrays import leaf_segments
from .postings import Postings

#: BM25F's parameters (Whoosh's defaults, with which every ``make eval`` number was measured).
K1 = 1.2
B = 0.75
#: Scores are rounded to this many decimals: two posts a few ulps apart are tied, and the
#: total order (score, newer date, path) holds whichever way a sum was added up.
SCORE_DECIMALS = 6
#: The day in the units of Whoosh's date columns (microseconds).
_DAY = 86_400_000_000


@dataclass
class Found:
    """The best posts of a query: ``(docnum, score)`` in order, how many matched, facets."""

    top: list[tuple[int, float]]
    total: int
    facets: dict[str, dict[str, int]] | None = None
    #: With words ranked first, those of ``top`` that hold every one.
    held: set[int] | None = None


class _Segment:
    """What one segment's evaluation needs: its arrays and a cache of its postings."""

    def __init__(self, arrays, searcher):
        self.arrays = arrays
        self.searcher = searcher  # Whoosh's searcher of this segment, for fallbacks
        self.size = arrays.size
        self.offset = arrays.offset
        self.paths: list[bytes] | None = None  # read when a tie asks for them


class Engine:
    """Scores queries against an open Whoosh searcher's segments."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.schema = searcher.schema
        self.doc_count_all = searcher.doc_count_all()
        self.segments = [_Segment(arrays, sub) for sub, arrays in leaf_segments(searcher)]
        self._avgfl: dict[str, float] = {}
        self._facet_tables: dict[tuple[int, str], tuple[list[str], np.ndarray, np.ndarray]] = {}

    # --- statistics, as Whoosh's BM25F takes them -----------------------------------------

    def _postings(self, fieldname: str, text, cache: dict) -> list[Postings | None] | None:
        """A term's postings in each segment (None where absent), or None if in none."""
        key = (fieldname, text)
        if key not in cache:
            field = self.schema[fieldname] if fieldname in self.schema.names() else None
            found = None
            if field is not None and field.indexed:
                try:
                    btext = field.to_bytes(text) if not isinstance(text, bytes) else text
                except ValueError:
                    btext = None
                if btext is not None:
                    found = [seg.arrays.postings(fieldname, btext) for seg in self.segments]
                    if not any(p is not None for p in found):
                        found = None
            cache[key] = found
        return cache[key]

    def _term_scores(self, fieldname: str, postings: Postings, seg: _Segment, df: int, at=None):
        """Each posting's score (or those of the postings ``at``), as Whoosh's BM25F scorer
        gives it."""
        weights = postings.weights.astype(np.float64)
        ids = postings.ids
        if at is not None:
            weights, ids = weights[at], ids[at]
        if not self.schema[fieldname].scorable:
            return weights
        idf = math.log(self.doc_count_all / (df + 1)) + 1
        avgfl = self._avg_length(fieldname)
        lengths = seg.arrays.lengths(fieldname)[ids]
        return idf * ((weights * (K1 + 1)) / (weights + K1 * ((1 - B) + B * lengths / avgfl)))

    def _avg_length(self, fieldname: str) -> float:
        if fieldname not in self._avgfl:
            self._avgfl[fieldname] = self.searcher.avg_field_length(fieldname) or 1
        return self._avgfl[fieldname]

    # --- evaluation -----------------------------------------------------------------------

    def _eval(self, node, seg: _Segment, cache: dict, n: int):
        """``(scores, matched)`` of ``node`` in segment number ``n``."""
        kind = type(node)
        if kind is Term:
            scores = np.zeros(seg.size)
            matched = np.zeros(seg.size, dtype=bool)
            self._add_term(node, seg, cache, n, scores, matched)
            return scores, matched
        if kind is Or:
            scores = np.zeros(seg.size)
            matched = np.zeros(seg.size, dtype=bool)
            for child in node.children:
                if type(child) is Term:
                    self._add_term(child, seg, cache, n, scores, matched)
                else:
                    child_scores, child_matched = self._eval(child, seg, cache, n)
                    scores += np.where(child_matched, child_scores, 0.0)
                    matched |= child_matched
            return scores, matched
        if kind is And:
            scores, matched = None, None
            for child in node.children:
                child_scores, child_matched = self._eval(child, seg, cache, n)
                if scores is None:
                    scores, matched = child_scores, child_matched.copy()
                else:
                    scores = scores + child_scores
                    matched &= child_matched
            if scores is None:
                return self._nothing(seg)
            return scores, matched
        if kind is AndNot:
            scores, matched = self._eval(node.a, seg, cache, n)
            _, excluded = self._eval(node.b, seg, cache, n)
            return scores, matched & ~excluded
        if kind is Require:
            scores, matched = self._eval(node.a, seg, cache, n)
            _, required = self._eval(node.b, seg, cache, n)
            return scores, matched & required
        if kind is AndMaybe:
            scores, matched = self._eval(node.a, seg, cache, n)
            extra, maybe = self._eval(node.b, seg, cache, n)
            return scores + np.where(maybe, extra, 0.0), matched
        if kind is Not:
            _, inner = self._eval(node.child, seg, cache, n)
            return np.ones(seg.size), ~inner & seg.arrays.live()
        if kind is Phrase:
            return self._phrase(node, seg, cache, n, None)
        if kind is Every:
            return np.zeros(seg.size), seg.arrays.live().copy()
        if kind is DateRange:
            return self._day_range(node, seg)
        if kind is Nothing:
            return self._nothing(seg)
        raise TypeError(f"not a query node: {node!r}")

    def _nothing(self, seg: _Segment):
        return np.zeros(seg.size), np.zeros(seg.size, dtype=bool)

    def _add_term(self, node, seg, cache, n, scores, matched) -> None:
        found = self._postings(node.field, node.text, cache)
        if found is None or found[n] is None:
            return
        postings = found[n]
        df = sum(len(p) for p in found if p is not None)
        term_scores = self._term_scores(node.field, postings, seg, df)
        if node.boost != 1.0:
            term_scores = term_scores * node.boost
        scores[postings.ids] += term_scores
        matched[postings.ids] = True

    def _day_range(self, node, seg: _Segment):
        """A date range over the date column: the index holds each post's day."""
        column = seg.arrays.numeric_column(node.field)
        if column is None:
            return self._nothing(seg)
        values = column.astype(np.uint64)
        matched = values != np.uint64(_missing(column))
        day = values - values % np.uint64(_DAY)
        if node.start is not None:
            matched &= day >= np.uint64(node.start)
        if node.end is not None:
            matched &= day <= np.uint64(node.end)
        return np.ones(seg.size), matched

    def _phrase(self, node: Phrase, seg: _Segment, cache: dict, n: int, within):
        """Posts holding the phrase's words in order, each within ``slop`` of the last;
        scored, as Whoosh's span queries do, by the sum of the words' scores."""
        scores, matched = self._nothing(seg)
        lists = []
        for word in node.words:
            found = self._postings(node.field, word, cache)
            if found is None or found[n] is None:
                return scores, matched
            lists.append((found[n], sum(len(p) for p in found if p is not None)))
        # the posts holding every word: the shortest list (or the posts asked about) looked
        # up in the others by binary search, not by sorting them all together
        candidates = min((p.ids for p, _ in lists), key=len) if within is None else within
        for postings, _ in lists:
            candidates = candidates[_members(postings.ids, candidates)]
        if not len(candidates):
            return scores, matched
        at = [np.searchsorted(p.ids, candidates) for p, _ in lists]
        keep = []
        for row in range(len(candidates)):
            spans = {(pos, pos) for pos in lists[0][0].positions(int(at[0][row]))}
            for (postings, _), where in zip(lists[1:], at[1:], strict=True):
                following = postings.positions(int(where[row]))
                spans = {
                    (start, pos)
                    for start, end in spans
                    for pos in following
                    if 1 <= pos - end <= node.slop
                }
                if not spans:
                    break
            if spans:
                keep.append(row)
        if not keep:
            return scores, matched
        rows = np.asarray(keep)
        docs = candidates[rows]
        total = np.zeros(len(docs))
        for (postings, df), where in zip(lists, at, strict=True):
            total += self._term_scores(node.field, postings, seg, df, where[rows])
        if node.boost != 1.0:
            total = total * node.boost
        scores[docs] = total
        matched[docs] = True
        return scores, matched & seg.arrays.live()

    # --- answers --------------------------------------------------------------------------

    def _matched(self, query, filter_query, seg: _Segment, cache: dict, n: int):
        """``(scores, matched)`` of ``query`` in segment ``n``: live posts only, and only
        those ``filter_query`` keeps."""
        scores, matched = self._eval(query, seg, cache, n)
        matched = matched & seg.arrays.live()
        if filter_query is not None:
            matched &= self._eval(filter_query, seg, cache, n)[1]
        return scores, matched

    def search(
        self,
        query,
        depth: int,
        filter_query=None,
        sort: str = "relevance",
        facets: bool = False,
        cache: dict | None = None,
        words: tuple = (),
        match: str = "any",
    ) -> Found:
        """The best ``depth`` posts for ``query`` (or by date, for ``sort`` ``date`` and
        ``-date``), how many match, and the facets of all that match when asked.  ``cache``
        keeps the postings looked up, for :meth:`phrase_scores` on the same query.

        ``words`` are the query's typed words (see :func:`searchkit.search.typed_words`);
        ``match`` ``"all"`` keeps only the posts holding every one, ``"first"`` ranks them
        above the rest (``Found.held`` names them among the best), ``"any"`` neither."""
        cache = {} if cache is None else cache
        tiered = match == "first" and len(words) > 0
        rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        total = 0
        counted = {"categories": {}, "tags": {}, "years": {}} if facets else None
        relevance = sort == "relevance"
        for n, seg in enumerate(self.segments):
            if not seg.size:
                continue
            scores, matched = self._matched(query, filter_query, seg, cache, n)
            held = self.held(words, seg, cache, n) if words and match != "any" else None
            if held is not None and match == "all":
                matched &= held
            local = np.flatnonzero(matched)
            total += len(local)
            if facets:
                self._count_facets(n, seg, matched, counted)
            if not len(local):
                continue
            values = np.round(scores[local], SCORE_DECIMALS)  # ulps apart: tied
            tier = held[local] if tiered else np.zeros(len(local), dtype=bool)
            if relevance:
                # the best by (holds every word, score): a tier lifts above any score
                ranked = values + tier * (values.max() + 1.0) if tiered else values
                keep = _best(np.arange(len(local)), ranked, depth)[0]
                local, values, tier = local[keep], values[keep], tier[keep]
            rows.append((local + seg.offset, values, self.date_keys(local, seg, sort), tier))
        if not rows:
            return Found([], total, _sorted_facets(counted))
        docnums = np.concatenate([r[0] for r in rows])
        values = np.concatenate([r[1] for r in rows])
        dates = np.concatenate([r[2] for r in rows])
        tiers = np.concatenate([r[3] for r in rows])
        keys = [dates]  # by date: the date, then the path
        if relevance:  # (holds every word,) score, newer date, then the path
            keys = [~tiers, -values, dates] if tiered else [-values, dates]
        order = self._in_order(docnums, keys, depth, len(keys) - 1 if relevance else len(keys))
        top = [(int(d), float(s)) for d, s in zip(docnums[order], values[order], strict=True)]
        held_set = set(docnums[order][tiers[order]].tolist()) if tiered else None
        return Found(top, total, _sorted_facets(counted), held_set)

    def held(self, words: tuple, seg: _Segment, cache: dict, n: int) -> np.ndarray:
        """Which posts of segment ``n`` hold every one of ``words``: each word is a tuple of
        alternatives, each a tuple of body terms a post must hold together."""
        held = np.ones(seg.size, dtype=bool)
        for _word, alternatives in words:
            either = np.zeros(seg.size, dtype=bool)
            for terms in alternatives:
                both = np.ones(seg.size, dtype=bool)
                for term in terms:
                    found = self._postings("body", term, cache)
                    mask = np.zeros(seg.size, dtype=bool)
                    if found is not None and found[n] is not None:
                        mask[found[n].ids] = True
                    both &= mask
                either |= both
            held &= either
        return held

    def missing(self, words: tuple, cache: dict | None = None) -> list[str]:
        """The words no post holds (none of their alternatives)."""
        cache = {} if cache is None else cache
        return [
            word
            for word, alternatives in words
            if not any(
                all(self._postings("body", term, cache) is not None for term in terms)
                for terms in alternatives
            )
        ]

    def date_keys(self, local: np.ndarray, seg: _Segment, sort: str) -> np.ndarray:
        """Sort keys of the moments of the posts ``local`` of a segment (instants: a time and
        its offset): oldest first for ``sort`` ``date``, else newest first; posts without a
        date last either way."""
        column = seg.arrays.numeric_column("instant")  # the instant; before it, the date
        if column is None:
            column = seg.arrays.numeric_column("date")
        if column is None:
            return np.full(len(local), np.iinfo(np.int64).max, dtype=np.int64)
        return _date_keys(column[local], reverse=sort != "date")

    def _in_order(self, docnums, keys: list[np.ndarray], depth: int, scored: int) -> np.ndarray:
        """The first ``depth`` rows in the total order, and the rows tied with the last of
        them on the first ``scored`` keys (the rank a reranking sees): ``keys`` (the first
        the most significant), then the post's path (read only for rows tied on every key)."""
        order = np.lexsort((docnums, *reversed(keys)))
        keep = min(depth, len(order))
        if not keep:
            return order[:0]
        # the rows tied with the last one kept compete for its place: take them all
        last = order[keep - 1]
        rest = order[keep:]
        tied = np.ones(len(rest), dtype=bool)
        for key in keys[:scored]:
            tied &= key[rest] == key[last]
        end = keep + (int(np.argmin(tied)) if not tied.all() else len(rest))
        head = order[:end].copy()
        changed = np.zeros(max(len(head) - 1, 0), dtype=bool)
        for key in keys:
            values = key[head]
            changed |= values[1:] != values[:-1]
        bounds = np.flatnonzero(changed) + 1
        starts = [0, *bounds.tolist()]
        ends = [*bounds.tolist(), len(head)]
        for a, b in zip(starts, ends, strict=True):
            if b - a > 1:
                run = head[a:b]
                paths = [self.path_of(int(docnums[i])) for i in run]
                head[a:b] = run[sorted(range(b - a), key=paths.__getitem__)]
        return head  # with the rows tied with the last kept: a reranking takes them all

    def path_of(self, docnum: int) -> bytes:
        """A post's path (its id), as the bytes of its column."""
        for seg in self.segments:
            if seg.offset <= docnum < seg.offset + seg.size:
                if seg.paths is None:
                    seg.paths = seg.arrays.byte_values("path")
                return seg.paths[docnum - seg.offset]
        raise IndexError(docnum)

    def order_keys(self, docnums: list[int], sort: str = "relevance") -> dict[int, tuple]:
        """For each post, ``(date key, path)``: what breaks ties of score in the total order."""
        out = {}
        for seg in self.segments:
            local = [d - seg.offset for d in docnums if seg.offset <= d < seg.offset + seg.size]
            if not local:
                continue
            keys = self.date_keys(np.asarray(local, dtype=np.int64), seg, sort).tolist()
            for d, key in zip(local, keys, strict=True):
                out[d + seg.offset] = (key, self.path_of(d + seg.offset))
        return out

    def matching(self, query, filter_query=None) -> np.ndarray:
        """The numbers of all the posts ``query`` matches (and ``filter_query`` keeps), in
        order: for counts over the whole result set (trends), not only the best."""
        cache: dict = {}
        found = []
        for n, seg in enumerate(self.segments):
            if not seg.size:
                continue
            _, matched = self._matched(query, filter_query, seg, cache, n)
            found.append(np.flatnonzero(matched) + seg.offset)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def dates(self, docnums: np.ndarray) -> np.ndarray:
        """Each post's moment in microseconds since year 1, -1 for a post without a date."""
        out = np.full(len(docnums), -1, dtype=np.int64)
        for seg in self.segments:
            inside = (docnums >= seg.offset) & (docnums < seg.offset + seg.size)
            if not inside.any():
                continue
            column = seg.arrays.numeric_column("date")
            if column is None:
                continue
            values = column[docnums[inside] - seg.offset]
            known = values != _missing(values)
            out[np.flatnonzero(inside)[known]] = values[known].astype(np.int64)
        return out

    def phrase_scores(self, phrases: list, docnums, cache: dict | None = None) -> dict[int, float]:
        """The summed scores of ``phrases`` in each of ``docnums`` that holds any of them."""
        out: dict[int, float] = {}
        if not len(docnums):
            return out
        wanted = np.unique(np.asarray(list(docnums), dtype=np.int64))
        cache = {} if cache is None else cache
        for n, seg in enumerate(self.segments):
            inside = wanted[(wanted >= seg.offset) & (wanted < seg.offset + seg.size)]
            if not len(inside):
                continue
            local = inside - seg.offset
            for phrase in phrases:
                scores, matched = self._phrase(phrase, seg, cache, n, local)
                for docnum in np.flatnonzero(matched[local]):
                    key = int(local[docnum]) + seg.offset
                    out[key] = out.get(key, 0.0) + float(scores[local[docnum]])
        return out

    # --- facets ---------------------------------------------------------------------------

    def _count_facets(self, n: int, seg: _Segment, matched, counted) -> None:
        for name, fieldname in (("categories", "categories"), ("tags", "tags"), ("years", "year")):
            names, term_of, doc_of = self._facet_table(n, seg, fieldname)
            if not len(doc_of):
                counted.setdefault(name, {})
                continue
            hits = np.bincount(term_of[matched[doc_of]], minlength=len(names))
            bucket = counted.setdefault(name, {})
            for index in np.flatnonzero(hits):
                bucket[names[index]] = bucket.get(names[index], 0) + int(hits[index])

    def _facet_table(self, n: int, seg: _Segment, fieldname: str):
        """A field's terms in a segment, and for each posting its term and post."""
        key = (n, fieldname)
        if key not in self._facet_tables:
            names, terms, docs = [], [], []
            field = self.schema[fieldname]
            for btext, postings in seg.arrays.terms(fieldname):
                terms.append(np.full(len(postings), len(names), dtype=np.int64))
                docs.append(postings.ids.astype(np.int64))
                names.append(str(field.from_bytes(btext)))
            self._facet_tables[key] = (
                names,
                np.concatenate(terms) if terms else np.zeros(0, np.int64),
                np.concatenate(docs) if docs else np.zeros(0, np.int64),
            )
        return self._facet_tables[key]


def _members(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Which of ``wanted`` (sorted) are in ``ids`` (sorted): binary search, O(k log n)."""
    if not len(ids):
        return np.zeros(len(wanted), dtype=bool)
    at = np.searchsorted(ids, wanted)
    at[at == len(ids)] = len(ids) - 1
    return ids[at] == wanted


def _best(local: np.ndarray, values: np.ndarray, depth: int):
    """The ``depth`` best of a segment's matches, with every post tied with the last."""
    if len(values) <= depth:
        return local, values
    cut = np.partition(values, len(values) - depth)[len(values) - depth]
    keep = values >= cut
    return local[keep], values[keep]


def _missing(column: np.ndarray) -> int:
    """The value a numeric column holds for posts without one (Whoosh's default: all ones)."""
    return np.iinfo(column.dtype).max if column.dtype.kind == "u" else 0


def _date_keys(values: np.ndarray, reverse: bool) -> np.ndarray:
    """Sort keys for dates: oldest (or newest) first, posts without a date last either way."""
    missing = values == _missing(values)
    keys = values.astype(np.int64)  # microseconds since year 1: well inside int64
    if reverse:
        keys = -keys
    keys[missing] = np.iinfo(np.int64).max
    return keys


def _sorted_facets(counted):
    if counted is None:
        return None
    return {
        name: dict(
            sorted(counts.items())
            if name == "years"  # a time line, in order
            else sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        for name, counts in counted.items()
    }


def through_ties(top: list[tuple[int, float]], count: int, held=None) -> int:
    """``count``, or more to take in every post ranked as the last of the first ``count``
    (its score, and whether it holds every word when ``held`` names those): which of tied
    posts are reranked must not depend on how ties are broken."""
    if count <= 0 or count >= len(top):
        return min(max(count, 0), len(top))

    def rank(row):
        return (held is not None and row[0] in held, row[1])

    last = rank(top[count - 1])
    while count < len(top) and rank(top[count]) == last:
        count += 1
    return count
