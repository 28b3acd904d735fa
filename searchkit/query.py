"""Query text to a plan: syntax checks, the typed words of a plain query and how they are
matched, and Whoosh's parser fitted to Chinese as the reference :mod:`searchkit.parser` is
tested against (the tree itself is :mod:`searchkit.parser`'s)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from .errors import QueryError
from .nodes import AndNot, Node, Not, Phrase, Term, children
from .parser import TEXT_FIELDS
from .ranking import Ranking

#: The longest query read, in characters: a long question is a few hundred; a query of
#: megabytes would take minutes and gigabytes to segment and score.
MAX_QUERY = 2000


#: With ``match`` ``"auto"``, a query of at most this many typed words ranks the posts
#: holding all of them first (None: any number).  Chosen with ``make eval``.
TIERED_WORDS: int | None = 5


_SYNTAX = re.compile(r'["():\[\]{}]|(?:^|\s)[-+]\S|\b(?:AND|OR|NOT|ANDNOT|ANDMAYBE)\b')


#: The fields a query may name, and those of the schema it may not (stored, not indexed).
QUERY_FIELDS = ("title", "body", "tags", "categories", "date", "path", "year")


UNSEARCHED_FIELDS = frozenset({"text", "meta", "sig", "near", "bare", "instant"})


#: A field name just before a colon: ASCII, at the start of a word.
_FIELD_NAME = re.compile(r"(?:^|(?<=[\s(]))[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Plan:
    """A query read once: what the engine, the rewards and the highlights share."""

    text: str
    query: Node
    #: The typed words of a plain query (no operators or fields): ``(word, alternatives)``,
    #: each alternative the terms that hold the word together (see :func:`typed_words`).
    words: tuple = ()
    guessed: frozenset[str] = frozenset()  # words the segmenter made up (guessed_words)
    phrases: list = field(default_factory=list)  # neighbouring words, for the proximity reward
    grams: frozenset[str] = frozenset()  # the folded query's character trigrams (span reward)
    terms: frozenset[str] = frozenset()  # the words a hit is marked for
    chars: frozenset[str] = frozenset()  # the folded query's characters (letters and digits)
    pairs: frozenset[str] = frozenset()  # ... and its pairs of neighbouring characters
    # ... and its numbers: each the ways a text may write it (query_numbers)
    numbers: frozenset[tuple[str, ...]] = frozenset()


def parse_date_option(text: str, end: bool = False) -> date:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; ``end`` gives the last day of a year or month."""
    parts = text.strip().split("-")
    try:
        if len(parts) == 1:
            return date(int(parts[0]), 12, 31) if end else date(int(parts[0]), 1, 1)
        if len(parts) == 2:
            year, month = int(parts[0]), int(parts[1])
            if not end:
                return date(year, month, 1)
            following = date(year + month // 12, month % 12 + 1, 1)
            return following - timedelta(days=1)
        if len(parts) == 3:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        pass
    raise QueryError(f"cannot read date {text!r}; use YYYY-MM-DD")


def check_syntax(text: str) -> None:
    """Reject what Whoosh would silently misread: unbalanced brackets and quotes, empty fields."""
    if not text.strip():
        raise QueryError("empty query")
    depth = {"(": 0, "[": 0, "{": 0}
    closing = {")": "(", "]": "[", "}": "{"}
    in_quote = False
    for index, char in enumerate(text):
        if char == '"':
            in_quote = not in_quote
        elif in_quote:
            continue
        elif char in depth:
            depth[char] += 1
        elif char in closing:
            depth[closing[char]] -= 1
            if depth[closing[char]] < 0:
                raise QueryError(f"unbalanced {char!r} at character {index + 1}")
        elif char == ":" and (name := _FIELD_NAME.search(text, 0, index)):
            # a field name is ASCII; after Chinese text a colon is punctuation (发布会: 要点)
            rest = text[index + 1 :]
            if not rest.strip() or rest[0].isspace() or rest[0] in ")]}":
                raise QueryError(f"field {name.group()}: is followed by nothing")
            if name.group() in UNSEARCHED_FIELDS:
                raise QueryError(
                    f"field {name.group()}: cannot be searched; a query names "
                    f"{', '.join(f'{field}:' for field in QUERY_FIELDS)}, or none for the text"
                )
    for opener, count in depth.items():
        if count:
            raise QueryError(f"unbalanced {opener!r}")


def make_parser(schema, title_weight: float = Ranking.title_weight):
    """Whoosh's parser over title and body, OR grouping, ``-word`` only at a word's start:
    the reference :class:`searchkit.parser.Parser` is compared with (``negate_minus`` first)."""
    from whoosh import qparser

    parser = qparser.MultifieldParser(
        list(TEXT_FIELDS),
        schema,
        fieldboosts={"title": title_weight, "body": 1.0},
        group=qparser.OrGroup,
    )
    parser.remove_plugin_class(qparser.WildcardPlugin)
    # "让-皮埃尔" and "T-92" are names, not negations; a leading "-" is made "NOT" before
    # parsing (see negate_minus), so that "-北京" and "NOT 北京" mean the same
    parser.add_plugin(qparser.PlusMinusPlugin(plusexpr=r"(?:^|(?<=\s))\+(?=\S)", minusexpr=r"(?!)"))
    return parser


_MINUS = re.compile(r'"[^"]*"|(?:^|(?<=\s))-(?=[^\s-])')


def negate_minus(text: str) -> str:
    """``-word`` at the start of a word (outside quotes) is ``NOT word``."""
    return _MINUS.sub(lambda m: m.group() if m.group().startswith('"') else "NOT ", text)


def typed_words(analyzer, text: str) -> tuple:
    """The words of jieba's default cut of a plain query (stop words out), each with the
    terms that hold it: the word itself, or, for a word jieba's HMM made up, all its
    character pairs together (a post's text may be cut otherwise around a guessed name)."""
    from .schema import _query_words

    groups: dict[int, list[tuple[str, bool]]] = {}
    for token, pos, made_up in _query_words(analyzer, text):
        groups.setdefault(pos, []).append((token, made_up))
    words: dict[str, tuple] = {}
    for tokens in groups.values():
        word, made_up = tokens[0]
        alternatives = [(word,)]
        if made_up and len(tokens) > 1:
            alternatives.append(tuple(token for token, _ in tokens[1:]))
        words.setdefault(word, tuple(alternatives))
    return tuple(words.items())


def guessed_words(analyzer, text: str) -> frozenset[str]:
    """The words of a plain query that jieba's HMM made up (not in its dictionary): the
    segmenter's guess at a name, which a post may hold cut otherwise (刘七是怎么死的 gives
    刘七是); never said to be missing."""
    from .schema import _query_words

    return frozenset(token for token, _pos, made_up in _query_words(analyzer, text) if made_up)


def _match_mode(match: str, words: tuple, text: str) -> str:
    """The engine's mode for a search's ``match`` option, its typed words and its text: with
    ``"auto"``, a few keywords rank the posts holding all of them first; a longer query, or
    one written as a sentence (a question, a headline with its punctuation), is ranked by
    relevance alone, as a question's answer need not repeat its every word."""
    if not words or match == "any":
        return "any"
    if match == "all":
        return "all"
    if _SENTENCE.search(text):
        return "any"
    return "first" if TIERED_WORDS is None or len(words) <= TIERED_WORDS else "any"


_SENTENCE = re.compile(r"[？?。！!，,；;：]")


def _informative(words: tuple, missing: list[str]) -> bool:
    """Whether the words some post holds still say something: not only numbers and single
    characters (``COVID-19`` without ``covid`` is a query for ``19``)."""
    left = [word for word, _ in words if word not in missing]
    return any(len(word) > 1 and not _NUMBER.fullmatch(word) for word in left)


_NUMBER = re.compile(r"[\d.,]+")


def _positive_terms(node: Node) -> Iterator[str]:
    """Words of the text fields that a hit may contain (not those under NOT)."""
    kind = type(node)
    if kind is Not:
        return
    if kind is AndNot:
        yield from _positive_terms(node.a)
        return
    if kind in (Term, Phrase):
        if node.field in TEXT_FIELDS:
            yield from (node.words if kind is Phrase else (node.text,))
        return
    for child in children(node):
        yield from _positive_terms(child)
