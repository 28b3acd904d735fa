"""The reference engine: whole queries run through Whoosh's own matchers, behind the
interface of :class:`~searchkit.engine.scoring.Engine`, so that a test can run any query
through both and compare (``Searcher(..., engine="whoosh")``, ``SEARCHKIT_ENGINE=whoosh``).

It puts every match in the same total order as the array engine (score rounded to
``SCORE_DECIMALS``, newer instant, path) in Python: correct and slow, by design."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
from whoosh import query as wq

from ..nodes import to_whoosh
from ..results import no_facets
from .scoring import SCORE_DECIMALS, Engine, Found, through_ties


class WhooshEngine:
    """Scores queries through an open Whoosh searcher's matchers."""

    def __init__(self, searcher):
        self.searcher = searcher
        self._arrays: Engine | None = None  # for what only the arrays answer (trend's dates)

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
        """:meth:`Engine.search`, every match put in the total order."""
        query = to_whoosh(query)
        filter_query = to_whoosh(filter_query) if filter_query is not None else None
        none = Found([], 0, no_facets() if facets else None, None)
        if filter_query is not None and _first(self.searcher.docs_for_query(filter_query)) is None:
            return none  # Whoosh reads a filter that matches nothing as no filter at all
        held = self._held_docs(words) if words and match != "any" else None
        if held is not None and match == "all":
            if filter_query is not None:
                held &= set(self.searcher.docs_for_query(filter_query))
            if not held:
                return none
            filter_query = held
        kwargs = {"filter": filter_query}
        if facets:
            kwargs["groupedby"] = _facet_spec()
        results = self.searcher.search(query, limit=None, **kwargs)
        total = len(results) if held is not None and match == "all" else None
        if total is None:
            total = self._count(query, filter_query)
        found = [(hit.docnum, round(hit.score or 0.0, SCORE_DECIMALS)) for hit in results]
        keys = self.order_keys([d for d, _ in found], sort)
        first = held if match == "first" and held is not None else None
        if sort == "relevance" and first is not None:
            found.sort(key=lambda row: (row[0] not in first, -row[1], *keys[row[0]]))
        elif sort == "relevance":
            found.sort(key=lambda row: (-row[1], *keys[row[0]]))
        else:
            found.sort(key=lambda row: keys[row[0]])
        # as the engine does: the posts tied with the last of a relevance order come along
        cut = through_ties(found, depth, first) if sort == "relevance" else depth
        found = found[:cut]
        kept = {d for d, _ in found} & first if first is not None else None
        return Found(found, total, _facets(results) if facets else None, kept)

    def _held_docs(self, words) -> set[int]:
        """The posts holding every one of ``words`` (see :meth:`Engine.held`)."""
        reader = self.searcher.reader()

        def having(term: str) -> set[int]:
            if not reader.doc_frequency("body", term):
                return set()
            return set(reader.postings("body", term).all_ids())

        held: set[int] | None = None
        for _word, alternatives in words:
            either: set[int] = set()
            for terms in alternatives:
                both = having(terms[0])
                for term in terms[1:]:
                    both &= having(term)
                either |= both
            held = either if held is None else held & either
        return {d for d in held or set() if not reader.is_deleted(d)}

    def missing(self, words: tuple, cache: dict | None = None) -> list[str]:
        """The typed words no post holds."""
        reader = self.searcher.reader()
        return [
            word
            for word, alternatives in words
            if not any(all(reader.doc_frequency("body", t) for t in ts) for ts in alternatives)
        ]

    def bytes_of(self, fieldname: str, docnum: int) -> bytes:
        return self._array_engine().bytes_of(fieldname, docnum)

    def stored(self, docnum: int) -> dict:
        return self.searcher.stored_fields(docnum)

    def doc_frequency(self, fieldname: str, text: str, cache: dict | None = None) -> int:
        return self.searcher.doc_frequency(fieldname, text)

    def order_keys(self, docnums: list[int], sort: str = "relevance") -> dict[int, tuple]:
        """:meth:`Engine.order_keys`, read from the stored fields."""
        from ..schema import instant

        out = {}
        for docnum in docnums:
            stored = self.searcher.stored_fields(docnum)
            written = (stored.get("meta") or {}).get("date")
            if written:
                ticks = instant(datetime.fromisoformat(written))
                key = ticks if sort == "date" else -ticks
            else:
                key = np.iinfo(np.int64).max
            out[docnum] = (key, stored["path"].encode("utf-8"))
        return out

    def phrase_scores(self, phrases: list, docnums, cache: dict | None = None) -> dict[int, float]:
        """:meth:`Engine.phrase_scores`, through Whoosh's phrase matchers."""
        either = wq.Or([to_whoosh(phrase) for phrase in phrases])
        extra = self.searcher.search(either, filter=set(docnums), limit=len(docnums))
        return {hit.docnum: hit.score for hit in extra}

    def matching(self, query, filter_query=None) -> np.ndarray:
        return self._array_engine().matching(query, filter_query)

    def dates(self, docnums: np.ndarray) -> np.ndarray:
        return self._array_engine().dates(docnums)

    def _array_engine(self) -> Engine:
        if self._arrays is None:
            self._arrays = Engine(self.searcher)
        return self._arrays

    def _count(self, query: wq.Query, filter_query: wq.Query | None) -> int:
        """How many posts match.  Whoosh counts by running the whole query again, unscored,
        through its matchers; for an OR of words, the union of the words' posting lists is
        the same number for a fraction of the cost."""
        leaves = query.subqueries if isinstance(query, wq.Or) else [query]
        if all(type(leaf) is wq.Term for leaf in leaves):
            reader = self.searcher.reader()
            found: set[int] = set()
            for leaf in leaves:
                if reader.doc_frequency(leaf.fieldname, leaf.text):
                    found.update(reader.postings(leaf.fieldname, leaf.text).all_ids())
        else:  # Whoosh's collector can count a post ANDNOT removes (a AND NOT a)
            found = set(self.searcher.docs_for_query(query))
        if filter_query is not None:
            found.intersection_update(self.searcher.docs_for_query(filter_query))
        return len(found)


def _first(docnums: Iterable[int]) -> int | None:
    """The first post number, or None (not ``any()``: post 0 is falsy)."""
    return next(iter(docnums), None)


def _facet_spec():
    from whoosh import sorting

    return {
        "categories": sorting.FieldFacet("categories", allow_overlap=True),
        "tags": sorting.FieldFacet("tags", allow_overlap=True),
        "years": sorting.FieldFacet("year"),
    }


def _facets(results) -> dict[str, dict[str, int]]:
    out = {}
    for name in ("categories", "tags", "years"):
        counts = results.groups(name)
        pairs = ((str(k), len(v)) for k, v in counts.items() if k is not None)
        if name == "years":
            out[name] = dict(sorted(pairs))
        else:
            out[name] = dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))
    return out
