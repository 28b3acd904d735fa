"""The library's front door: an index on disk, its posts and its searches.

>>> from searchkit import Index
>>> ix = Index.create("index")                      # doctest: +SKIP
>>> report = ix.update(["site/_posts"])             # doctest: +SKIP
>>> result = ix.search("数据中心 液冷", limit=5)    # doctest: +SKIP

Everything the command line does goes through :class:`Index`; nothing here reads the
environment, and nothing forks unless ``jobs`` asks for it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import TYPE_CHECKING

from . import store
from .analysis import AnalyzerConfig
from .batch import run_batch
from .dates import parse_date_option
from .errors import IndexMissing, QueryError, SearchkitError
from .highlight import FRAGMENT_CHARS
from .search import (
    DupeReport,
    Ranking,
    Searcher,
    SearchOptions,
    SearchResult,
    SimilarResult,
)
from .stats import IndexStats, StoredPost, index_stats, show_post
from .trend import Trend

if TYPE_CHECKING:
    from .documents import Post
    from .results import IndexReport

DateLike = date | str | None


def plausible(config) -> bool:
    """Whether an analyzer configuration read from an index is one searchkit could have
    written: a known folding, and word lists of plain text."""
    from .analysis import AnalyzerConfig
    from .folding import FOLDS

    return (
        isinstance(config, AnalyzerConfig)
        and config.fold in FOLDS
        and isinstance(config.stopwords, tuple)
        and all(isinstance(word, str) for word in config.stopwords)
        and isinstance(config.userdict, tuple)
        and all(isinstance(entry, tuple) and isinstance(entry[0], str) for entry in config.userdict)
    )


def _one_at_a_time(method):
    """The method under the index's lock (one searcher, one thread in it at a time)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


def _held(lock, items: Iterator):
    """``items``, each made under ``lock``."""
    while True:
        with lock:
            item = next(items, _END)
        if item is _END:
            return
        yield item


_END = object()


