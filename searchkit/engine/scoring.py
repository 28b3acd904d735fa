"""The query engine: whole posting arrays scored at a time, with numpy.

A query tree (:mod:`searchkit.nodes`, as :mod:`searchkit.parser` reads it) is evaluated over
the whole index at once into a dense array of scores and a boolean array of the posts it
matches (a term's postings read from each segment and joined, numbered as in the index):

* a word adds its BM25F score, computed for all its postings at once, into the scores
  (term at a time, exactly Whoosh's formula, statistics and boosts; an OR of words in one
  ``bincount``, in the order of the words);
* OR adds, AND adds and intersects, ANDNOT, NOT and the filters (dates, tags, categories,
  deletions) are boolean masks;
* phrases intersect the arrays of their words and read positions only for the posts that
  hold all of them;
* the best ``depth`` come from ``argpartition``, ties going to the earlier post as in Whoosh;
  the total is the number of posts matched.

The tests run the same trees through Whoosh's own matchers behind this interface
(``tests/reference_engine.py``) and compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from ..nodes import (
    And,
    AndMaybe,
    AndNot,
    DateRange,
    Every,
    Exact,
    Not,
    Nothing,
    Or,
    Phrase,
    Require,
    Term,
    positive,
)
from .arrays import STORED, leaf_segments
from .facets import Facets
from .order import SCORE_DECIMALS, first_in_order
from .positions import Positions, members
from .postings import Postings
from .stored import stored_fields

#: BM25F's parameters (Whoosh's defaults, with which every ``make eval`` number was measured).
K1 = 1.2
B = 0.75
#: The day in the units of Whoosh's date columns (microseconds).
_DAY = 86_400_000_000


@dataclass
class Found:
    """The best posts of a query: ``(docnum, score)`` in order, how many matched, facets."""

    top: list[tuple[int, float]]
    total: int
    facets: dict[str, dict[str, int]] | None = None
    #: What ``total`` counts (:meth:`Engine.select`).
    counted: str = "query"
    #: With runs ranked first, those of ``top`` holding every run whole.
    held: set[int] | None = None


class _Leaf:
    """One segment: its arrays, and where its posts are numbered in the whole index."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.size = arrays.size
        self.offset = arrays.offset
        self.columns: dict = {}  # columns of bytes, opened when a value is asked for


class _Term:
    """A term's postings over the whole index: each segment's (None where it is absent),
    and their post numbers and weights joined, numbered as in the whole index."""

    __slots__ = ("parts", "ids", "weights", "starts")

    def __init__(self, parts: list[Postings | None], segments: list[_Leaf]):
        self.parts = parts
        present = [(p, seg) for p, seg in zip(parts, segments, strict=True) if p is not None]
        if len(present) == 1:
            postings, seg = present[0]
            self.ids = postings.ids.astype(np.int64) + seg.offset
            self.weights = postings.weights.astype(np.float64)
        else:
            self.ids = np.concatenate([p.ids.astype(np.int64) + seg.offset for p, seg in present])
            self.weights = np.concatenate([p.weights.astype(np.float64) for p, _ in present])
        # where each segment's postings start among the joined ones
        self.starts = list(accumulate((len(p) if p is not None else 0 for p in parts), initial=0))


