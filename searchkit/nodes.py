"""The query tree: what a parsed query is made of, what the engine evaluates.

Small immutable values (equal and hashable by their fields), built through :func:`any_of`
and :func:`all_of`, which keep a tree in one normal form: nested ORs and ANDs flattened,
repeats and empty parts left out, a compound of one part replaced by the part.  (The tests
give each node its Whoosh equivalent, ``tests/reference_engine.py``, to compare with.)
"""

from __future__ import annotations

from datetime import datetime

#: Microseconds from year 1 to the Unix epoch: a date range's bounds are in Whoosh's units
#: (microseconds since year 1), as the date column holds them.
_EPOCH = 62135596800000000


class Node:
    """A part of a query: a value, equal to and hashed as its fields (``_fields``)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def __init__(self, *values):
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._values()))})"

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")


# Plain classes, not dataclasses: a command-line search imports this module, and making a
# dozen dataclasses costs more than the rest of it.


class Term(Node):
    """A post holding ``text`` in ``field``; its BM25F score times ``boost``."""

    __slots__ = _fields = ("field", "text", "boost")

    def __init__(self, field: str, text: str, boost: float = 1.0):
        super().__init__(field, text, boost)


class Phrase(Node):
    """``words`` in order in ``field``, each within ``slop`` positions of the one before."""

    __slots__ = _fields = ("field", "words", "slop", "boost")

    def __init__(self, field: str, words: tuple[str, ...], slop: int = 1, boost: float = 1.0):
        super().__init__(field, tuple(words), slop, boost)


class Exact(Node):
    """Posts whose folded title or text holds the string ``text`` (folded as the analyzer
    folds), whatever the segmenter cut around it; its score (the string's character pairs
    as a phrase, :mod:`searchkit.strings`) times ``boost``."""

    __slots__ = _fields = ("text", "boost")

    def __init__(self, text: str, boost: float = 1.0):
        super().__init__(text, boost)


class DateRange(Node):
    """Posts whose day in ``field`` is from ``start`` to ``end`` (inclusive; None: open), in
    microseconds since year 1 (:func:`ticks`)."""

    __slots__ = _fields = ("field", "start", "end")


class Or(Node):
    __slots__ = _fields = ("children",)


class And(Node):
    __slots__ = _fields = ("children",)


class AndNot(Node):
    """What ``a`` matches, less what ``b`` matches (scored by ``a``)."""

    __slots__ = _fields = ("a", "b")


class AndMaybe(Node):
    """What ``a`` matches, ``b``'s score added where it matches too."""

    __slots__ = _fields = ("a", "b")


class Require(Node):
    """What both match, scored by ``a``."""

    __slots__ = _fields = ("a", "b")


class Not(Node):
    """Every live post ``child`` does not match."""

    __slots__ = _fields = ("child",)


class Every(Node):
    """Every live post."""

    __slots__ = ()


class Nothing(Node):
    """No post: a query of stop words, say."""

    __slots__ = ()


NOTHING = Nothing()


def ticks(moment: datetime) -> int:
    """A moment (taken as written, without its offset) in microseconds since year 1."""
    moment = moment.replace(tzinfo=None)
    return (moment - datetime(1970, 1, 1)) // _MICRO + _EPOCH


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1) - datetime(1970, 1, 1)


def any_of(children) -> Node:
    """An OR of ``children`` in normal form."""
    return _compound(Or, children)


def all_of(children) -> Node:
    """An AND of ``children`` in normal form (a part that matches nothing, a query of stop
    words, is left out, as Whoosh does, rather than emptying the AND)."""
    return _compound(And, children)


def _compound(kind, children) -> Node:
    flat: list[Node] = []
    for child in children:
        if type(child) is kind:
            flat.extend(child.children)
        elif type(child) is not Nothing:
            flat.append(child)
    if kind is Or and any(type(child) is Every for child in flat):
        return Every()
    kept = list(dict.fromkeys(flat))  # repeats out, the first kept in place
    if not kept:
        return NOTHING
    return kept[0] if len(kept) == 1 else kind(tuple(kept))


def binary(kind, a: Node, b: Node) -> Node:
    """``a ANDNOT b``, ``a ANDMAYBE b`` or ``a REQUIRE b`` in normal form."""
    if type(a) is Nothing:
        return NOTHING
    if type(b) is Nothing:
        return NOTHING if kind is Require else a
    return kind(a, b)


def negate(child: Node) -> Node:
    return NOTHING if type(child) is Nothing else Not(child)


def children(node: Node) -> tuple[Node, ...]:
    """The parts of a compound node, in order (none for a leaf)."""
    kind = type(node)
    if kind in (Or, And):
        return node.children
    if kind in (AndNot, AndMaybe, Require):
        return (node.a, node.b)
    if kind is Not:
        return (node.child,)
    return ()


def positive(node: Node) -> Node:
    """What scores a post of ``node``: its negations left out (``a ANDNOT b`` is ``a``)."""
    kind = type(node)
    if kind is AndNot:
        return positive(node.a)
    if kind is Not:
        return NOTHING
    if kind in (Or, And):
        return _compound(kind, (positive(child) for child in node.children))
    return node


def leaves(node: Node):
    """The terms, phrases, strings and ranges of a tree, left to right."""
    if isinstance(node, (Term, Phrase, DateRange, Exact)):
        yield node
    for child in children(node):
        yield from leaves(child)
