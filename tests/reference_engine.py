"""The reference engine: whole queries run through Whoosh's own matchers, behind the
interface of :class:`~searchkit.engine.scoring.Engine`, so that a test can run any query
through both and compare (``Searcher(..., engine=WhooshEngine)``), and the Whoosh query of each
node (:func:`to_whoosh`).

It puts every match in the same total order as the array engine (score rounded to
``SCORE_DECIMALS``, newer instant, path) in Python: correct and slow, by design."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
from whoosh import query as wq

from searchkit.engine.order import SCORE_DECIMALS, through_ties
from searchkit.engine.scoring import Engine, Found
from searchkit.nodes import (
    And,
    AndMaybe,
    AndNot,
    DateRange,
    Every,
    Exact,
    Node,
    Not,
    Nothing,
    Or,
    Phrase,
    Require,
    Term,
    positive,
)
from searchkit.parser import word_node
from searchkit.results import no_facets
from searchkit.schema import ChineseText


class WhooshEngine:
    """Scores queries through an open Whoosh searcher's matchers."""

    def __init__(self, searcher):
        self.whoosh_searcher = searcher
        self.schema = searcher.schema
        self._arrays: Engine | None = None  # for what only the arrays answer (trend's dates)

    def up_to_date(self) -> bool:
        return self.whoosh_searcher.up_to_date()

    def close(self) -> None:
        self.whoosh_searcher.close()

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
        return [
            typed.text
            for typed in words
            if not typed.guessed and not self.holds_some(typed.node, {})
        ]

    def holds_some(self, node, cache: dict) -> bool:
        """Whether some live post holds what ``node`` asks for."""
        reader = self.whoosh_searcher.reader()
        found = self.whoosh_searcher.docs_for_query(to_whoosh(node))
        return any(not reader.is_deleted(docnum) for docnum in found)

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


def to_whoosh(node: Node):
    """The Whoosh query of a tree."""
    kind = type(node)
    if kind is Term:
        return wq.Term(node.field, node.text, boost=node.boost)
    if kind is Phrase:
        return wq.Phrase(node.field, list(node.words), slop=node.slop, boost=node.boost)
    if kind is Exact:
        from searchkit.strings import exact_parts

        parts = []
        for kind_, field, words in exact_parts(node.text):
            if kind_ == "prefix":
                parts.append(_prefix_query(field, words[0], node.boost))
            elif len(words) == 1:
                parts.append(wq.Term(field, words[0], boost=node.boost))
            else:
                parts.append(wq.Phrase(field, list(words), slop=1, boost=node.boost))
        return parts[0] if len(parts) == 1 else wq.And(parts)
    if kind is DateRange:
        return wq.NumericRange(node.field, node.start, node.end, constantscore=True)
    if kind is Or:
        return wq.Or([to_whoosh(child) for child in node.children])
    if kind is And:
        return wq.And([to_whoosh(child) for child in node.children])
    if kind in (AndNot, AndMaybe, Require):
        whoosh_kind = {AndNot: wq.AndNot, AndMaybe: wq.AndMaybe, Require: wq.Require}[kind]
        return whoosh_kind(to_whoosh(node.a), to_whoosh(node.b))
    if kind is Not:
        return wq.Not(to_whoosh(node.child))
    if kind is Every:
        return wq.Every()
    if kind is Nothing:
        return wq.NullQuery
    raise TypeError(f"not a query node: {node!r}")


def _prefix_query(field: str, text: str, boost: float):
    """Whoosh's query for the terms of ``field`` starting with ``text``, each scored as a
    term and boosted (Whoosh's own prefix query drops the boost of its terms)."""

    class BoostedPrefix(wq.Prefix):
        def matcher(self, searcher, context=None):
            terms = [
                wq.Term(self.fieldname, word, boost=self.boost)
                for word in self._btexts(searcher.reader())
            ]
            if not terms:
                from whoosh import matching

                return matching.NullMatcher()
            return wq.Or(terms).matcher(searcher, context)

    return BoostedPrefix(field, text, boost=boost, constantscore=False)


class _ParsedText(ChineseText):
    """A body or title field as Whoosh's own query parser should read it: a query word as
    :func:`searchkit.parser.word_node` reads it (search mode: ``学术研究`` also asks for
    ``学术`` and ``研究``)."""

    def process_text(self, qstring, mode="", **kwargs):
        if mode == "query":
            mode = "query-terms"
        return super().process_text(qstring, mode=mode, **kwargs)

    def self_parsing(self) -> bool:
        return True

    def parse_query(self, fieldname, qstring, boost=1.0):
        return to_whoosh(word_node(self.analyzer, fieldname, qstring, boost))

    def parse_range(self, fieldname, start, end, startexcl, endexcl, boost=1.0):
        return None  # the parser's own term range


def whoosh_schema(schema):
    """``schema`` with its Chinese text fields parsed by Whoosh's parser as searchkit parses
    them: the reference :class:`searchkit.parser.Parser` is compared with."""
    parsed = schema.copy()
    for name, field in schema.items():
        if type(field) is ChineseText:
            twin = _ParsedText.__new__(_ParsedText)
            twin.__dict__.update(field.__dict__)
            parsed.remove(name)
            parsed.add(name, twin)
    return parsed
