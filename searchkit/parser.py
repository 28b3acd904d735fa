"""The query language read into a query tree (:mod:`searchkit.nodes`), in one pass.

The language is the one the reference documents, which Whoosh's default parser reads: words
(a string without spaces is segmented), ``"exact phrases"``, ``AND``, ``OR``, ``NOT``,
``ANDNOT``, ``ANDMAYBE``, ``-word`` and ``+word``, parentheses, ``field:value``,
``field:"phrase"``, ``field:(group)`` and ``date:[start TO end]``.  On every query of that
language the tree is Whoosh's (``tests/test_parser.py`` compares them); where Whoosh drops a
part silently (``date:soon``) or fails (``NOT NOT a``) this parser says why or reads on.

Precedence, as Whoosh's: ``NOT`` binds tightest, then ``AND``, then ``OR``, then ``ANDNOT``
and ``ANDMAYBE``; words side by side are OR'ed.  ``+word`` at the top level makes a word
required; ``-word`` at a word's start is ``NOT word``.
"""

from __future__ import annotations

import re
from datetime import datetime

from .analysis import AnalyzerConfig, ChineseAnalyzer
from .dates import parse_date_option
from .errors import QueryError
from .folding import fold_text
from .nodes import (
    NOTHING,
    And,
    AndMaybe,
    AndNot,
    DateRange,
    Exact,
    Node,
    Not,
    Nothing,
    Or,
    Phrase,
    Require,
    Term,
    all_of,
    any_of,
    binary,
    negate,
    ticks,
)
from .strings import PAIRS, STRING_WEIGHT

#: The fields a word without one is asked in.
TEXT_FIELDS = ("title", "body")

#: Infix operators, in the order they group (tighter first), as Whoosh's.
_INFIX = {"AND": And, "OR": Or, "ANDNOT": AndNot, "ANDMAYBE": AndMaybe, "REQUIRE": Require}

_PHRASE = re.compile(r'"([^"]*)"(?:~([1-9][0-9]*))?')
_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):")
_WORD_END = re.compile(r'[\s()"]')
_WORDLIKE = re.compile(r"\w")
_FIELD_INSIDE = re.compile(r"(?<!\w)([A-Za-z_][A-Za-z0-9_]*):")
_RANGE = re.compile(r"([\[{])(.*?)(?:^|\s|(?<=[\[{]))[Tt][Oo](?=\s|[\]}])(.*?)([\]}])")


class _Item:
    """A lexed part: a word, phrase, group or range (with the field it names), or an
    operator, or ``+``."""

    __slots__ = ("kind", "text", "field", "items", "slop", "end")

    def __init__(self, kind: str, text: str = "", field=None, items=None, slop=1, end=""):
        self.kind = kind  # word, phrase, group, range, op, plus
        self.text = text
        self.field = field
        self.items = items if items is not None else []  # a group's parts
        self.slop = slop
        self.end = end  # a range's end


