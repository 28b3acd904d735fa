"""Every value a search gives or takes: options, hits, results, post references, dupes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from .errors import QueryError, SearchkitError
from .highlight import FRAGMENT_CHARS, Snippet

if TYPE_CHECKING:
    from .documents import Problem

SORTS = ("relevance", "date", "-date")


MATCHES = ("auto", "all", "any")


#: The most hits one page holds (walk the pages for more).
MAX_LIMIT = 1000


#: The longest snippet asked for, in characters.
MAX_SNIPPET = 2000


@dataclass
class SearchOptions:
    limit: int = 10
    page: int = 1
    sort: str = "relevance"
    since: date | None = None
    until: date | None = None
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    facets: bool = False
    snippets: bool = True
    #: One hit per story: near-duplicates of a better-ranked hit are folded into it.
    collapse: bool = False
    #: ``"auto"``: posts holding every typed word first (:data:`TIERED_WORDS`), then the
    #: rest; ``"all"``: only those; ``"any"``: any word, ranked by score alone.
    match: str = "auto"
    #: About how many characters each of a hit's one to three snippet fragments shows
    #: (0: no snippet).
    snippet_chars: int = FRAGMENT_CHARS
    #: Only what was typed: no synonyms, no pinyin read, no slip corrected.
    exact: bool = False

    @classmethod
    def from_params(cls, params) -> SearchOptions:
        """The options of a query string (``serve``'s API): ``limit``, ``page``, ``sort``,
        ``since``, ``until``, ``tag`` and ``category`` (each may repeat), ``facets``,
        ``collapse`` and ``exact`` (``1``), ``match``; ``params`` has ``get`` and ``getlist``."""
        from .dates import parse_date_option

        def day(name: str, end: bool) -> date | None:
            value = params.get(name)
            return parse_date_option(value, end=end) if value else None

        return cls(
            limit=param_number(params, "limit", 10),
            page=param_number(params, "page", 1),
            sort=params.get("sort") or "relevance",
            since=day("since", False),
            until=day("until", True),
            tags=tuple(params.getlist("tag")),
            categories=tuple(params.getlist("category")),
            facets=param_flag(params, "facets"),
            collapse=param_flag(params, "collapse"),
            match=params.get("match") or "auto",
            exact=param_flag(params, "exact"),
        )

    def __post_init__(self):
        """Refuse, naming the argument, what a search cannot mean."""
        for name, low, high in (
            ("limit", 1, MAX_LIMIT),
            ("page", 1, None),
            ("snippet_chars", 0, MAX_SNIPPET),
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < low
                or (high is not None and value > high)
            ):
                upper = f" to {high:,}" if high is not None else " or more"
                raise SearchkitError(f"{name} is a whole number from {low}{upper}, not {value!r}")
        if self.sort not in SORTS:
            raise QueryError(f"unknown sort {self.sort!r}; use one of {', '.join(SORTS)}")
        if self.match not in MATCHES:
            raise SearchkitError(f"match is one of {', '.join(MATCHES)}, not {self.match!r}")
        for name in ("tags", "categories"):
            value = getattr(self, name)
            if isinstance(value, str):  # one string is one tag
                value = (value,) if value.strip() else ()
            if not isinstance(value, (list, tuple, set, frozenset)) or not all(
                isinstance(v, str) for v in value
            ):
                raise SearchkitError(f"{name} is a string or a list of strings, not {value!r}")
            setattr(self, name, tuple(value))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, date):
                raise SearchkitError(f"{name} is a date, not {value!r}")


@dataclass
class Hit:
    rank: int
    score: float
    path: str
    title: str
    date: str | None
    categories: list[str]
    tags: list[str]
    url: str | None
    snippet: Snippet
    title_highlights: list[tuple[int, int]] = field(default_factory=list)
    #: With collapsing, the paths of the near-duplicates folded into this hit.
    duplicates: list[str] | None = None
    #: The absolute path of the post's file when it was indexed.
    file: str | None = None


@dataclass
class SearchResult:
    query: str
    total: int
    took_ms: float
    hits: list[Hit]
    facets: dict[str, dict[str, int]] | None = None
    #: With collapsing, how many of the hits looked at were folded into better-ranked ones
    #: (``total`` still counts every matching post).
    collapsed: int | None = None
    #: The typed words no post holds (as the analyzer reads them: folded, lower case).
    missing: list[str] = field(default_factory=list)
    #: What ``total`` counts: ``"every"``, the posts holding every typed string; ``"some"``,
    #: those holding some, as no post holds every one; ``"any"``, those holding some, as
    #: ``--any`` asked; ``"query"``, those the query matches (a question or headline ranked
    #: by relevance, or a query with operators).
    counted: str = "query"
    #: The query rewritten where a typed word no post holds was read as pinyin or as a slip
    #: of the input method (None: nothing found to suggest).
    suggestion: str | None = None
    #: The query the hits answer, when it is not the one typed (the suggestion searched).
    searched: str | None = None
    #: Typed words widened by synonyms: each with the other words searched for it.
    synonyms: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class SimilarResult:
    """Posts like the one at ``path``: the key terms asked for, with their weights, and the
    hits."""

    path: str
    terms: list[tuple[str, float]]
    result: SearchResult


@dataclass
class PostRef:
    """A post named in a list: its path, title and date (ISO, or None)."""

    path: str
    title: str
    date: str | None


@dataclass
class DupeReport:
    """The groups of near-duplicate posts of an index, largest first, each oldest first."""

    threshold: float
    posts: int  # posts looked at (every post of the index)
    groups: list[list[PostRef]]
    took_ms: float = 0.0
    group_count: int = 0  # groups found (``groups`` may hold only the largest)
    in_groups: int = 0  # posts in them


@dataclass
class IndexReport:
    """What an ``index`` run did."""

    index: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    documents: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": len(self.skipped),
            "documents": self.documents,
            "seconds": round(self.seconds, 3),
            "rebuilt": self.rebuilt,
            "problems": [
                {"path": p.path, "reason": p.reason, "skipped": p.skipped}
                for p in self.skipped + self.warnings
            ],
        }


def no_facets() -> dict[str, dict[str, int]]:
    """Facets of no posts."""
    return {"categories": {}, "tags": {}, "years": {}}


def param_number(params, name: str, default: int) -> int:
    """A whole number of a query string, or ``default`` when it is not given."""
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise SearchkitError(f"{name} is a whole number, not {value!r}") from None


def param_flag(params, name: str) -> bool:
    """A yes-or-no of a query string (``1``, ``true``, ``yes``, ``on``)."""
    return params.get(name, "").lower() in ("1", "true", "yes", "on")
