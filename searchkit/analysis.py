"""Text to tokens: normalisation, jieba segmentation and the Whoosh analyzer built on them.

The analyzer is one chain: normalise (NFKC, lower case, traditional to simplified) -> segment
(jieba's dictionary through rjieba, search mode at index time) -> keep words and numbers ->
drop stop words.  Its whole configuration lives in :class:`AnalyzerConfig`, which is pickled
into the index schema so that a query always runs with the analyzer that built the index.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from whoosh.analysis import Analyzer, Filter, KeywordAnalyzer, Token

from .errors import SearchkitError

#: Bump when a change to this module changes the tokens of the same text.
ANALYZER_VERSION = 3

_WORDISH = re.compile(r"\w+", re.UNICODE)
_PARTS = re.compile(r"\d+(?:\.\d+)+|[^\W_]+", re.UNICODE)


def _stopword_lines(text: str) -> tuple[str, ...]:
    words = {normalize(line.strip())[0] for line in text.splitlines()}
    return tuple(sorted(w for w in words if w and not w.startswith("#")))


def default_stopwords() -> tuple[str, ...]:
    """The stop words shipped with searchkit (function words and question words)."""
    return _stopword_lines(
        resources.files("searchkit").joinpath("stopwords.txt").read_text("utf-8")
    )


def read_stopwords(path: str | Path) -> tuple[str, ...]:
    """A stop-word list: one word per line, ``#`` starts a comment line."""
    try:
        return _stopword_lines(Path(path).read_text("utf-8-sig"))
    except OSError as exc:
        raise SearchkitError(f"cannot read stop words {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SearchkitError(f"stop-word list {path} is not UTF-8") from exc


def read_userdict(path: str | Path) -> tuple[tuple[str, int | None, str | None], ...]:
    """Read a jieba user dictionary: one ``word [freq] [tag]`` entry per line."""
    entries = []
    try:
        text = Path(path).read_text("utf-8-sig")
    except OSError as exc:
        raise SearchkitError(f"cannot read user dictionary {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SearchkitError(f"user dictionary {path} is not UTF-8") from exc
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        freq: int | None = None
        tag: str | None = None
        rest = parts[1:]
        if rest and rest[0].isdigit():
            freq = int(rest.pop(0))
        if rest:
            tag = rest[0]
        if len(parts) > 3 or (rest and len(rest) > 1):
            raise SearchkitError(f"{path}:{number}: expected 'word [freq] [tag]', got {line!r}")
        entries.append((normalize(parts[0])[0], freq, tag))
    return tuple(entries)


@dataclass(frozen=True)
class AnalyzerConfig:
    """Everything that decides which tokens a text gives."""

    userdict: tuple[tuple[str, int | None, str | None], ...] = ()
    stopwords: tuple[str, ...] = field(default_factory=default_stopwords)
    fold: str = "t2s"
    hmm: bool = True
    version: int = ANALYZER_VERSION

    def fingerprint(self) -> str:
        """A short hash that changes whenever the tokens could change."""
        return hashlib.sha1(repr(asdict(self)).encode("utf-8")).hexdigest()[:12]

    def describe(self) -> dict:
        return {
            "segmenter": "jieba dictionary via rjieba (search mode)",
            "normalise": ["NFKC", "lowercase", f"opencc {self.fold}"],
            "userdict_words": len(self.userdict),
            "stopwords": len(self.stopwords),
            "hmm": self.hmm,
            "version": self.version,
            "fingerprint": self.fingerprint(),
        }


# --- normalisation ------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _converter(config: str):
    import opencc

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


def _compose(first: list[int] | None, second: list[int] | None) -> list[int] | None:
    if second is None:
        return first
    if first is None:
        return second
    return [first[i] for i in second]


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
    step = unicodedata.normalize("NFKC", text)
    if len(step) != len(text):
        step, mapping = _per_char(text, lambda c: unicodedata.normalize("NFKC", c))
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


def fold_text(text: str, fold: str = "t2s") -> str:
    """The text :func:`normalize` gives, without the map back to the original (faster:
    character by character only where :func:`normalize` goes so, and then by a table)."""
    if text.isascii():
        return text.lower()
    step = unicodedata.normalize("NFKC", text)
    if len(step) != len(text):
        step = text.translate(_nfkc_table(text))
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


# --- segmentation -------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _segmenter(userdict: tuple[tuple[str, int | None, str | None], ...]):
    import rjieba

    if not userdict:
        return rjieba._DEFAULT_JIEBA if hasattr(rjieba, "_DEFAULT_JIEBA") else rjieba.Jieba()
    jieba = rjieba.Jieba()
    for word, freq, tag in userdict:
        jieba.add_word(word, freq, tag)
    return jieba


def segment(
    text: str, config: AnalyzerConfig, search: bool = True
) -> Iterator[tuple[str, int, int, int]]:
    """Yield ``(token, position, start, end)`` for normalised ``text``.

    Positions count the words of jieba's default cut, so the extra, shorter words of search
    mode share the position of the word they sit in and phrase queries still line up.
    Punctuation and spaces are dropped; a token mixing words and symbols (``6.3512%``,
    ``hfo-1234yf``) gives its word and number parts.

    A Chinese word that jieba's HMM made up (not in the dictionary, three characters or more)
    also gives its character pairs, in search mode: the model glues a name to its neighbour
    differently in a question and in an article (``杨昊现|效力`` against ``杨昊|（``), and the
    pairs let both meet on ``杨昊``.
    """
    jieba = _segmenter(config.userdict)
    words = jieba.tokenize(text, "default", config.hmm)
    extras = jieba.tokenize(text, "search", config.hmm) if search else None
    stop = _stopset(config.stopwords)
    wordish = _WORDISH.fullmatch
    parts = _PARTS.finditer
    pos = -1
    j = 0
    n_extra = len(extras) if extras else 0
    for word, start, end in words:
        if len(word) == 1 and not word.isalnum():
            continue
        pos += 1
        seen: set[tuple[str, int]] | None = None
        if wordish(word) and "_" not in word:
            if word not in stop:
                yield word, pos, start, end
            if extras is None:
                continue
            seen = {(word, start)}
            if end - start > 2 and _unknown_chinese(word, jieba):
                for i in range(len(word) - 1):
                    pair = word[i : i + 2]
                    if pair not in stop and (pair, start + i) not in seen:
                        seen.add((pair, start + i))
                        yield pair, pos, start + i, start + i + 2
            if end - start <= 2:
                continue
        else:
            seen = set()
            for m in parts(word):
                tok = m.group()
                at = start + m.start()
                if tok not in stop and (tok, at) not in seen:
                    seen.add((tok, at))
                    yield tok, pos, at, start + m.end()
            if extras is None:
                continue
        # search-mode words inside this word
        while j < n_extra and extras[j][2] <= end:
            tok, s, e = extras[j]
            j += 1
            if s < start or (tok, s) in seen or tok in stop:
                continue
            if wordish(tok) and "_" not in tok:
                seen.add((tok, s))
                yield tok, pos, s, e


def word_positions(text: str, config: AnalyzerConfig) -> dict[str, list[int]]:
    """Each token of normalised ``text`` with its positions: what :func:`segment` gives in
    search mode, gathered by token.  This is the indexer's hot path, so it works on jieba's
    plain word lists (no offsets) and decides each distinct word once per process."""
    jieba = _segmenter(config.userdict)
    words = jieba.cut(text, config.hmm)
    full = jieba.cut_for_search(text, config.hmm)
    main_tokens, extra_tokens = _token_tables(config)
    found: dict[str, list[int]] = {}
    pos = -1
    j = 0
    count = len(words)
    for word in full:
        if j < count and word == words[j]:
            j += 1
            keep = main_tokens.get(word)
            if keep is None:
                keep = main_tokens[word] = _main_tokens(word, config, jieba)
            if keep is _PUNCT:
                continue
            pos += 1
            at = pos
        else:  # a shorter word of search mode, inside the next word of the default cut
            keep = extra_tokens.get(word)
            if keep is None:
                keep = extra_tokens[word] = _extra_tokens(word, config)
            if not keep:
                continue
            outer = main_tokens.get(words[j])
            if outer is None:
                outer = main_tokens[words[j]] = _main_tokens(words[j], config, jieba)
            if keep[0] in outer:  # already given by the word it sits in
                continue
            at = pos + 1
        for token in keep:
            seen = found.get(token)
            if seen is None:
                found[token] = [at]
            else:
                seen.append(at)
    return found


_PUNCT: tuple[str, ...] = ("<punctuation>",)
_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _unknown_chinese(word: str, jieba) -> bool:
    """Chinese characters only, and not a word of jieba's dictionary (nor the user's)."""
    return _CHINESE.fullmatch(word) is not None and not jieba.has_word(word)


@lru_cache(maxsize=8)
def _token_tables(config: AnalyzerConfig) -> tuple[dict, dict]:
    return {}, {}


def _main_tokens(word: str, config: AnalyzerConfig, jieba) -> tuple[str, ...]:
    if len(word) == 1 and not word.isalnum():
        return _PUNCT
    stop = _stopset(config.stopwords)
    if _WORDISH.fullmatch(word) and "_" not in word:
        out = [] if word in stop else [word]
        if len(word) > 2 and _unknown_chinese(word, jieba):
            out.extend(p for p in (word[i : i + 2] for i in range(len(word) - 1)) if p not in stop)
        return tuple(out)
    out: list[str] = []
    seen: set[tuple[str, int]] = set()
    for m in _PARTS.finditer(word):
        tok = m.group()
        if tok not in stop and (tok, m.start()) not in seen:
            seen.add((tok, m.start()))
            out.append(tok)
    return tuple(out)


def _extra_tokens(word: str, config: AnalyzerConfig) -> tuple[str, ...]:
    if word in _stopset(config.stopwords) or not _WORDISH.fullmatch(word) or "_" in word:
        return ()
    return (word,)


@lru_cache(maxsize=8)
def _stopset(stopwords: tuple[str, ...]) -> frozenset[str]:
    return frozenset(stopwords)


class ChineseAnalyzer(Analyzer):
    """Whoosh analyzer: normalised, jieba-segmented Chinese with Latin words and numbers.

    Offsets (``startchar``/``endchar``) point into the original text, before normalisation.
    """

    def __init__(self, config: AnalyzerConfig | None = None):
        self.config = config or AnalyzerConfig()

    def __eq__(self, other):
        return isinstance(other, ChineseAnalyzer) and other.config == self.config

    def __hash__(self):
        return hash(self.config)

    def __repr__(self):
        return f"ChineseAnalyzer({self.config.fingerprint()})"

    def made_up(self, word: str) -> bool:
        """Whether ``word`` (normalised) is a Chinese word jieba's HMM made up, so that search
        mode adds its character pairs."""
        return len(word) > 2 and _unknown_chinese(word, _segmenter(self.config.userdict))

    def positions(self, value: str) -> dict[str, list[int]]:
        """Each index token of ``value`` with its positions (see :func:`word_positions`)."""
        return word_positions(normalize(value, self.config.fold)[0], self.config)

    def tokens(self, value: str, search: bool = True) -> Iterator[tuple[str, int, int, int]]:
        """``(token, position, start, end)`` with offsets into ``value`` itself."""
        norm, mapping = normalize(value, self.config.fold)
        if mapping is None:
            yield from segment(norm, self.config, search)
            return
        last = len(value)
        mapping = mapping + [last]
        for tok, pos, s, e in segment(norm, self.config, search):
            yield tok, pos, mapping[s], (mapping[e - 1] + 1 if e > s else mapping[s])

    def __call__(
        self,
        value,
        positions=False,
        chars=False,
        keeporiginal=False,
        removestops=True,
        start_pos=0,
        start_char=0,
        tokenize=True,
        mode="",
        **kwargs,
    ):
        if not isinstance(value, str):
            value = str(value)
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = normalize(value, self.config.fold)[0]
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar = start_char
                token.endchar = start_char + len(value)
            yield token
            return
        # "query" (phrases) keeps jieba's default cut so words line up by position;
        # "index" and "query-terms" (single words) add search mode's shorter words.
        search = mode != "query"
        for text, pos, start, end in self.tokens(value, search):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token
