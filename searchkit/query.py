"""Query text to a plan: syntax checks, the typed words of a plain query and how they are
matched, and Whoosh's parser fitted to Chinese as the reference :mod:`searchkit.parser` is
tested against (the tree itself is :mod:`searchkit.parser`'s)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .errors import QueryError
from .folding import bare_text, fold_text
from .nodes import AndMaybe, AndNot, Exact, Node, Not, Phrase, Term, any_of, children
from .parser import TEXT_FIELDS

#: The longest query read, in characters: a long question is a few hundred; a query of
#: megabytes would take minutes and gigabytes to segment and score.
MAX_QUERY = 2000


#: With ``match`` ``"auto"``, a query of at most this many typed words lists the posts
#: holding all of them (None: any number); a longer one is ranked by relevance.  Chosen with
#: ``make eval``: zh-news headlines of four and five words find their story sooner by relevance.
TIERED_WORDS: int | None = 3


SYNTAX = re.compile(r'["():\[\]{}]|(?:^|\s)[-+]\S|\b(?:AND|OR|NOT|ANDNOT|ANDMAYBE)\b')


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
    #: The strings a simple query asks for (:class:`Typed`), and the posts it excludes
    #: (:func:`typed_strings`).
    words: tuple = ()
    excluded: tuple = ()
    runs: tuple = ()
    phrases: list = field(default_factory=list)  # neighbouring words, for the proximity reward
    grams: frozenset[str] = frozenset()  # the folded query's character trigrams (span reward)
    terms: frozenset[str] = frozenset()  # the query's words (the rewards' share of them)
    marks: frozenset[str] = frozenset()  # ... and the typed strings: what a hit is marked for
    synonyms: dict = field(default_factory=dict)  # typed word -> the other words searched
    chars: frozenset[str] = frozenset()  # the folded query's characters (letters and digits)
    pairs: frozenset[str] = frozenset()  # ... and its pairs of neighbouring characters
    # ... and its numbers: each the ways a text may write it (query_numbers)
    numbers: frozenset[tuple[str, ...]] = frozenset()


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
    _check_depth(text)


#: How deep a query's brackets and operators may nest: a person writes a few levels; a
#: thousand would take the parser (and every walk of its tree) past Python's stack.
MAX_DEPTH = 64


def _check_depth(text: str) -> None:
    deepest = depth = 0
    in_quote = False
    for char in text:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif not in_quote and char == ")":
            depth -= 1
    negations = max((len(run.split()) for run in _NOT_RUN.findall(text)), default=0)
    if deepest > MAX_DEPTH or negations > MAX_DEPTH:
        raise QueryError(
            f"the query nests {max(deepest, negations):,} levels deep (brackets or NOT "
            f"NOT ...); at most {MAX_DEPTH}"
        )


#: NOTs one after another, each applied to the next (words side by side are not nested).
_NOT_RUN = re.compile(r"(?:\bNOT\s+)+")


@dataclass(frozen=True)
class Typed:
    """A string a person typed: a word of a plain query, or a quoted run kept whole."""

    text: str  # folded
    node: Node  # the posts holding it (:class:`searchkit.nodes.Exact`, or its alternatives)
    guessed: bool = False  # a word jieba's HMM made up: never said to be missing
    quoted: bool = False  # its node is in the query tree already (scored there)
    also: tuple[str, ...] = ()  # the other words of its synonyms, searched with it


#: The parts of a simple query: quoted runs, and runs without spaces.
_PARTS = re.compile(r'-?"[^"]*"|[^\s"]+')
#: What makes a part syntax rather than a word (a field, brackets, a boost or a slop).
_PART_SYNTAX = re.compile(r'["():\[\]{}^~]|^\+')
_OPERATORS = frozenset({"AND", "OR", "ANDNOT", "ANDMAYBE"})


@dataclass(frozen=True)
class Typing:
    """What a simple query typed (:func:`typed_strings`)."""

    words: tuple[Typed, ...]  # the strings a post must hold
    excluded: tuple[Node, ...]  # those it must not
    runs: tuple[Node, ...]  # runs typed without spaces that were cut in words, whole
    wanted: str = ""  # the query without its negations: what the rewards look for


def typed_strings(analyzer, text: str, holds=None, groups=None) -> Typing | None:
    """The strings a simple query asks for, and those it excludes: a simple query is words,
    ``"quoted runs"`` and negations (``-word``, ``-"run"``, ``NOT word``) side by side,
    nothing else (None for any other query).  A word is cut as jieba's default cut reads it
    (``顶山街道执法``: 顶山, 街道, 执法), stop words out, and the posts holding the run whole
    rank first; a quoted run, and a negated word, is one string, stop words and all.  ``holds(string)``: whether some post holds a string
    (:func:`_typed_words`)."""
    from .strings import STRING_WEIGHT

    fold = analyzer.config.fold
    wanted: list[Typed] = []
    excluded: list[Node] = []
    runs: list[Node] = []
    positive: list[str] = []
    negate = False
    for part in _PARTS.findall(text):
        if part == "NOT" and not negate:
            negate = True
            continue
        minus = len(part) > 1 and part[0] == "-" and part[1] != "-"
        body = part[1:] if minus else part
        quoted = len(body) >= 2 and body[0] == body[-1] == '"'
        if not quoted and (part in _OPERATORS or _PART_SYNTAX.search(body)):
            return None
        if quoted:
            body = body[1:-1]
        folded = " ".join(fold_text(body, fold).split())
        if negate or minus:
            if folded:
                excluded.append(Exact(folded))
        elif quoted:
            positive.append(part)
            if folded:
                wanted.append(Typed(folded, Exact(folded, STRING_WEIGHT), quoted=True))
        elif groups and folded in groups:  # a name with synonyms, typed whole (COVID-19)
            positive.append(part)
            wanted.append(_widened(folded, groups[folded]))
        else:
            positive.append(part)
            words = _typed_words(analyzer, body, holds)
            if groups:
                words = [
                    _widened(t.text, groups[t.text], t) if t.text in groups else t for t in words
                ]
            wanted.extend(words)
            if folded and [typed.text for typed in words] != [folded]:
                runs.append(Exact(folded))  # cut in words: the posts holding it whole first
        negate = False
    if negate:
        return None  # a NOT with nothing after it: the parser says why
    unique = {typed.text: typed for typed in reversed(wanted)}
    kept = [typed for typed in wanted if unique.get(typed.text) is typed]
    return Typing(
        tuple(kept), tuple(dict.fromkeys(excluded)), tuple(dict.fromkeys(runs)), " ".join(positive)
    )


def _widened(word: str, group: tuple[str, ...], typed: Typed | None = None) -> Typed:
    """A typed word that also finds the posts holding the other words of its group."""
    from .strings import STRING_WEIGHT

    node = any_of(Exact(alternative, STRING_WEIGHT) for alternative in group)
    return Typed(word, node, typed.guessed if typed else False, also=group[1:])


def _typed_words(analyzer, text: str, holds=None) -> list[Typed]:
    """The words of jieba's default cut of ``text`` (stop words out), each held where a
    post holds its string, however its text is cut.  A single character the cut left beside
    a word is read with it when some post holds the two together (``holds``): the segmenter
    splits a name it does not know (马克龙: 马克, 龙), a person typed one string."""
    from .parser import query_words
    from .strings import STRING_WEIGHT

    cut: dict[int, tuple[str, bool]] = {}
    for token, pos, made_up in query_words(analyzer, text):
        cut.setdefault(pos, (token, made_up))  # the word of the default cut, not its parts
    folded = fold_text(text, analyzer.config.fold)
    spans: list[list] = []  # [word, start, end, made up]
    at = 0
    for word, made_up in cut.values():
        start = folded.find(word, at)
        start = start if start >= 0 else -len(folded) - 2  # (not found: next to nothing)
        spans.append([word, start, start + len(word), made_up])
        at = max(at, start + len(word))
    i = 0
    while holds is not None and i < len(spans):
        word, start, end, _ = spans[i]
        if len(word) == 1 and _part_of_a_name(word):
            if i and spans[i - 1][2] == start and holds(spans[i - 1][0] + word):
                spans[i - 1][0] += word
                spans[i - 1][2] = end
                del spans[i]
                continue
            if i + 1 < len(spans) and spans[i + 1][1] == end and holds(word + spans[i + 1][0]):
                spans[i + 1][0] = word + spans[i + 1][0]
                spans[i + 1][1] = start
                del spans[i]
                continue
        i += 1
    return [Typed(w, Exact(w, STRING_WEIGHT), guessed=made_up) for w, _, _, made_up in spans]


#: The tags of jieba's dictionary a character alone can have and still be the end or start
#: of a name the segmenter split (马克龙: 龙 is a noun); a preposition, a measure word or a
#: verb beside a word is a word of its own (习近平同塔吉克斯坦总统会谈: 同).
_NAME_PARTS = ("n", "nr", "ns", "nz", "ng", "nrt", "")


def _part_of_a_name(char: str) -> bool:
    from .dictionary import tags_of

    return tags_of([char]).get(char, "") in _NAME_PARTS


def typed_words(analyzer, text: str) -> tuple[str, ...]:
    """The words a plain query is read as (:func:`typed_strings`), in order."""
    found = typed_strings(analyzer, text)
    return tuple(typed.text for typed in found.words) if found else ()


def match_mode(match: str, words: tuple, excluded: tuple, text: str) -> str:
    """The engine's mode for a search's ``match`` option, its typed strings and its text
    (:meth:`searchkit.engine.scoring.Engine.select`): with ``"auto"``, a few keywords find
    the posts holding every one (``"first"``: or, when none does, those holding some);
    a longer query, or one written as a sentence (a question, a headline with its
    punctuation), is ranked by relevance alone (``"any"``), as a question's answer need
    not repeat its every word; ``--any`` finds the posts holding some (``"some"``)."""
    if not words:
        return "all" if excluded else "any"
    if match in ("all", "some"):
        return match
    if match == "any":
        return "some"
    if _SENTENCE.search(text) or any(
        len(_HAN.findall(part)) >= HEADLINE_RUN for part in text.split()
    ):
        return "any"
    return "first" if TIERED_WORDS is None or len(words) <= TIERED_WORDS else "any"


#: A run of this many Chinese characters or more typed without a space is a headline or a
#: sentence (keywords are typed shorter, or apart), ranked by relevance.  Chosen with ``make
#: eval`` (zh-news headlines: 8 and 10 did worse).
HEADLINE_RUN = 9
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


_SENTENCE = re.compile(r"[？?。！!，,；;：]")


def informative(words: tuple, missing: list[str]) -> bool:
    """Whether the words some post holds still say something: not only numbers and single
    characters (``COVID-19`` without ``covid`` is a query for ``19``)."""
    left = [typed.text for typed in words if typed.text not in missing]
    return any(len(word) > 1 and not _NUMBER.fullmatch(word) for word in left)


_NUMBER = re.compile(r"[\d.,]+")


def positive_terms(node: Node) -> Iterator[str]:
    """Words of the text fields that a hit may contain (not those under NOT)."""
    kind = type(node)
    if kind is Not:
        return
    if kind is AndNot:
        yield from positive_terms(node.a)
        return
    if kind is Exact:
        yield node.text
        return
    if kind is AndMaybe and type(node.a) is Exact:  # a quoted string: marked as it is typed
        yield node.a.text
        return
    if kind in (Term, Phrase):
        if node.field in TEXT_FIELDS:
            yield from (node.words if kind is Phrase else (node.text,))
        return
    for child in children(node):
        yield from positive_terms(child)


def parse(parser, text: str) -> Node:
    """The tree of ``text`` as ``parser`` (:class:`searchkit.parser.Parser`) reads it, after
    the checks every query gets (text, not too long, balanced)."""
    if not isinstance(text, str):
        raise QueryError(f"a query is text, not {type(text).__name__}")
    if len(text) > MAX_QUERY:
        raise QueryError(
            f"query too long: {len(text):,} characters (at most {MAX_QUERY:,}); "
            "shorten it to its key words"
        )
    if text.count('"') % 2:
        # an odd quote is a stray character of the text (often in pasted questions)
        cut = text.rfind('"')
        text = text[:cut] + " " + text[cut + 1 :]
    check_syntax(text)
    return parser.parse(text)


def proximity(analyzer, ranking, text: str) -> list[Phrase]:
    """Phrases rewarding posts where the query's words stand next to each other.

    Each pair of neighbouring words becomes a phrase (a little slop allowed); its score is
    added to the best-ranked posts the query already matches (:class:`searchkit.ranking.Reranker`).
    """
    if ranking.proximity <= 0 or SYNTAX.search(text):
        return []
    words = [(t.text, t.pos) for t in analyzer(text, positions=True, mode="query")]
    pairs = {
        (a, b)
        for (a, pa), (b, pb) in zip(words, words[1:], strict=False)
        if a != b and pb - pa <= 2
    }
    return [
        Phrase(field, (a, b), ranking.proximity_slop, ranking.proximity * weight)
        for a, b in sorted(pairs)
        for field, weight in (("body", 1.0), ("title", ranking.title_weight))
    ]


def make_plan(text: str, parser, ranking, holds, groups=None) -> Plan:
    """Read ``text`` once into what a search needs: the tree ``parser`` makes, the strings
    typed (``holds(string)``: whether some post holds it; ``groups``: synonyms, or None), the
    phrases of the proximity reward (``ranking``), and what the rewards and highlights look
    for."""
    analyzer = parser.schema["body"].analyzer
    query = parse(parser, text)
    typing = typed_strings(analyzer, text, holds, groups)
    typed = typing.words if typing else ()
    # what the rewards look for: the query less its negations (-香港 and NOT 香港 alike)
    folded = bare_text(typing.wanted if typing else text, parser.fold)
    terms = frozenset(positive_terms(query))
    return Plan(
        text=text,
        query=query,
        words=typed,
        excluded=typing.excluded if typing else (),
        runs=typing.runs if typing else (),
        phrases=proximity(analyzer, ranking, text),
        grams=char_grams(folded, 3),
        terms=terms,
        marks=terms | {t.text for t in typed} | {also for t in typed for also in t.also},
        synonyms={t.text: list(t.also) for t in typed if t.also},
        chars=char_grams(folded, 1),
        pairs=char_grams(folded, 2),
        numbers=query_numbers(folded),
    )


def char_grams(folded: str, size: int) -> frozenset[str]:
    """The runs of ``size`` characters of a folded text that are letters or digits only."""
    runs = (folded[i : i + size] for i in range(len(folded) - size + 1))
    return frozenset(run for run in runs if run.isalnum())


_DIGITS = re.compile(r"[0-9]+")


#: A number in hundreds of millions and ten thousands (``3亿845万``), as a headline writes a
#: figure that a story gives in full (``308458509``).
_YI_WAN = re.compile(r"([0-9]+)亿([0-9]{1,4})万")


def query_numbers(bare: str) -> frozenset[tuple[str, ...]]:
    """The numbers of a bare query (:func:`~searchkit.folding.bare_text`), each as the
    ways a text may hold it: a run of digits as itself (a text holding ``2023年`` or the
    longer figure a headline rounds, ``31041`` of ``31041.5``, holds it), and ``3亿845万``
    as its leading digits, ``30845``, or as written."""
    joined = {(a + b.zfill(4), f"{a}亿{b}万") for a, b in _YI_WAN.findall(bare)}
    return frozenset({(run,) for run in _DIGITS.findall(_YI_WAN.sub("亿万", bare))} | joined)
