"""What an index holds: counts by category, tag and year, size, analyzer; one post in full."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from . import store
from .errors import PostMissing
from .folding import fold_text
from .schema import analyzer_config


@dataclass
class IndexStats:
    """What an index holds.  Categories and tags are counted folded (both scripts as one),
    most common first; years in order."""

    index: str
    documents: int
    size_bytes: int
    last_indexed: str | None
    first_date: str | None
    last_date: str | None
    categories: dict[str, int]
    tags: dict[str, int]
    years: dict[str, int]
    analyzer: dict


@dataclass
class StoredPost:
    """One post as the index keeps it."""

    path: str
    title: str
    date: str | None
    categories: list[str]
    tags: list[str]
    url: str | None
    size: int | None
    digest: str | None
    text: str
    #: Where a query's words are in ``text`` (character offsets), when one was given.
    highlights: list[tuple[int, int]] | None = None


def index_stats(index: str | Path) -> IndexStats:
    folder = store.index_dir(index)
    return store.read_current(folder, lambda ix: _index_stats(folder, ix))


def _index_stats(folder: Path, ix) -> IndexStats:
    categories: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    years: Counter[str] = Counter()
    first = last = None
    fold = analyzer_config(ix.schema).fold
    from .engine.scoring import Engine

    with ix.open_searcher() as searcher:
        documents = searcher.doc_count()
        for stored in Engine(searcher).every_stored():
            # counted as the index keeps them: folded, so that both scripts count as one
            categories.update(fold_text(c, fold) for c in stored.get("categories") or [])
            tags.update(fold_text(t, fold) for t in stored.get("tags") or [])
            day = (stored.get("meta") or {}).get("date")
            if day:
                years[day[:4]] += 1
                first = day if first is None or day < first else first
                last = day if last is None or day > last else last
    generation = store.current_generation(folder)
    return IndexStats(
        index=str(folder),
        documents=documents,
        size_bytes=store.folder_size(generation) if generation else 0,
        last_indexed=store.read_state(folder).get("last_indexed"),
        first_date=first,
        last_date=last,
        categories=dict(categories.most_common()),
        tags=dict(tags.most_common()),
        years=dict(sorted(years.items())),
        analyzer=analyzer_config(ix.schema).describe(),
    )


def show_post(path: str, index: str | Path) -> StoredPost:
    """Stored fields and text of the post whose id is ``path``."""
    folder = store.index_dir(index)

    from .engine.scoring import Engine

    def stored_fields(ix):
        with ix.open_searcher() as searcher:
            return Engine(searcher).stored_at(path)

    stored = store.read_current(folder, stored_fields)
    if stored is None:
        raise PostMissing(f"no post with path {path!r} in the index")
    meta = stored.get("meta") or {}
    return StoredPost(
        path=stored["path"],
        title=stored.get("title", ""),
        date=meta.get("date"),
        categories=list(stored.get("categories") or []),
        tags=list(stored.get("tags") or []),
        url=meta.get("url"),
        size=meta.get("size"),
        digest=meta.get("digest"),
        text=stored.get("text") or "",
    )
