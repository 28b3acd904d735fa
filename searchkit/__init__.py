"""searchkit: full-text search for archives of Chinese news posts.

The front door is :class:`Index`::

    from searchkit import Index
    with Index.open("index") as ix:
        for hit in ix.search("数据中心 液冷", limit=5).hits:
            print(hit.rank, hit.title, hit.path)

Names are imported on first use, so that ``import searchkit`` (and the command line's
start) stays light.  Importing searchkit changes nothing outside it: no import hook, no other
library's module touched.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Each public name and the module it lives in.
_EXPORTS = {
    "AnalyzerConfig": "analysis",
    "Index": "api",
    "Post": "documents",
    "Problem": "documents",
    "AnalyzerMismatch": "errors",
    "DiskFull": "errors",
    "OutputError": "errors",
    "PostMissing": "errors",
    "IndexDamaged": "errors",
    "IndexLocked": "errors",
    "IndexMissing": "errors",
    "LinkRefused": "errors",
    "QueryError": "errors",
    "SearchkitError": "errors",
    "IndexReport": "indexer",
    "DupeReport": "results",
    "Hit": "results",
    "PostRef": "results",
    "Ranking": "ranking",
    "SearchOptions": "results",
    "SearchResult": "results",
    "SimilarResult": "results",
    "IndexStats": "stats",
    "StoredPost": "stats",
    "Trend": "trend",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'searchkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
