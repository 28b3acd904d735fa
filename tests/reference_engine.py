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

from searchkit.engine.order import SCORE_DECIMALS, through_ties
from searchkit.engine.scoring import Engine, Found
from searchkit.nodes import positive, to_whoosh
from searchkit.results import no_facets


class WhooshEngine:
    """Scores queries through an open Whoosh searcher's matchers."""

    def __init__(self, searcher):
        self.whoosh_searcher = searcher
        self._arrays: Engine | None = None  # for what only the arrays answer (trend's dates)

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
        """:meth:`Engine.search` (what :meth:`Engine.select` lists), every match put in the
        total order."""
        searcher = self.whoosh_searcher
        reader = searcher.reader()
        strings = match != "any" and bool(words or excluded)
        tree = to_whoosh(positive(query) if strings else query)
        keep = {d for d in range(reader.doc_count_all()) if not reader.is_deleted(d)}
        if filter_query is not None:
            keep &= set(searcher.docs_for_query(to_whoosh(filter_query)))
        for node in excluded:
            keep -= set(searcher.docs_for_query(to_whoosh(node)))
        scores = {hit.docnum: hit.score or 0.0 for hit in searcher.search(tree, limit=None)}
        if not strings:
            chosen, counted = set(searcher.docs_for_query(tree)) & keep, "query"
        elif not words:
            chosen, counted, scores = keep, "every", {}
        else:
            every: set[int] | None = None
            some: set[int] = set()
            for typed in words:
                hits = searcher.search(to_whoosh(typed.node), limit=None)
                holding = {hit.docnum: hit.score or 0.0 for hit in hits}
                if not typed.quoted:
                    for docnum, score in holding.items():
                        scores[docnum] = scores.get(docnum, 0.0) + score
                every = set(holding) if every is None else every & set(holding)
                some |= set(holding)
            every = (every or set()) & keep
            if match == "all" or (match == "first" and every):
                chosen, counted = every, "every"
            else:
                chosen, counted = some & keep, "any" if match == "some" else "some"
        if not chosen:
            return Found([], 0, no_facets() if facets else None, counted)
        found = [(d, round(scores.get(d, 0.0), SCORE_DECIMALS)) for d in chosen]
        keys = self.order_keys([d for d, _ in found], sort)
        whole = None
        if runs and sort == "relevance" and counted == "every":
            whole = set(chosen)
            for node in runs:
                whole &= set(searcher.docs_for_query(to_whoosh(node)))
            if not whole or whole == chosen:
                whole = None
        if sort == "relevance" and whole is not None:
            found.sort(key=lambda row: (row[0] not in whole, -row[1], *keys[row[0]]))
        elif sort == "relevance":
            found.sort(key=lambda row: (-row[1], *keys[row[0]]))
        else:
            found.sort(key=lambda row: keys[row[0]])
        # as the engine does: the posts tied with the last of a relevance order come along
        cut = through_ties(found, depth, whole) if sort == "relevance" else depth
        counts = None
        if facets:
            every_post = searcher.search(
                wq.Every(), filter=chosen, limit=None, groupedby=_facet_spec()
            )
            counts = _facets(every_post)
        held = {d for d, _ in found[:cut]} & whole if whole is not None else None
        return Found(found[:cut], len(chosen), counts, counted, held)

    def missing(self, words: tuple, cache: dict | None = None) -> list[str]:
        """The typed strings no post holds (but a word the segmenter made up)."""
        reader = self.whoosh_searcher.reader()
        return [
            typed.text
            for typed in words
            if not typed.guessed
            and not any(
                not reader.is_deleted(d)
                for d in self.whoosh_searcher.docs_for_query(to_whoosh(typed.node))
            )
        ]

    def bytes_of(self, fieldname: str, docnum: int) -> bytes:
        return self._array_engine().bytes_of(fieldname, docnum)

    def stored(self, docnum: int) -> dict:
        return self.whoosh_searcher.stored_fields(docnum)

    def doc_count(self) -> int:
        return self.whoosh_searcher.doc_count()

    def docnum_of(self, path: str) -> int | None:
        return self.whoosh_searcher.document_number(path=path)

    def segment_arrays(self) -> list:
        from searchkit.engine.arrays import reader_segments

        return list(reader_segments(self.whoosh_searcher.reader()))

    def stored_at(self, path: str) -> dict | None:
        return self.whoosh_searcher.document(path=path)

    def doc_frequency(self, fieldname: str, text: str, cache: dict | None = None) -> int:
        return self.whoosh_searcher.doc_frequency(fieldname, text)

    def order_keys(self, docnums: list[int], sort: str = "relevance") -> dict[int, tuple]:
        """:meth:`Engine.order_keys`, read from the stored fields."""
        from searchkit.schema import instant

        out = {}
        for docnum in docnums:
            stored = self.whoosh_searcher.stored_fields(docnum)
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
        extra = self.whoosh_searcher.search(either, filter=set(docnums), limit=len(docnums))
        return {hit.docnum: hit.score for hit in extra}

    def matching(self, query, filter_query=None, words=(), match="any", excluded=()):
        return self._array_engine().matching(query, filter_query, words, match, excluded)

    def dates(self, docnums: np.ndarray) -> np.ndarray:
        return self._array_engine().dates(docnums)

    def _array_engine(self) -> Engine:
        if self._arrays is None:
            self._arrays = Engine(self.whoosh_searcher)
        return self._arrays


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