class Parser:
    """Reads queries for one index: its schema's fields and analyzers, and the weight of a
    title word beside a body word."""

    def __init__(self, schema, title_weight: float):
        self.schema = schema
        self.weights = {"title": title_weight, "body": 1.0}
        self.fold = schema["body"].analyzer.config.fold if "body" in schema.names() else "t2s"

    def parse(self, text: str) -> Node:
        """The tree of ``text`` (whose brackets and fields :func:`check_syntax` checked),
        negations and filters put where they mean what a user means (:func:`lift_negations`,
        :func:`require_filters`)."""
        return require_filters(lift_negations(self.read(text)))

    def read(self, text: str) -> Node:
        """The tree of ``text`` as Whoosh's parser reads it (the tests compare the two)."""
        return self._plus(self._group(text))

    # --- lexing -------------------------------------------------------------------------

    def _group(self, text: str) -> list[_Item]:
        """The parts of ``text``, parenthesized groups nested."""
        stack: list[list[_Item]] = [[]]
        named: list[str | None] = [None]  # the field each open group names
        at, size = 0, len(text)
        while at < size:
            char = text[at]
            if char.isspace():
                at += 1
            elif char == "(":
                stack.append([])
                named.append(None)
                at += 1
            elif char == ")":
                if len(stack) > 1:
                    items = stack.pop()
                    stack[-1].append(_Item("group", field=named.pop(), items=items))
                at += 1
            elif _after(text, at, "") and char in "+-" and _signs(text, at):
                stack[-1].append(_Item("plus") if char == "+" else _Item("op", "NOT"))
                at = self._part(text, at + 1, stack, named, signed=True)
            else:
                at = self._part(text, at, stack, named)
        while len(stack) > 1:  # check_syntax let no bracket open; in case
            items = stack.pop()
            stack[-1].append(_Item("group", field=named.pop(), items=items))
        return stack[0]

    def _part(self, text: str, at: int, stack: list, named: list, signed: bool = False) -> int:
        """Lex the word, phrase, range, operator or field-named group at ``at`` (``signed``:
        just after a ``+`` or ``-``); where it ends."""
        if signed and text[at] in '("':  # a signed group or phrase: lexed as any
            return at
        name = None
        match = _FIELD.match(text, at) if at == 0 or not _WORDLIKE.match(text[at - 1]) else None
        if match and match.group(1) in self.schema.names() and match.end() < len(text):
            name, at = match.group(1), match.end()
            if text[at] == "(":
                stack.append([])
                named.append(name)
                return at + 1
            if text[at] in "[{" and (found := _RANGE.match(text, at)):
                start, end = found.group(2).strip(), found.group(3).strip()
                stack[-1].append(_Item("range", start, name, end=end))
                return found.end()
        if text[at] == '"':
            found = _PHRASE.match(text, at)
            if found is None:  # a stray quote (the searcher drops an odd one)
                return at + 1
            slop = int(found.group(2)) if found.group(2) else 1
            stack[-1].append(_Item("phrase", found.group(1), name, slop=slop))
            return found.end()
        end = _WORD_END.search(text, at + 1)
        stop = end.start() if end else len(text)
        for inner in _FIELD_INSIDE.finditer(text, at + 1, stop):  # 让-title:x: a field starts
            if inner.group(1) in self.schema.names() and inner.end() < len(text):
                stop = inner.start()
                break
        word = text[at:stop]
        # an operator stands alone between spaces (NOT also first, or after a bracket)
        spaced = stop < len(text) and text[stop].isspace()
        if name is None and spaced and word in _INFIX and _after(text, at, "", first=False):
            stack[-1].append(_Item("op", word))
        elif name is None and spaced and word == "NOT" and _after(text, at, "("):
            stack[-1].append(_Item("op", "NOT"))
        else:
            stack[-1].append(_Item("word", word, name))
        return stop

    # --- grouping -----------------------------------------------------------------------

    def _plus(self, items: list[_Item]) -> Node:
        """The top level: ``+`` parts required, the rest optional (Whoosh's plus-minus)."""
        if not any(item.kind == "plus" for item in items):
            return self._operators(items, None)
        required: list[_Item] = []
        optional: list[_Item] = []
        into = optional
        for item in items:
            if item.kind == "plus":
                into = required
            else:
                into.append(item)
                into = optional
        must = self._operators(required, None, And)
        return binary(AndMaybe, must, self._operators(optional, None))

    def _operators(self, items: list[_Item], named: str | None, kind=Or) -> Node:
        """A group: its operators applied (NOT, then AND, OR, ANDNOT, ANDMAYBE), its parts
        OR'ed (or AND'ed, for ``kind`` And)."""
        parts: list = [
            item if item.kind == "op" else self._node(item, named)
            for item in items
            if item.kind != "plus"  # + counts at the top level only, as in Whoosh
        ]
        for at in range(len(parts) - 1, -1, -1):  # NOT takes the part after it (NOT NOT a)
            part = parts[at]
            if isinstance(part, _Item) and part.text == "NOT":
                parts[at : at + 2] = [_Negated(parts[at + 1])] if at + 1 < len(parts) else []
        for operator, op_kind in _INFIX.items():
            at = 0
            while at < len(parts):
                part = parts[at]
                if not (isinstance(part, _Item) and part.text == operator):
                    at += 1
                    continue
                if (
                    0 < at < len(parts) - 1
                    and not _is_op(parts[at - 1])
                    and not _is_op(parts[at + 1])
                ):
                    left, right = parts[at - 1], parts[at + 1]
                    if op_kind in (And, Or) and isinstance(left, _Joined) and left.kind is op_kind:
                        left.parts.append(right)
                        del parts[at : at + 2]
                    else:
                        joined = (
                            _Joined(op_kind, [left, right])
                            if op_kind in (And, Or)
                            else _Binary(op_kind, left, right)
                        )
                        parts[at - 1 : at + 2] = [joined]
                elif 0 < at < len(parts) - 1:
                    raise QueryError(
                        "cannot read the operators of this query; put a word such as AND, "
                        'NOT or + in quotes ("AND") to search for it'
                    )
                else:
                    del parts[at]
        nodes = [_build(part) for part in parts]
        return all_of(nodes) if kind is And else any_of(nodes)

    # --- parts --------------------------------------------------------------------------

    def _node(self, item: _Item, named: str | None) -> Node:
        fieldname = item.field or named
        if item.kind == "group":
            return self._operators(item.items, fieldname)
        if item.kind == "range":
            return self._range(fieldname, item.text, item.end)
        if fieldname is None:  # a word or phrase in every text field, weighted
            words = any_of(self._in_field(item, name, self.weights[name]) for name in TEXT_FIELDS)
            if item.kind == "phrase" and item.slop == 1 and PAIRS in self.schema.names():
                # "a string": the posts holding it, whatever the segmenter cut around it,
                # scored by its pairs and, where they are, its words
                text = fold_text(item.text, self.fold).strip()
                if not text:
                    return NOTHING
                exact = Exact(" ".join(text.split()), STRING_WEIGHT)
                return exact if type(words) is Nothing else AndMaybe(exact, words)
            return words
        return self._in_field(item, fieldname, 1.0)

    def _in_field(self, item: _Item, fieldname: str, boost: float) -> Node:
        field_type = self.schema[fieldname]
        if fieldname == "date":
            if not item.text.strip():
                raise QueryError('cannot read date:""; use date:YYYY-MM-DD')
            return self._range(fieldname, item.text, item.text)
        if item.kind == "phrase":
            if field_type.analyzer is None:
                words = list(field_type.process_text(item.text, mode="query"))
            else:
                words = [t.text for t in field_type.tokenize(item.text, mode="query")]
            if not words:
                return NOTHING
            if len(words) == 1:
                return Term(fieldname, words[0], boost)
            return Phrase(fieldname, tuple(words), item.slop, boost)
        if fieldname in TEXT_FIELDS:
            return word_node(field_type.analyzer, fieldname, item.text, boost)
        texts = list(field_type.process_text(item.text, mode="query"))
        return any_of(Term(fieldname, text, boost) for text in texts)

    def _range(self, fieldname: str, start: str, end: str) -> Node:
        if fieldname != "date":
            raise QueryError(
                f"a range is for dates only: date:[2023-01 TO 2023-06], not {fieldname}:[...]"
            )
        return DateRange(
            "date",
            ticks(_moment(start, False)) if start else None,
            ticks(_moment(end, True)) if end else None,
        )


