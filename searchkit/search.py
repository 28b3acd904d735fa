"""Query to hits: parsing that fits Chinese, BM25F ranking, filters, order and snippets."""

from __future__ import annotations

import math
import os
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from . import store
from .engine import Engine
from .engine.order import reordered, through_ties
from .errors import IndexDamaged, PostMissing, QueryError
from .folding import fold_text, folded_bare
from .highlight import Snippet, find_matches, make_snippet
from .nodes import (
    AndNot,
    DateRange,
    Every,
    Exact,
    Node,
    Nothing,
    Term,
    all_of,
    any_of,
    ticks,
)
from .parser import Parser
from .query import (
    Plan,
    Typed,
    informative,
    make_plan,
    match_mode,
    parse,
)
from .ranking import Ranking, Reranker
from .results import (
    SORTS,
    DupeReport,
    Hit,
    PostRef,
    SearchOptions,
    SearchResult,
    SimilarResult,
    no_facets,
)
from .schema import analyzer_config, read_signature, whole_text

#: With collapsing, how many hits per hit shown are looked at for near-duplicates.
COLLAPSE_POOL = 3


#: A run typed without spaces up to this long that no post holds whole is read as a word
#: of the same sound when the archive has one (a longer run is several words).
SHORT_RUN = 4


class Searcher:
    """An open index that answers queries; reuse it for many queries (``--batch``)."""

    def __init__(
        self,
        index: str | Path | None = None,
        engine=None,
        ranking: Ranking | None = None,
    ):
        """``engine`` makes the engine of an open searcher of the index (:class:`Engine`; the
        tests give Whoosh's own matchers behind the same interface, to compare with)."""
        self.ranking = ranking or Ranking()
        self.engine_kind = engine or Engine
        self.folder = store.index_dir(index)
        self.engine = None
        self._open()

    def _open(self) -> None:
        """Open the current generation, with the schema, analyzer and parser it was built with."""
        self._opened = None

        def once():
            # (opening the generation tries again itself, and says what it found)
            self.generation, self.ix = store.open_generation(self.folder)
            try:
                return self._engine_of(self.ix)
            except IndexDamaged as exc:
                replaced = store.current_generation(self.folder) != self.generation
                if replaced or store.removed(exc):
                    raise store.Again(exc) from exc.__cause__  # a rebuild removed it meanwhile
                raise

        self._use(store.retried(once, 40))
        self._opened = _identity(self.generation)
        self.schema = self.engine.schema
        self.config = analyzer_config(self.schema)
        self.parser = Parser(self.schema, self.ranking.title_weight)

    def _use(self, engine) -> None:
        """Answer from ``engine`` on, with a reranker of its own (its texts are its posts')."""
        self.engine = engine
        self.reranker = Reranker(engine, self.ranking)

    def _engine_of(self, ix):
        """The engine over a searcher of ``ix`` newly opened."""
        with store.reading(self.folder):
            searcher = ix.open_searcher()
            try:
                return self.engine_kind(searcher)
            except BaseException:
                searcher.close()
                raise

    def refresh(self) -> None:
        """Move to the last committed state of the index (after an update or a rebuild)."""
        current = store.current_generation(self.folder)
        if current is None or self._opened is None or _identity(current) != self._opened:
            # another generation, or the same name written anew (the folder removed and
            # built again): open it; a failure leaves nothing open, so the next call retries
            self._close_engine()
            self._open()
            return
        try:
            with store.reading(self.folder):
                fresh = None if self.engine.up_to_date() else self._engine_of(self.ix)
            # A new searcher, not Whoosh's refresh(): that reuses the reader of each segment
            # it knew, with the deletions it knew, and keeps segments a merge removed, so a
            # replaced post would be found twice.
            if fresh is not None:
                self.engine.close()
                self._use(fresh)
        except (IndexDamaged, FileNotFoundError):
            # a rebuild switched and removed this generation meanwhile: open the new one
            self._close_engine()
            self._open()

    def _close_engine(self) -> None:
        self._opened = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    def close(self) -> None:
        self._close_engine()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def parse(self, text: str) -> Node:
        """The tree of a query, as this index's parser reads it."""
        return parse(self.parser, text)

    def _filter(self, options: SearchOptions) -> Node | None:
        parts: list[Node] = []
        if options.since or options.until:
            start = datetime.combine(options.since, datetime.min.time()) if options.since else None
            end = datetime.combine(options.until, datetime.max.time()) if options.until else None
            parts.append(DateRange("date", start and ticks(start), end and ticks(end)))
        fold = self.config.fold
        parts.extend(Term("tags", fold_text(tag.strip(), fold)) for tag in options.tags)
        parts.extend(Term("categories", fold_text(cat.strip(), fold)) for cat in options.categories)
        return all_of(parts) if parts else None

    def search(self, text: str, options: SearchOptions | None = None) -> SearchResult:
        if not isinstance(text, str):
            raise QueryError(f"a query is text, not {type(text).__name__}")
        options = options or SearchOptions()
        if options.sort not in SORTS:
            raise QueryError(f"unknown sort {options.sort!r}; use one of {', '.join(SORTS)}")
        _check_dates(options)
        started = time.perf_counter()
        if not text.strip() and _has_filters(options):
            plan = Plan(text="", query=Every())  # filters alone: every post they keep
        else:
            plan = self.plan(text, options.exact)
        self.refresh()
        with store.reading(self.folder):
            result = self._search(plan, options, started)
            if plan.words and not options.exact:
                result = self._as_meant(plan, options, result, started)
            return result

    def plan(self, text: str, exact: bool = False) -> Plan:
        """Read ``text`` once into what a search needs (:class:`Plan`); ``exact``: without
        synonyms."""
        groups = None if exact else self._synonyms()
        return make_plan(text, self.parser, self.ranking, self._holds, groups)

    def _synonyms(self) -> dict[str, tuple[str, ...]]:
        from .synonyms import for_index

        return for_index(self.folder, self.config.fold)

    def _as_meant(self, plan: Plan, options, result: SearchResult, started) -> SearchResult:
        """``result``, or what the query meant where a typed word no post holds reads as
        pinyin (``taifeng``: 台风, searched at once) or sounds as a word of the archive
        (``习进平``: 习近平, suggested; searched when the query as typed finds nothing or not
        all its words).  Words of the archive come from the index's table of readings
        (:mod:`searchkit.readings`), the most used first."""
        from .readings import PINYIN, Readings

        short = [run for run in plan.runs if len(run.text) <= SHORT_RUN]
        if not (result.missing or not result.total or result.counted == "some" or short):
            return result  # every word held by posts holding them all: nothing to read into
        cache: dict = {}
        unheld = [
            typed.text
            for typed in plan.words
            if not typed.quoted
            and not typed.also
            and self.engine.missing((Typed(typed.text, typed.node),), cache)
        ]
        # a short run typed without spaces that no post holds whole, though each of its
        # words is held somewhere (孙中三: 孙中 and 三): what it stands for is no word
        runs = [run.text for run in short if self.engine.missing((Typed(run.text, run),), cache)]
        if not unheld and not runs:
            return result
        readings = Readings(self.folder, self.generation)
        rewritten, searched = plan.text, False
        for word in unheld + runs:
            pinyin = PINYIN.fullmatch(word) is not None
            found = readings.pinyin(word) if pinyin else readings.sounding(word)
            if found:
                rewritten = _replaced(rewritten, word, found[0][0], self.config.fold)
                searched = searched or pinyin or word in runs
        if rewritten == plan.text:
            return result
        if searched or not result.total or result.counted == "some":
            meant = self._search(self.plan(rewritten), options, started)
            if meant.total:
                meant.query, meant.suggestion, meant.searched = plan.text, rewritten, rewritten
                return meant
        result.suggestion = rewritten
        return result

    def _holds(self, text: str) -> bool:
        """Whether some post holds a string."""
        with store.reading(self.folder):
            return self.engine.holds_some(Exact(text), {})

    def _search(self, plan: Plan, options, started) -> SearchResult:
        text, query = plan.text, plan.query
        if type(query) is Nothing:
            return SearchResult(text, 0, _ms(started), [], no_facets() if options.facets else None)
        first = (options.page - 1) * options.limit
        wanted = first + options.limit
        relevance = options.sort == "relevance"
        rerank = self.ranking.rerank_depth
        depth = max(
            wanted * (COLLAPSE_POOL if options.collapse else 1) + 32, rerank if relevance else 0
        )
        filter_query = self._filter(options)
        postings: dict = {}  # what the engine looked up, for the proximity reward
        missing = self.engine.missing(plan.words, postings)
        if missing and not informative(plan.words, missing):
            # what is left of the query (a number, a character) would find only noise
            none = no_facets() if options.facets else None
            return SearchResult(
                text, 0, _ms(started), [], none, None, missing, synonyms=plan.synonyms
            )
        match = match_mode(options.match, plan.words, plan.excluded, plan.text)
        found = self.engine.search(
            query,
            depth,
            filter_query=filter_query,
            sort=options.sort,
            facets=options.facets,
            cache=postings,
            words=plan.words,
            match=match,
            excluded=plan.excluded,
            runs=plan.runs,
        )
        top, total, facets, held = found.top, found.total, found.facets, found.held
        # the posts the rewards may reorder: the best rerank_depth, and any tied with the last
        rerank = through_ties(top, rerank, held)
        bonus = self.reranker.bonus(plan, top[:rerank], postings) if relevance else {}
        stored_fields = self.engine.stored
        if not options.collapse:
            ranked = reordered(top, bonus, wanted, self._order_keys, stored_fields, held)[first:]
            hits = [
                self._hit(first + i + 1, score, fields, plan.marks, options, docnum)
                for i, (score, docnum, fields) in enumerate(ranked)
            ]
            return SearchResult(
                text,
                total,
                _ms(started),
                hits,
                facets,
                None,
                missing,
                found.counted,
                synonyms=plan.synonyms,
            )
        from .dupes import collapse

        size = max(wanted * COLLAPSE_POOL, rerank)
        pool = reordered(top, bonus, size, self._order_keys, stored_fields, held)
        leaders = collapse(
            self.sketches([docnum for _score, docnum, _fields in pool]),
            texts=lambda i: self._bare_text(pool[i][2]),  # the hit's stored fields, read
        )
        folded: dict[int, list[str]] = {}
        for i, leader in enumerate(leaders):
            if leader != i:
                folded.setdefault(leader, []).append(pool[i][2]["path"])
        heads = [i for i, leader in enumerate(leaders) if leader == i]
        hits = []
        for rank, i in enumerate(heads[first:wanted], first + 1):
            score, docnum, fields = pool[i]
            hit = self._hit(rank, score, fields, plan.marks, options, docnum)
            hit.duplicates = folded.get(i, [])
            hits.append(hit)
        return SearchResult(
            text,
            total,
            _ms(started),
            hits,
            facets,
            len(pool) - len(heads),
            missing,
            found.counted,
            synonyms=plan.synonyms,
        )

    def sketches(self, docnums: list[int]) -> list:
        """Each post's near-duplicate sketch (:class:`searchkit.dupes.Sketch`), from its
        column."""
        from .dupes import Sketch

        return [Sketch.from_bytes(self.engine.bytes_of("near", docnum)) for docnum in docnums]

    def _order_keys(self, docnums: list[int], sort: str = "relevance") -> dict[int, tuple]:
        """``(date key, path)`` of each post: the order of posts of equal score (newer date,
        then path; oldest date first for ``sort`` ``date``; no date last)."""
        return self.engine.order_keys(docnums, sort)

    def trend(self, queries: list[str], by: str = "month", options: SearchOptions | None = None):
        """How many posts match each of ``queries`` per ``by`` (``day``, ``week``, ``month``,
        ``year``), over the whole result set; ``options`` give the dates, tags and categories
        (:class:`searchkit.trend.Trend`)."""
        from .trend import PERIODS, make_trend

        if by not in PERIODS:
            raise QueryError(f"unknown period {by!r}; use one of {', '.join(PERIODS)}")
        options = options or SearchOptions()
        _check_dates(options)
        started = time.perf_counter()
        plans = [self.plan(text) for text in queries]
        self.refresh()
        with store.reading(self.folder):
            engine = self.engine
            filter_query = self._filter(options)
            moments = [
                engine.dates(
                    engine.matching(
                        plan.query,
                        filter_query,
                        plan.words,
                        # a count: the posts holding every word, unless --any
                        match_mode(
                            "some" if options.match == "any" else "all",
                            plan.words,
                            plan.excluded,
                            plan.text,
                        ),
                        plan.excluded,
                    )
                )
                if type(plan.query) is not Nothing
                else np.zeros(0, dtype=np.int64)
                for plan in plans
            ]
        trend = make_trend(list(queries), moments, by, options.since, options.until)
        trend.took_ms = _ms(started)
        return trend

    def dupes(self, threshold: float | None = None, limit: int | None = None) -> DupeReport:
        """Every group of near-duplicate posts in the index (or the ``limit`` largest),
        largest first; in each, the posts oldest first (the first is the original story, as
        far as dates tell)."""
        from .dupes import THRESHOLD, Sketch, group

        threshold = THRESHOLD if threshold is None else threshold
        if not 0 < threshold <= 1:
            raise QueryError(f"a threshold is a similarity above 0 and at most 1, not {threshold}")
        started = time.perf_counter()
        self.refresh()
        with store.reading(self.folder):
            docnums: list[int] = []
            sketches: list[Sketch | None] = []
            for arrays in self.engine.segment_arrays():
                near = arrays.byte_values("near")
                for local in np.flatnonzero(arrays.live()).tolist():
                    docnums.append(arrays.offset + local)
                    sketches.append(Sketch.from_bytes(near[local]))
            stored = self.engine.stored
            found_groups = group(sketches, threshold, lambda i: self._bare_text(stored(docnums[i])))
            groups = []
            for members in found_groups.groups:
                posts = [self._post_ref(docnums[i]) for i in members]
                posts.sort(key=lambda post: (post.date is None, post.date or "", post.path))
                groups.append(posts)
        groups.sort(key=lambda posts: (-len(posts), posts[0].date or "~", posts[0].path))
        in_groups = sum(len(posts) for posts in groups)
        report = DupeReport(threshold, len(docnums), groups[:limit], 0.0, len(groups), in_groups)
        report.took_ms = _ms(started)
        return report

    def _bare_text(self, stored: dict) -> str:
        """A post's text as its sketch saw it, folded and bare (:func:`dupes.same_story`),
        from its stored fields."""
        return folded_bare(_sketched_text(stored), self.config.fold)

    def _post_ref(self, docnum: int) -> PostRef:
        stored = self.engine.stored(docnum)
        return PostRef(
            stored["path"], stored.get("title", ""), (stored.get("meta") or {}).get("date")
        )

    def copies(self, path: str, pool: int = 50) -> list[PostRef]:
        """The near-duplicates of the post at ``path`` (the copies ``--collapse`` folds into
        it), among the posts most like it, best first."""
        from .dupes import collapse

        path = self.post_id(path)
        candidates = [hit.path for hit in self.similar(path, pool).result.hits]
        with store.reading(self.folder):
            docnums = [self.engine.docnum_of(p) for p in [path, *candidates]]
            docnums = [d for d in docnums if d is not None]
            stored = [self.engine.stored(d) for d in docnums]
            leaders = collapse(self.sketches(docnums), texts=lambda i: self._bare_text(stored[i]))
            return [
                self._post_ref(docnums[i]) for i, leader in enumerate(leaders) if i and not leader
            ]

    def terms_of(self, text: str) -> frozenset[str]:
        """The words a post must contain to be marked for ``text`` (not those under NOT)."""
        return self.plan(text).marks

    def similar(self, path: str, limit: int = 10, numterms: int = 12) -> SimilarResult:
        """Posts like the one at ``path``: its key terms asked as one weighted OR query.

        A term's weight is its count in the post times its inverse document frequency in the
        archive, so words every post uses do not dominate; single characters and bare numbers
        are left out.
        """
        path = self.post_id(path)
        with store.reading(self.folder):
            return self._similar(path, limit, numterms)

    def _similar(self, path: str, limit: int, numterms: int) -> SimilarResult:
        started = time.perf_counter()
        stored = self.engine.stored_at(path)
        if stored is None:
            raise PostMissing(f"no post with path {path!r} in the index")
        text = whole_text(stored.get("title", ""), stored.get("text"))
        counts: dict[str, int] = {}
        for token in self.schema["body"].analyzer(text, mode="query"):
            word = token.text
            if len(word) > 1 and not word.replace(".", "").isdigit():
                counts[word] = counts.get(word, 0) + 1
        docs = self.engine.doc_count() or 1
        weighted = []
        for word, count in counts.items():
            frequency = self.engine.doc_frequency("body", word)
            if 1 < frequency < docs:  # in some other posts, but not in every one
                weighted.append((count * math.log(docs / frequency), word))
        weighted.sort(reverse=True)
        terms = [(word, round(weight, 4)) for weight, word in weighted[:numterms]]
        if not terms:
            return SimilarResult(path, terms, SearchResult(path, 0, _ms(started), []))
        top = terms[0][1] or 1.0
        query = any_of(Term("body", word, weight / top) for word, weight in terms)
        found = self.engine.search(AndNot(query, Term("path", path)), limit)
        best, total = found.top[:limit], found.total
        words = frozenset(word for word, _ in terms)
        stored_fields = self.engine.stored
        hits = [
            self._hit(i + 1, score, stored_fields(docnum), words, SearchOptions(), docnum)
            for i, (docnum, score) in enumerate(best)
        ]
        return SimilarResult(path, terms, SearchResult(path, total, _ms(started), hits))

    def file_of(self, docnum: int, path: str) -> str | None:
        """The absolute path of a post's file when it was indexed."""
        value = self.engine.bytes_of("sig", docnum)
        if not value:
            return None
        root = read_signature(value)[0]
        return os.path.join(root, *path.split("/")) if root else None

    def post_id(self, given: str) -> str:
        """The id of the post ``given`` names: its id, or its file's path (relative to the
        current folder, or absolute) as it was indexed."""
        self.refresh()
        with store.reading(self.folder):
            if self.engine.docnum_of(given) is not None:
                return given
            wanted = Path(os.path.abspath(given))
            for target in dict.fromkeys((wanted, wanted.resolve())):
                for folder in target.parents:
                    candidate = target.relative_to(folder).as_posix()
                    docnum = self.engine.docnum_of(candidate)
                    if docnum is not None and self.file_of(docnum, candidate) == str(target):
                        return candidate
        raise PostMissing(
            f"no post with path {given!r} in the index (give its id, as search prints it, "
            "or its file's path)"
        )

    def _hit(
        self, rank: int, score: float, stored: dict, terms, options: SearchOptions, docnum: int
    ) -> Hit:
        meta = stored.get("meta", {})
        title = stored.get("title", "")
        snippet = Snippet("", [])
        if options.snippets and options.snippet_chars:
            body = stored.get("text") or ""
            spans = find_matches(body, terms, self.config.fold)
            snippet = make_snippet(body, spans, options.snippet_chars)
        return Hit(
            rank=rank,
            score=round(float(score), 4),
            path=stored["path"],
            title=title,
            date=meta.get("date"),
            categories=list(stored.get("categories") or []),
            tags=list(stored.get("tags") or []),
            url=meta.get("url"),
            snippet=snippet,
            title_highlights=find_matches(title, terms, self.config.fold),
            file=self.file_of(docnum, stored["path"]),
        )


def _replaced(text: str, word: str, by: str, fold: str) -> str:
    """``text`` with the typed ``word`` (as the analyzer folded it) replaced by ``by``."""
    import re

    pattern = re.compile(re.escape(word), re.IGNORECASE)
    if pattern.search(text):
        return pattern.sub(by, text, count=1)
    return fold_text(text, fold).replace(word, by, 1)


def _identity(generation) -> tuple | None:
    """What tells one generation folder from another of the same name written later."""
    try:
        found = os.stat(generation)
    except (OSError, TypeError):
        return None
    return (str(generation), found.st_ino, found.st_dev, found.st_ctime_ns)


def _check_dates(options: SearchOptions) -> None:
    if options.since and options.until and options.since > options.until:
        raise QueryError(
            f"--since {options.since.isoformat()} is after --until {options.until.isoformat()}"
        )


def _sketched_text(stored: dict) -> str:
    """The text a post's sketch is made from: its text, or its title when it has none."""
    return stored.get("text") or stored.get("title", "")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _has_filters(options: SearchOptions) -> bool:
    return bool(options.since or options.until or options.tags or options.categories)
