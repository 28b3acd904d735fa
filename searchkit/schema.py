"""Posts to index fields: the Whoosh schema and the conversion of a Post to a document."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, TEXT, Schema

from .analysis import AnalyzerConfig, ChineseAnalyzer
from .engine.postings import CompactPositions
from .folding import Folded, bare_text, fold_text, keyword_analyzer

if TYPE_CHECKING:
    from .documents import Post


class ChineseText(TEXT):
    """A TEXT field for Chinese: positions are stored compactly, and indexing goes straight
    from the analyzer's tuples to postings, without Whoosh's token objects."""

    def __init__(self, analyzer: ChineseAnalyzer, stored: bool = False):
        super().__init__(analyzer=analyzer, stored=stored)
        self.format = CompactPositions(field_boost=self.format.field_boost)

    def index(self, value, **kwargs):
        encode = self.format.encode
        boost = self.format.field_boost
        for token, found in self.analyzer.positions(value).items():
            yield token.encode("utf-8"), len(found), len(found) * boost, encode(found)

    def index_stream(self, value):
        """The analyzer's word table and the entries of ``value``'s words in it: what a
        segment builder makes its postings from (:class:`searchkit.engine.building.TokenStreams`)."""
        return self.analyzer.entries(value)


class StringPairs(TEXT):
    """A post's folded title and text as character pairs at their offsets, so that a typed
    string is found wherever the text holds it (:mod:`searchkit.strings`); never asked by
    name in a query."""

    def __init__(self, fold: str):
        super().__init__(analyzer=keyword_analyzer(fold), phrase=True)
        self.format = CompactPositions(field_boost=1.0)
        self.fold = fold

    def index(self, value, **kwargs):
        from .strings import positions_by_pair

        encode = self.format.encode
        for pair, found in positions_by_pair(fold_text(value, self.fold)).items():
            yield (
                pair.encode("utf-8", "surrogatepass"),
                len(found),
                float(len(found)),
                encode(found),
            )

    def index_stream(self, value):
        """No word table, and each pair's key and offset (:class:`searchkit.engine.building.PairStreams`)."""
        from .strings import pair_keys

        return None, pair_keys(fold_text(value, self.fold))


def bare_value(title: str, text: str | None, fold: str) -> bytes:
    """The ``bare`` column's value of a post: its title and text as :func:`bare_text` makes
    them, joined by a NUL (``read_bare`` splits it)."""
    return f"{bare_text(title, fold)}\0{bare_text(text or '', fold)}".encode()


def read_bare(value: bytes) -> tuple[str, str] | None:
    """A post's bare title and text from its ``bare`` column value; None for a post without
    one (an empty value: a post with neither still has the NUL)."""
    if not value:
        return None
    title, _, text = value.decode("utf-8").partition("\0")
    return title, text


def build_schema(config: AnalyzerConfig) -> Schema:
    analyzer = ChineseAnalyzer(config)
    return Schema(
        path=ID(unique=True, stored=True, sortable=True),
        title=ChineseText(analyzer=analyzer, stored=True),
        body=ChineseText(analyzer=analyzer),
        # the title and text again, as character pairs: what a typed string matches
        pairs=StringPairs(config.fold),
        tags=KEYWORD(stored=True, scorable=True, analyzer=keyword_analyzer(config.fold)),
        categories=KEYWORD(stored=True, scorable=True, analyzer=keyword_analyzer(config.fold)),
        year=ID(stored=False),
        date=DATETIME(stored=True, sortable=True),
        meta=STORED(),
        sig=COLUMN(VarBytesColumn()),
        # the post's near-duplicate sketch (searchkit.dupes)
        near=COLUMN(VarBytesColumn()),
        # the post's title and text as the rerank reads them (bare_text), so that a query
        # reads a column instead of unpickling and folding each text
        bare=COLUMN(VarBytesColumn()),
        # the post's moment as an instant (UTC), for sorting by date: 08:00-05:00 comes after
        # 09:00+08:00; the date column keeps the post's own day, which date filters use
        instant=COLUMN(NumericColumn("Q", default=NO_INSTANT)),
        text=STORED(),
    )