def _moment(text: str, end: bool) -> datetime:
    """The first (or with ``end`` the last) microsecond of a year, month or day."""
    digits = text.strip()
    if re.fullmatch(r"\d{6}", digits):  # 202305
        digits = f"{digits[:4]}-{digits[4:]}"
    day = parse_date_option(digits, end=end)
    moment = datetime.combine(day, datetime.min.time())
    return moment.replace(hour=23, minute=59, second=59, microsecond=999999) if end else moment


def _after(text: str, at: int, brackets: str, first: bool = True) -> bool:
    """Whether ``at`` starts a word: after a space or one of ``brackets`` (or first)."""
    if at == 0:
        return first
    return text[at - 1].isspace() or text[at - 1] in brackets


def _signs(text: str, at: int) -> bool:
    """Whether the ``+`` or ``-`` at ``at`` marks the word after it (``-`` but not ``--``)."""
    following = text[at + 1 : at + 2]
    return bool(following) and not following.isspace() and not (following == "-" == text[at])


class _Negated:
    __slots__ = ("part",)

    def __init__(self, part):
        self.part = part


class _Joined:
    __slots__ = ("kind", "parts")

    def __init__(self, kind, parts: list):
        self.kind = kind
        self.parts = parts


class _Binary:
    __slots__ = ("kind", "a", "b")

    def __init__(self, kind, a, b):
        self.kind = kind
        self.a = a
        self.b = b