class Engine:
    """Scores queries against an open Whoosh searcher's segments, all at once: a term's
    postings are joined over the segments, and every array is as long as the index."""

    def __init__(self, searcher):
        self.whoosh_searcher = searcher
        self.schema = searcher.schema
        self.doc_count_all = searcher.doc_count_all()
        self.segments = [_Leaf(arrays) for _sub, arrays in leaf_segments(searcher)]
        self._avgfl: dict[str, float] = {}
        self._lengths: dict[str, np.ndarray] = {}
        self._norm: dict[str, np.ndarray] = {}
        self._live: np.ndarray | None = None
        self._date_keys: dict[bool, np.ndarray] = {}
        self._columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._facets = Facets(self.schema, self.segments)

    def up_to_date(self) -> bool:
        """Whether the generation it reads has had no commit since it was opened."""
        return self.whoosh_searcher.up_to_date()

    def close(self) -> None:
        self.whoosh_searcher.close()

    # --- the index as whole arrays --------------------------------------------------------

    def _joined(self, part, dtype, fill) -> np.ndarray:
        """One array over the whole index of each segment's ``part(seg)``."""
        out = np.full(self.doc_count_all, fill, dtype=dtype)
        for seg in self.segments:
            out[seg.offset : seg.offset + seg.size] = part(seg)
        return out

    def live(self) -> np.ndarray:
        """True for each post not deleted."""
        if self._live is None:
            self._live = self._joined(lambda seg: seg.arrays.live(), bool, False)
        return self._live

    def lengths(self, fieldname: str) -> np.ndarray:
        """Each post's length in a field (as Whoosh stores it: one byte, approximate)."""
        if fieldname not in self._lengths:
            self._lengths[fieldname] = self._joined(
                lambda seg: seg.arrays.lengths(fieldname), np.float64, 0.0
            )
        return self._lengths[fieldname]

    def _column(self, fieldname: str) -> tuple[np.ndarray, np.ndarray]:
        """A numeric column's values over the whole index (as unsigned integers), and which
        posts have one."""
        if fieldname not in self._columns:
            values = np.zeros(self.doc_count_all, dtype=np.uint64)
            present = np.zeros(self.doc_count_all, dtype=bool)
            for seg in self.segments:
                column = seg.arrays.numeric_column(fieldname)
                if column is not None:
                    at = slice(seg.offset, seg.offset + seg.size)
                    values[at] = column.astype(np.uint64)
                    present[at] = column != _missing(column)
            self._columns[fieldname] = (values, present)
        return self._columns[fieldname]

    def date_keys(self, docnums: np.ndarray, sort: str) -> np.ndarray:
        """Sort keys of the moments of posts (instants: a time and its offset): oldest first
        for ``sort`` ``date``, else newest first; posts without a date last either way."""
        reverse = sort != "date"
        if reverse not in self._date_keys:

            def keys(seg: _Leaf) -> np.ndarray:
                column = seg.arrays.numeric_column("instant")  # the instant; before it, the date
                if column is None:
                    column = seg.arrays.numeric_column("date")
                if column is None:
                    return np.full(seg.size, np.iinfo(np.int64).max, dtype=np.int64)
                return _date_keys(column, reverse)

            self._date_keys[reverse] = self._joined(keys, np.int64, np.iinfo(np.int64).max)
        return self._date_keys[reverse][docnums]

    # --- statistics, as Whoosh's BM25F takes them -----------------------------------------

    def _postings(self, fieldname: str, text, cache: dict) -> _Term | None:
        """A term's postings over the whole index, or None if no segment holds it (kept in
        ``cache`` for the rest of the query; kept longer, the joined copies cost more than
        reading the term again)."""
        key = (fieldname, text)
        found = cache.get(key, cache)
        if found is cache:
            found = cache[key] = self._read_term(fieldname, text)
        return found

    def _postings_in(self, cache: dict):
        """A word's postings (``(field, word)``), read through ``cache``."""
        return lambda fieldname, text: self._postings(fieldname, text, cache)

    def _read_term(self, fieldname: str, text) -> _Term | None:
        field = self.schema[fieldname] if fieldname in self.schema.names() else None
        if field is None or not field.indexed:
            return None
        try:
            btext = field.to_bytes(text) if not isinstance(text, bytes) else text
        except ValueError:
            return None
        parts = [seg.arrays.postings(fieldname, btext) for seg in self.segments]
        return _Term(parts, self.segments) if any(p is not None for p in parts) else None

    def doc_frequency(self, fieldname: str, text: str, cache: dict | None = None) -> int:
        """How many posts hold a term (the deleted ones too, as Whoosh counts)."""
        term = self._postings(fieldname, text, {} if cache is None else cache)
        return len(term.ids) if term is not None else 0

    def _term_scores(self, fieldname: str, term: _Term, at=None):
        """Each posting's score (or those of the postings ``at``), as Whoosh's BM25F scorer
        gives it."""
        weights, ids = term.weights, term.ids
        if at is not None:
            weights, ids = weights[at], ids[at]
        if not self.schema[fieldname].scorable:
            return weights
        idf = math.log(self.doc_count_all / (len(term.ids) + 1)) + 1
        return idf * ((weights * (K1 + 1)) / (weights + self._norms(fieldname)[ids]))

    def _norms(self, fieldname: str) -> np.ndarray:
        """BM25's length normalisation of each post in a field, ``K1 * (1 - B + B * length /
        average length)``, computed once (the same numbers, element by element, as per term)."""
        found = self._norm.get(fieldname)
        if found is None:
            avgfl = self._avg_length(fieldname)
            found = self._norm[fieldname] = K1 * ((1 - B) + B * self.lengths(fieldname) / avgfl)
        return found

    def _avg_length(self, fieldname: str) -> float:
        if fieldname not in self._avgfl:
            self._avgfl[fieldname] = self.whoosh_searcher.avg_field_length(fieldname) or 1
        return self._avgfl[fieldname]

    # --- evaluation -----------------------------------------------------------------------

    def _eval(self, node, cache: dict):
        """``(scores, matched)`` of ``node``, an array of each over the whole index."""
        kind = type(node)
        if kind is Term:
            scores, matched = self._nothing()
            self._add_term(node, cache, scores, matched)
            return scores, matched
        if kind is Or and all(type(child) is Term for child in node.children):
            return self._any_term(node.children, cache)
        if kind is Or:
            scores, matched = self._nothing()
            for child in node.children:
                if type(child) is Term:
                    self._add_term(child, cache, scores, matched)
                else:
                    child_scores, child_matched = self._eval(child, cache)
                    scores += np.where(child_matched, child_scores, 0.0)
                    matched |= child_matched
            return scores, matched
        if kind is And:
            scores, matched = None, None
            for child in node.children:
                child_scores, child_matched = self._eval(child, cache)
                if scores is None:
                    scores, matched = child_scores, child_matched.copy()
                else:
                    scores = scores + child_scores
                    matched &= child_matched
            if scores is None:
                return self._nothing()
            return scores, matched
        if kind is AndNot:
            scores, matched = self._eval(node.a, cache)
            _, excluded = self._eval(node.b, cache)
            return scores, matched & ~excluded
        if kind is Require:
            scores, matched = self._eval(node.a, cache)
            _, required = self._eval(node.b, cache)
            return scores, matched & required
        if kind is AndMaybe:
            scores, matched = self._eval(node.a, cache)
            extra, maybe = self._eval(node.b, cache)
            return scores + np.where(maybe, extra, 0.0), matched
        if kind is Not:
            _, inner = self._eval(node.child, cache)
            return np.ones(self.doc_count_all), ~inner & self.live()
        if kind is Phrase:
            scores, matched = self._nothing()
            docs, total = self._phrase_rows(node, cache)
            scores[docs] = total
            matched[docs] = True
            return scores, matched & self.live()
        if kind is Exact:
            found = cache.get(node)
            if found is None:
                found = cache[node] = self._exact(node, cache)
            return found
        if kind is Every:
            return np.zeros(self.doc_count_all), self.live().copy()
        if kind is DateRange:
            return self._day_range(node)
        if kind is Nothing:
            return self._nothing()
        raise TypeError(f"not a query node: {node!r}")

    def _any_term(self, terms, cache: dict):
        """An OR of terms: every posting's score summed into its post in one pass, in the
        order of the terms (``bincount`` adds in order: the same sums as term by term)."""
        ids, values = [], []
        for node in terms:
            term = self._postings(node.field, node.text, cache)
            if term is not None:
                term_scores = self._term_scores(node.field, term)
                ids.append(term.ids)
                values.append(term_scores * node.boost if node.boost != 1.0 else term_scores)
        if not ids:
            return self._nothing()
        joined = np.concatenate(ids)
        scores = np.bincount(joined, weights=np.concatenate(values), minlength=self.doc_count_all)
        matched = np.zeros(self.doc_count_all, dtype=bool)
        matched[joined] = True
        return scores, matched

    def _exact(self, node: Exact, cache: dict):
        """The posts holding a string (:mod:`searchkit.strings`): each part between spaces a
        phrase of its character pairs, or, for one character, every pair it starts."""
        from ..strings import exact_parts

        scores = matched = None
        for how, field, words in exact_parts(node.text):
            if how == "prefix":
                terms = self._prefixed(field, words[0], cache)
                part = self._any_term([Term(field, text, node.boost) for text in terms], cache)
            elif len(words) == 1:
                part = self._nothing()
                self._add_term(Term(field, words[0], node.boost), cache, *part)
            else:
                part = self._nothing()
                docs, total = self._phrase_rows(Phrase(field, words, 1, node.boost), cache)
                part[0][docs] = total
                part[1][docs] = True
            if scores is None:
                scores, matched = part
            else:
                scores, matched = scores + part[0], matched & part[1]
        if scores is None:
            return self._nothing()
        return scores, matched & self.live()

    def _prefixed(self, fieldname: str, text: str, cache: dict) -> list[str]:
        """The terms of a field starting with ``text`` in any segment, in order; their
        postings are read in the same pass over each segment's term dictionary and kept in
        ``cache`` (a character starts hundreds of pairs: looked up one by one, they cost
        most of the query)."""
        prefix = text.encode("utf-8", "surrogatepass")
        found: dict[bytes, list] = {}
        for n, seg in enumerate(self.segments):
            for btext, entry in seg.arrays.term_entries(fieldname, prefix):
                parts = found.get(btext)
                if parts is None:
                    parts = found[btext] = [None] * len(self.segments)
                parts[n] = seg.arrays.entry_postings(entry)
        terms = []
        for btext in sorted(found):
            term = btext.decode("utf-8", "surrogatepass")
            cache[fieldname, term] = _Term(found[btext], self.segments)
            terms.append(term)
        return terms

    def _nothing(self):
        return np.zeros(self.doc_count_all), np.zeros(self.doc_count_all, dtype=bool)

    def _add_term(self, node, cache, scores, matched) -> None:
        term = self._postings(node.field, node.text, cache)
        if term is None:
            return
        term_scores = self._term_scores(node.field, term)
        if node.boost != 1.0:
            term_scores = term_scores * node.boost
        scores[term.ids] += term_scores
        matched[term.ids] = True

    def _day_range(self, node):
        """A date range over the date column: the index holds each post's day."""
        values, present = self._column(node.field)
        day = values - values % np.uint64(_DAY)
        matched = present.copy()
        if node.start is not None:
            matched &= day >= np.uint64(node.start)
        if node.end is not None:
            matched &= day <= np.uint64(node.end)
        return np.ones(self.doc_count_all), matched

    def _phrase_rows(self, node: Phrase, cache: dict, found: Positions | None = None):
        """The posts holding the phrase's words in order, each within ``slop`` of the last,
        and their scores: as Whoosh's span queries score, the sum of the words' scores.
        ``found``: the positions of the query's words in the posts to look at, when only a
        few are (the best hits); else every post holding all the words is."""
        none = np.zeros(0, dtype=np.int64), np.zeros(0)
        terms = [self._postings(node.field, word, cache) for word in node.words]
        if any(term is None for term in terms):
            return none
        if found is None:
            # the posts holding every word: the shortest list looked up in the others by
            # binary search, not by sorting them all together
            candidates = min((t.ids for t in terms), key=len)
            for term in terms:
                candidates = candidates[members(term.ids, candidates)]
            words = [(node.field, word) for word in node.words]
            found = Positions(candidates, words, self._postings_in(cache))
        words = [found.of[node.field, word] for word in node.words]
        # Each position as (post << 32 | position), in order: the ends of the spans of the
        # words so far are kept where the next word follows the nearest end before it
        # within the slop, in every post at once.
        ends = words[0].keys
        for word in words[1:]:
            if not len(ends):
                return none
            keys = word.keys
            before = np.searchsorted(ends, keys) - 1
            gaps = keys - ends[np.maximum(before, 0)]
            ends = keys[(before >= 0) & (gaps <= node.slop)]
        if not len(ends):
            return none
        held = ends >> 32  # the posts (of found.posts) whose spans reached the last word
        held = held[np.flatnonzero(np.diff(held, prepend=-1))]
        total = np.zeros(len(held))
        for term, word in zip(terms, words, strict=True):
            total += self._term_scores(
                node.field, term, word.rows[np.searchsorted(word.posts, held)]
            )
        if node.boost != 1.0:
            total = total * node.boost
        return found.posts[held], total

    # --- answers --------------------------------------------------------------------------

    def _matched(self, query, filter_query, cache: dict):
        """``(scores, matched)`` of ``query``: live posts only, and only those
        ``filter_query`` keeps."""
        scores, matched = self._eval(query, cache)
        matched &= self.live()
        if filter_query is not None:
            matched &= self._eval(filter_query, cache)[1]
        return scores, matched

    def select(self, query, filter_query, cache: dict, words=(), match="any", excluded=()):
        """``(scores, matched, counted)``: the scores of ``query``, the live posts a search
        lists (those ``filter_query`` keeps, without those holding an ``excluded`` string),
        and what they are (:attr:`searchkit.results.SearchResult.counted`).

        ``words`` are the strings a simple query typed (:class:`searchkit.query.Typed`);
        ``match`` (:func:`searchkit.query.match_mode`) says which posts it lists: ``"all"``
        those holding every string, ``"first"`` the same or, when no post does, those
        holding some, ``"some"`` those holding some, ``"any"`` what the query tree matches.
        A string's own score is added to its words' (a post may hold it where no word of
        its is indexed)."""
        strings = match != "any" and bool(words or excluded)
        # a simple query's negations are strings, below; its words score
        scores, matched = self._eval(positive(query) if strings else query, cache)
        keep = self.live()
        if filter_query is not None:
            keep = keep & self._eval(filter_query, cache)[1]
        for node in excluded:
            keep = keep & ~self._eval(node, cache)[1]
        if not strings:
            return scores, matched & keep, "query"
        if not words:  # negations alone: every post but those
            return np.zeros(self.doc_count_all), keep, "every"
        every = np.ones(self.doc_count_all, dtype=bool)
        some = np.zeros(self.doc_count_all, dtype=bool)
        for typed in words:
            string_scores, holding = self._eval(typed.node, cache)
            if not typed.quoted:  # a quoted string is scored in the tree already
                scores = scores + string_scores
            every &= holding
            some |= holding
        every &= keep
        if match == "all" or (match == "first" and every.any()):
            return scores, every, "every"
        return scores, some & keep, "any" if match == "some" else "some"

    def search(
        self,
        query,
        depth: int,
        *,
        filter_query=None,
        sort: str = "relevance",
        facets: bool = False,
        cache: dict | None = None,
        words: tuple = (),
        match: str = "any",
        excluded: tuple = (),
        runs: tuple = (),
    ) -> Found:
        """The best ``depth`` posts of what :meth:`select` lists (or by date, for ``sort``
        ``date`` and ``-date``), how many it lists, and the facets of all of them when asked.
        ``cache`` keeps the postings looked up, for :meth:`phrase_scores` on the same query.
        ``runs``: strings typed without spaces that were cut in words; by relevance, the
        posts holding every one whole come first (``Found.held`` names them)."""
        cache = {} if cache is None else cache
        relevance = sort == "relevance"
        scores, matched, counted = self.select(query, filter_query, cache, words, match, excluded)
        whole = None
        if runs and relevance and counted == "every":
            whole = matched.copy()
            for node in runs:
                whole &= self._eval(node, cache)[1]
            if whole.all() or not whole.any():
                whole = None  # one tier
        counts = self._facets.count(matched) if facets else None
        docnums = np.flatnonzero(matched)
        total = len(docnums)
        if not total:
            return Found([], total, counts, counted)
        values = np.round(scores[docnums], SCORE_DECIMALS)  # ulps apart: tied
        tiers = whole[docnums] if whole is not None else np.zeros(total, dtype=bool)
        if relevance:
            # the best by (holds every run whole, score): a tier lifts above any score
            ranked = values + tiers * (values.max() + 1.0) if whole is not None else values
            keep = _best(np.arange(total), ranked, depth)[0]
            docnums, values, tiers = docnums[keep], values[keep], tiers[keep]
        dates = self.date_keys(docnums, sort)
        keys = [dates]  # by date: the date, then the path
        if relevance:  # (holds every run whole,) score, newer date, then the path
            keys = [~tiers, -values, dates] if whole is not None else [-values, dates]
        order = first_in_order(
            docnums, keys, depth, len(keys) - 1 if relevance else len(keys), self.path_of
        )
        top = [(int(d), float(s)) for d, s in zip(docnums[order], values[order], strict=True)]
        held = set(docnums[order][tiers[order]].tolist()) if whole is not None else None
        return Found(top, total, counts, counted, held)

    def missing(self, words: tuple, cache: dict | None = None) -> list[str]:
        """The typed strings no post holds (but a word the segmenter made up)."""
        cache = {} if cache is None else cache
        return [
            typed.text
            for typed in words
            if not typed.guessed and not self.holds_some(typed.node, cache)
        ]

    def holds_some(self, node, cache: dict) -> bool:
        """Whether some live post holds what ``node`` asks for.  A string that is a word of
        the body field is held (a word of a post is a run of its folded text) unless every
        post holding it is deleted; only then is the string looked for as its pairs."""
        if type(node) is Exact and " " not in node.text:
            term = self._postings("body", node.text, cache)
            if term is not None and self.live()[term.ids].any():
                return True
        return bool(self._eval(node, cache)[1].any())

    def path_of(self, docnum: int) -> bytes:
        """A post's path (its id), as the bytes of its column."""
        for seg in self.segments:
            if seg.offset <= docnum < seg.offset + seg.size:
                return self.column_value(seg, "path", docnum - seg.offset)
        raise IndexError(docnum)

    def column_value(self, seg: _Leaf, fieldname: str, local: int) -> bytes:
        """A post's value in a column of bytes (empty where it has none)."""
        column = seg.columns.get(fieldname, seg.columns)
        if column is seg.columns:
            column = seg.columns[fieldname] = seg.arrays.byte_column(fieldname)
        return column[local] if column is not None else b""

    def bytes_of(self, fieldname: str, docnum: int) -> bytes:
        """A post's value in a column of bytes, by its number in the index."""
        for seg in self.segments:
            if seg.offset <= docnum < seg.offset + seg.size:
                return self.column_value(seg, fieldname, docnum - seg.offset)
        raise IndexError(docnum)

    def stored(self, docnum: int) -> dict:
        """A post's stored fields: Whoosh's ``_stored`` column (a zlib-compressed pickle per
        post) read as any column is, and unpickled by :mod:`searchkit.safepickle`."""
        data = self.bytes_of(STORED, docnum)
        return stored_fields(data)

    def doc_count(self) -> int:
        """How many posts the index holds (not counting deleted ones)."""
        return self.whoosh_searcher.doc_count()

    def docnum_of(self, path: str) -> int | None:
        """The number of the live post whose id is ``path`` (None if there is none)."""
        return self.whoosh_searcher.document_number(path=path)

    def segment_arrays(self) -> list:
        """Each segment as arrays (:class:`searchkit.engine.arrays.SegmentArrays`), in order."""
        return [leaf.arrays for leaf in self.segments]

    def stored_at(self, path: str) -> dict | None:
        """The stored fields of the live post whose id is ``path`` (None if there is none)."""
        docnum = self.docnum_of(path)
        return None if docnum is None else self.stored(docnum)

    def every_stored(self):
        """Every live post's stored fields, in the index's order."""
        for docnum in np.flatnonzero(self.live()).tolist():
            yield self.stored(docnum)

    def order_keys(self, docnums: list[int], sort: str = "relevance") -> dict[int, tuple]:
        """For each post, ``(date key, path)``: what breaks ties of score in the total order."""
        keys = self.date_keys(np.asarray(docnums, dtype=np.int64), sort).tolist()
        return {d: (key, self.path_of(d)) for d, key in zip(docnums, keys, strict=True)}

    def matching(self, query, filter_query=None, words=(), match="any", excluded=()):
        """The numbers of all the posts a search lists (:meth:`select`), in order: for
        counts over the whole result set (trends), not only the best."""
        return np.flatnonzero(self.select(query, filter_query, {}, words, match, excluded)[1])

    def dates(self, docnums: np.ndarray) -> np.ndarray:
        """Each post's moment in microseconds since year 1, -1 for a post without a date."""
        values, present = self._column("date")
        out = np.full(len(docnums), -1, dtype=np.int64)
        known = present[docnums]
        out[known] = values[docnums][known].astype(np.int64)
        return out

    def phrase_scores(self, phrases: list, docnums, cache: dict | None = None) -> dict[int, float]:
        """The summed scores of ``phrases`` in each of ``docnums`` that holds any of them."""
        out: dict[int, float] = {}
        if not len(docnums):
            return out
        wanted = np.asarray(sorted(set(docnums)), dtype=np.int64)  # not np.unique: numpy.ma
        wanted = wanted[self.live()[wanted]]
        cache = {} if cache is None else cache
        words = list(
            dict.fromkeys((phrase.field, word) for phrase in phrases for word in phrase.words)
        )
        found = Positions(wanted, words, self._postings_in(cache))
        for phrase in phrases:
            docs, scores = self._phrase_rows(phrase, cache, found)
            for doc, score in zip(docs.tolist(), scores.tolist(), strict=True):
                out[doc] = out.get(doc, 0.0) + score
        return out


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