class Index:
    """An index folder.  :meth:`open` one that exists or :meth:`create` one; then
    :meth:`update` it from post files, :meth:`add` and :meth:`delete` posts, and
    :meth:`search` it.  One open index serves many searches (close it, or use ``with``).

    ``ranking`` changes how hits are ranked (:class:`Ranking`; its defaults are those
    ``make eval`` chose); ``engine`` makes the query engine of an open Whoosh searcher
    (:class:`searchkit.engine.Engine`, the default; the tests give Whoosh's own matchers
    behind the same interface, to compare with).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        ranking: Ranking | None = None,
        engine=None,
    ):
        self.folder = store.index_dir(path)
        self.ranking = ranking or Ranking()
        self.engine = engine
        self._searcher: Searcher | None = None
        # One searcher serves every thread, one call at a time: a refresh after a write
        # replaces the readers another thread's search would still be reading.
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | os.PathLike, *, ranking: Ranking | None = None, engine=None) -> Index:
        """The index at ``path``; :class:`IndexMissing` when there is none."""
        ix = cls(path, ranking=ranking, engine=engine)
        if store.current_generation(ix.folder) is None:
            raise IndexMissing(
                f"no index at {ix.folder}; build one with: searchkit index PATH --index "
                f"{ix.folder} (or Index.create in Python)"
            )
        return ix

    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        analyzer: AnalyzerConfig | None = None,
        ranking: Ranking | None = None,
        engine=None,
    ) -> Index:
        """A new, empty index at ``path`` whose posts will be analysed by ``analyzer``;
        refused where an index already is."""
        from .indexer import create_index

        create_index(path, analyzer)
        return cls(path, ranking=ranking, engine=engine)

    # --- writing --------------------------------------------------------------------------

    def update(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        rebuild: bool = False,
        jobs: int = 1,
        drafts: bool = False,
        userdict: str | None = None,
        stopwords: str | None = None,
        lock_timeout: float = 10.0,
        progress: Callable[[int, int], None] | None = None,
        commit_every: int | None = None,
        synonyms: str | None = None,
    ) -> IndexReport:
        """Bring the index in line with the post files under ``paths`` (files or folders):
        new and changed posts are added, those gone are deleted, the rest left alone.

        ``rebuild`` builds a new index from scratch, with the analyzer this index has (its
        user dictionary and stop words) unless ``userdict`` or ``stopwords`` files are given;
        ``jobs`` > 1 forks that many builder processes for a large build; a long build
        commits every ``commit_every`` posts (20,000 unless given), so that a crash loses
        little.  ``synonyms``: a file of synonym groups its queries use from now on instead of
        the shipped list (``"none"``: no synonyms; :mod:`searchkit.synonyms`)."""
        from .indexer import COMMIT_EVERY, index_paths

        analyzer = None
        if rebuild and store.current_generation(self.folder) is not None:
            with contextlib.suppress(SearchkitError):  # another format, damaged: the default
                analyzer = self.analyzer
            if analyzer is not None and not plausible(analyzer):
                analyzer = None  # what a damaged or crafted index says is not kept
        report = index_paths(
            paths,
            self.folder,
            rebuild=rebuild,
            userdict=userdict,
            stopwords=stopwords,
            jobs=jobs,
            lock_timeout=lock_timeout,
            progress=progress,
            drafts=drafts,
            analyzer=analyzer,
            commit_every=COMMIT_EVERY if commit_every is None else commit_every,
            synonyms=synonyms,
        )
        self._refresh()
        return report

    def add(self, *posts: Post, lock_timeout: float = 10.0) -> IndexReport:
        """Add posts made by a program (``Post(path=..., title=..., body=...)`` or
        :meth:`Post.from_text`); a post replaces any post at its path."""
        from .indexer import write_posts

        report = write_posts(self.folder, posts, lock_timeout=lock_timeout)
        self._refresh()
        return report

    def delete(self, *paths: str, lock_timeout: float = 10.0) -> IndexReport:
        """Delete the posts at ``paths``; the report's ``deleted`` says how many there were."""
        from .indexer import write_posts

        report = write_posts(self.folder, delete=paths, lock_timeout=lock_timeout)
        self._refresh()
        return report

    # --- reading --------------------------------------------------------------------------

    @_one_at_a_time
    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        page: int = 1,
        sort: str = "relevance",
        since: DateLike = None,
        until: DateLike = None,
        tags: str | Iterable[str] = (),
        categories: str | Iterable[str] = (),
        facets: bool = False,
        snippets: bool = True,
        collapse: bool = False,
        match: str = "auto",
        snippet_chars: int = FRAGMENT_CHARS,
        exact: bool = False,
    ) -> SearchResult:
        """The hits of ``query`` (the command line's query language), best first.

        ``since`` and ``until`` take a date or ``"YYYY"``, ``"YYYY-MM"``, ``"YYYY-MM-DD"``
        (``until="2023"`` is the end of 2023); ``sort`` is ``"relevance"``, ``"date"`` (oldest
        first) or ``"-date"`` (newest first).  ``collapse`` shows one hit per story: the
        near-duplicates of a better-ranked hit are folded into it (``hit.duplicates``).
        ``exact`` searches only what was typed: no synonyms, no pinyin read, no slip of the
        input method corrected (``result.suggestion``, ``result.searched``)."""
        return self.searcher().search(
            query,
            self.options(
                limit=limit,
                page=page,
                sort=sort,
                since=since,
                until=until,
                tags=tags,
                categories=categories,
                facets=facets,
                snippets=snippets,
                collapse=collapse,
                match=match,
                snippet_chars=snippet_chars,
                exact=exact,
            ),
        )

    def search_many(
        self, lines: Iterable[str | bytes], options: SearchOptions | None = None, jobs: int = 1
    ) -> Iterator[tuple[str, SearchResult | QueryError]]:
        """``(qid, result or error)`` for each ``QID<TAB>QUERY`` (or bare query) line, in
        order; ``jobs`` > 1 answers them in that many forked processes."""
        with self._lock:
            searcher = self.searcher()
        return _held(self._lock, run_batch(searcher, lines, options or SearchOptions(), jobs))

    @_one_at_a_time
    def trend(
        self,
        *queries: str,
        by: str = "month",
        since: DateLike = None,
        until: DateLike = None,
        tags: str | Iterable[str] = (),
        categories: str | Iterable[str] = (),
    ) -> Trend:
        """How many posts match each query per ``by`` (``"day"``, ``"week"``, ``"month"``,
        ``"year"``), over every post it matches; periods run from ``since`` (or the first
        match) to ``until`` (or the last)."""
        if not queries:
            raise QueryError("give at least one query")
        options = self.options(since=since, until=until, tags=tags, categories=categories)
        return self.searcher().trend(list(queries), by, options)

    @_one_at_a_time
    def dupes(self, threshold: float | None = None, limit: int | None = None) -> DupeReport:
        """Every group of near-duplicate posts (the same story reposted, updated, trimmed or
        in the other script), largest first, each oldest first; ``threshold`` is the text
        similarity from which two posts are one story (default
        :data:`searchkit.dupes.THRESHOLD`); ``limit`` keeps the largest groups only."""
        return self.searcher().dupes(threshold, limit)

    @_one_at_a_time
    def similar(self, path: str, limit: int = 10) -> SimilarResult:
        """Posts like the one at ``path``: its key terms, weighed against the archive."""
        return self.searcher().similar(path, limit)

    @_one_at_a_time
    def copies(self, path: str) -> list:
        """The near-duplicates of the post at ``path`` (:class:`searchkit.results.PostRef`),
        the copies of its story that ``search --collapse`` folds into it."""
        return self.searcher().copies(path)

    @_one_at_a_time
    def post(self, path: str, query: str | None = None) -> StoredPost:
        """The post at ``path`` as the index keeps it (title, date, tags, text...), with
        where ``query``'s words are in its text when a query is given."""
        post = show_post(self.searcher().post_id(path), self.folder)
        if query:
            from .highlight import find_matches

            searcher = self.searcher()
            terms = searcher.terms_of(query)
            post.highlights = find_matches(post.text, terms, searcher.config.fold)
        return post

    def stats(self) -> IndexStats:
        """What the index holds: counts by category, tag and year, size, analyzer."""
        return index_stats(self.folder)

    @property
    def analyzer(self) -> AnalyzerConfig:
        """The analyzer the index was built with."""
        from .schema import analyzer_config

        return analyzer_config(store.open_index(self.folder).schema)

    @staticmethod
    def options(
        *,
        since: DateLike = None,
        until: DateLike = None,
        tags: str | Iterable[str] = (),
        categories: str | Iterable[str] = (),
        **settings,
    ) -> SearchOptions:
        """:class:`SearchOptions` from the arguments of :meth:`search`."""
        return SearchOptions(
            since=_day(since, end=False),
            until=_day(until, end=True),
            tags=tags,
            categories=categories,
            **settings,
        )

    @_one_at_a_time
    def searcher(self) -> Searcher:
        """The open searcher behind :meth:`search` (opened on first use)."""
        if self._searcher is None:
            self._searcher = Searcher(self.folder, engine=self.engine, ranking=self.ranking)
        return self._searcher

    @_one_at_a_time
    def _refresh(self) -> None:
        if self._searcher is not None:
            self._searcher.refresh()

    @_one_at_a_time
    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Index({str(self.folder)!r})"


def _day(value: DateLike, end: bool) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise SearchkitError(f"{'until' if end else 'since'} is a date or ISO text, not {value!r}")
    return parse_date_option(value, end=end)