def _is_op(part) -> bool:
    return isinstance(part, _Item)


def _build(part) -> Node:
    if isinstance(part, Node):
        return part
    if isinstance(part, _Negated):
        return negate(_build(part.part))
    if isinstance(part, _Joined):
        nodes = [_build(p) for p in part.parts]
        return all_of(nodes) if part.kind is And else any_of(nodes)
    if isinstance(part, _Binary):
        return binary(part.kind, _build(part.a), _build(part.b))
    raise QueryError(
        "cannot read the operators of this query; put a word such as AND, NOT or + in "
        'quotes ("AND") to search for it'
    )


def lift_negations(node: Node) -> Node:
    """``a OR NOT b`` under OR grouping matches every post without ``b``; make it
    ``a ANDNOT b`` (at every level)."""
    node = _apply(node, lift_negations)
    if type(node) is not Or:
        return node
    negative = [child.child for child in node.children if type(child) is Not]
    positive = [child for child in node.children if type(child) is not Not]
    if not negative:
        return node
    if not positive:  # -a -b: the posts that hold neither
        return negate(any_of(negative))
    return binary(AndNot, any_of(positive), any_of(negative))


#: Fields that restrict beside words rather than widen.
FILTER_FIELDS = ("date", "tags", "categories", "year")


def require_filters(node: Node) -> Node:
    """``date:[...]``, ``tags:`` and ``categories:`` beside words restrict, they do not widen."""
    if type(node) is not Or:
        return node
    filters = [c for c in node.children if _field_of(c) in FILTER_FIELDS]
    words = [c for c in node.children if _field_of(c) not in FILTER_FIELDS]
    if not filters or not words:
        return node
    return And((any_of(words), *filters))


def _field_of(node: Node) -> str | None:
    return getattr(node, "field", None)


def _apply(node: Node, fn) -> Node:
    """``node`` with ``fn`` applied to each child (Whoosh's ``Query.apply``)."""
    kind = type(node)
    if kind in (Or, And):
        return kind(tuple(fn(child) for child in node.children))
    if kind in (AndNot, AndMaybe, Require):
        return kind(fn(node.a), fn(node.b))
    if kind is Not:
        return Not(fn(node.child))
    return node


#: Weight of the shorter words search mode finds inside a query word (``影视作品``:
#: ``影视``, ``视作``, ``作品``) beside the word itself.  Chosen with ``make eval``.
WORD_PARTS = 0.8


def word_node(analyzer, fieldname: str, qstring: str, boost: float = 1.0) -> Node:
    """A query word: the words of jieba's default cut in full, and the shorter words
    search mode finds inside them (``影视作品``: ``影视``, ``视作``, ``作品``) at
    ``WORD_PARTS`` of their weight, so that a long word does not outweigh a rare name."""
    seen: set[str] = set()
    terms: list[Term] = []
    last = None
    parts = WORD_PARTS
    for text, pos, made_up in query_words(analyzer, qstring):
        if pos != last:  # a word of the default cut
            last = pos
            weight = boost
            # the pairs of a made-up word stand for it in full
            parts = 1.0 if made_up else WORD_PARTS
        else:
            weight = boost * parts
        if text not in seen:
            seen.add(text)
            terms.append(Term(fieldname, text, weight))
    return any_of(terms)


_QUERY_WORDS: dict[tuple[AnalyzerConfig, str], tuple[tuple[str, int, bool], ...]] = {}


def query_words(analyzer: ChineseAnalyzer, qstring: str) -> tuple[tuple[str, int, bool], ...]:
    """``(word, position, made up)`` of a query string, cut once for all the fields a query
    asks (title and body)."""
    key = (analyzer.config, qstring)
    found = _QUERY_WORDS.get(key)
    if found is None:
        if len(_QUERY_WORDS) > 1024:
            _QUERY_WORDS.clear()
        tokens = analyzer(qstring, positions=True, mode="query-terms")
        found = tuple((t.text, t.pos, analyzer.made_up(t.text)) for t in tokens)
        _QUERY_WORDS[key] = found
    return found
