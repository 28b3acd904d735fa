"""Text to the form it is indexed and asked in: NFKC, lower case, full width to half, and
traditional Chinese to simplified through OpenCC, with a map from each folded character back
to the original's offsets (for highlights in the text as written)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from whoosh.analysis import Filter, KeywordAnalyzer

#: The OpenCC configurations a fold may name: OpenCC's own, by name (an index's stored
#: configuration is data: a path there would have OpenCC read any file).
FOLDS = frozenset(
    {"t2s", "tw2s", "hk2s", "tw2sp", "s2t", "s2tw", "s2hk", "s2twp", "t2tw", "t2hk", "t2jp", "jp2t"}
)


@lru_cache(maxsize=4)
def _converter(config: str):
    import opencc

    if config not in FOLDS:
        from .errors import IndexDamaged

        raise IndexDamaged(
            f"the analyzer's folding {config[:40]!r} is not an OpenCC configuration searchkit "
            "knows; rebuild the index with searchkit index --rebuild"
        )
    return opencc.OpenCC(config)


def _per_char(text: str, convert) -> tuple[str, list[int]]:
    """Apply ``convert`` one character at a time, keeping each output char's source index."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        new = convert(ch)
        out.append(new)
        where.extend([i] * len(new))
    return "".join(out), where


def _canonical_order(text: str) -> tuple[str, list[int] | None]:
    """Combining marks put in Unicode's canonical order (by combining class, stably), as
    NFKC of the whole text would: character by character, ``¯`` then ``\u0316`` gives
    ``" \u0304\u0316"``, whose NFKC is ``" \u0316\u0304"``.  Returns the text and, when
    anything moved, each new position's old one."""
    classes = [unicodedata.combining(ch) for ch in text]
    if sum(1 for c in classes if c) < 2:
        return text, None
    order = list(range(len(text)))
    start = 0
    while start < len(text):
        if not classes[start]:
            start += 1
            continue
        end = start
        while end < len(text) and classes[end]:
            end += 1
        order[start:end] = sorted(range(start, end), key=classes.__getitem__)
        start = end
    if order == list(range(len(text))):
        return text, None
    return "".join(text[i] for i in order), order


def _compose(first: list[int] | None, second: list[int] | None) -> list[int] | None:
    if second is None:
        return first
    if first is None:
        return second
    return [first[i] for i in second]


#: The full-width forms of ASCII and the ideographic space: most of what NFKC changes in
#: Chinese text (its punctuation), each one character for one.
_FULL_WIDTH = re.compile("[\u3000\uff01-\uff5e]")
_HALF_WIDTH = {
    chr(code): unicodedata.normalize("NFKC", chr(code)) for code in (0x3000, *range(0xFF01, 0xFF5F))
}


def nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, faster on Chinese text: its full-width
    punctuation is replaced first (a sixth of the cost of NFKC's decomposition and
    recomposition of the whole text), and NFKC runs only if anything else is left for it.
    The result is the same: each replacement is the character's own NFKC form, one ASCII
    character, so NFKC of what is left (a combining mark after it, say) gives what NFKC of
    the whole would."""
    step = _FULL_WIDTH.sub(_half_width, text)
    if unicodedata.is_normalized("NFKC", step):
        return step
    return unicodedata.normalize("NFKC", step)


def _half_width(match: re.Match) -> str:
    return _HALF_WIDTH[match.group()]


def normalize(text: str, fold: str = "t2s") -> tuple[str, list[int] | None]:
    """NFKC, lower case and script folding of ``text``.

    Returns the normalised text and, when its length differs from the original's, a list
    giving for each normalised character the index of the original character it came from
    (``None`` means position ``i`` maps to ``i``).  Highlights use it to mark the original.
    """
    if text.isascii():
        low = text.lower()
        return low, None
    mapping: list[int] | None = None
    step = nfkc(text)
    if len(step) != len(text):
        step, mapping = _per_char(text, lambda c: unicodedata.normalize("NFKC", c))
        step, order = _canonical_order(step)
        if order is not None:
            mapping = [mapping[i] for i in order]
    low = step.lower()
    if len(low) != len(step):
        low, more = _per_char(step, str.lower)
        mapping = _compose(mapping, more)
    if fold:
        conv = _converter(fold)
        folded = conv.convert(low)
        if len(folded) != len(low):
            folded, more = _per_char(low, conv.convert)
            mapping = _compose(mapping, more)
        low = folded
    return low, mapping


class Folded(str):
    """A text :func:`fold_text` gave (with ``fold``): folded again, it is given back as it
    is.  A post's text is folded once for its index terms and its near-duplicate sketch."""

    fold: str

    def __new__(cls, text: str, fold: str) -> Folded:
        folded = super().__new__(cls, text)
        folded.fold = fold
        return folded

    def __reduce__(self):
        return Folded, (str(self), self.fold)


def fold_text(text: str, fold: str = "t2s") -> str:
    """The text :func:`normalize` gives, without the map back to the original (faster:
    character by character only where :func:`normalize` goes so, and then by a table)."""
    if type(text) is Folded and text.fold == fold:
        return str(text)
    if text.isascii():
        return text.lower()
    step = nfkc(text)
    if len(step) != len(text):
        step = _canonical_order(text.translate(_nfkc_table(text)))[0]
    low = step.lower()
    if len(low) != len(step):
        low = "".join(ch.lower() for ch in step)
    if fold:
        conv = _converter(fold)
        folded = conv.convert(low)
        if len(folded) != len(low):
            folded = "".join(conv.convert(ch) for ch in low)
        low = folded
    return low


#: What :func:`bare_text` leaves out: punctuation and spaces.
_NOT_WORD = re.compile(r"[\W_]+")


def bare_text(text: str, fold: str = "t2s") -> str:
    """``text`` with punctuation and spaces left out, then folded as queries are (so that
    ``7月末，我国`` holds the trigram ``月末我`` of ``7月末我国``; leaving the full-width
    punctuation out first spares NFKC most of its work)."""
    return fold_text(_NOT_WORD.sub("", text), fold)


def folded_bare(text: str, fold: str = "t2s") -> str:
    """``text`` folded, then with punctuation and spaces left out: :func:`bare_text` but for
    a character that folds to letters (``℃`` is ``°c``) or an OpenCC phrase across a
    punctuation mark; what a post's folded text gives without being folded again."""
    return _NOT_WORD.sub("", fold_text(text, fold))


_NFKC: dict[int, str] = {}


def _nfkc_table(text: str) -> dict[int, str]:
    """Each character's NFKC form, for ``str.translate`` (kept for the next text)."""
    for ch in set(text):
        code = ord(ch)
        if code not in _NFKC:
            _NFKC[code] = unicodedata.normalize("NFKC", ch)
    return _NFKC


class FoldFilter(Filter):
    """Tokens folded as text is (NFKC, lower case, the script): tags and categories written
    in either script are one keyword."""

    def __init__(self, fold: str = "t2s"):
        self.fold = fold

    def __eq__(self, other):
        return type(other) is type(self) and other.fold == self.fold

    def __call__(self, tokens):
        for token in tokens:
            token.text = fold_text(token.text, self.fold)
            yield token


def keyword_analyzer(fold: str = "t2s"):
    """Comma-separated keywords (tags, categories), each folded like text."""
    return KeywordAnalyzer(commas=True) | FoldFilter(fold)