#: The instant column's value for a post without a date.
NO_INSTANT = 2**64 - 1


def instant(moment: datetime) -> int:
    """Microseconds since year 1, UTC, of a post's moment (one without an offset is taken as
    written)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - datetime(1, 1, 1)) // timedelta(microseconds=1)


_SCHEMAS: dict[str, Schema] = {}


def schema_for(plain: dict) -> Schema:
    """The schema of an index whose manifest holds the analyzer's configuration ``plain``
    (made by this code, never read from the index; the last few are kept, by their JSON)."""
    key = json.dumps(plain, ensure_ascii=False, sort_keys=True)
    found = _SCHEMAS.get(key)
    if found is None:
        if len(_SCHEMAS) >= 4:
            _SCHEMAS.pop(next(iter(_SCHEMAS)))
        found = _SCHEMAS[key] = build_schema(AnalyzerConfig.from_plain(plain))
    return found


def analyzer_config(schema: Schema) -> AnalyzerConfig:
    """The analyzer configuration an index was built with."""
    return schema["body"].analyzer.config


def signature(root: str, size: int, mtime: float, digest: str) -> bytes:
    """What tells an unchanged file, kept in a column so an update reads it without the text."""
    # a root named in bytes that are not UTF-8 is kept as those bytes
    return "\0".join((root, str(size), repr(mtime), digest)).encode("utf-8", "surrogateescape")


def read_signature(value: bytes) -> tuple[str, int, float, str]:
    root, size, mtime, digest = value.decode("utf-8", "surrogateescape").split("\0")
    return root, int(size), float(mtime), digest


def whole_text(title: str, text: str | None) -> str:
    """A post as its body field is indexed: the title, then the text."""
    return f"{title}\n{text or ''}"


def _keywords(terms: list[str]) -> str:
    return ",".join(term.replace(",", " ") for term in terms)


def document_maker(schema: Schema):
    """:func:`post_to_document` for an index of this schema (its folding)."""
    return functools.partial(post_to_document, fold=analyzer_config(schema).fold)


def post_to_document(post: Post, fold: str | None = None) -> dict:
    """Keyword arguments for ``writer.add_document``; ``fold`` given, with the post's
    near-duplicate sketch, and its title and text folded once for the sketch and the body
    field (not again by the analyzer)."""
    if fold is None:
        body = whole_text(post.title, post.body)
    else:  # folded once, each part alone: for the index terms and for the sketch
        title = fold_text(post.title, fold)
        text = Folded(fold_text(post.body, fold) if post.body else title, fold)
        body = Folded(whole_text(title, post.body and text), fold)
    doc = {
        "path": post.path,
        "title": post.title,
        # The body field is the whole post: BM25 then sees a title word and the same word
        # in the text together (make eval: +0.0006 MRR on both sets); the title field adds
        # its own, lighter weight.
        "body": body,
        "pairs": body,
        "meta": {
            "size": post.size,
            "digest": post.digest,
            "date": post.date.isoformat() if post.date else None,
            "url": post.url,
        },
        "text": post.body,
        "sig": signature(post.root, post.size, post.mtime, post.digest),
    }
    if fold is not None:
        from .dupes import sketch

        doc["near"] = sketch(text, fold).to_bytes()
        doc["bare"] = bare_value(post.title, post.body, fold)
    if post.tags:
        doc["tags"] = _keywords(post.tags)
        doc["_stored_tags"] = post.tags
    if post.categories:
        doc["categories"] = _keywords(post.categories)
        doc["_stored_categories"] = post.categories
    if post.date:
        # Indexed by the day (date filters are by the day, and a day's posts share their
        # terms), stored and sorted to the second.
        moment = post.date.replace(tzinfo=None)
        doc["date"] = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        doc["_stored_date"] = moment
        doc["year"] = str(post.date.year)
        doc["instant"] = instant(post.date)
    return doc
