"""Text to tokens: jieba segmentation of folded text (:mod:`searchkit.folding`) and the Whoosh analyzer built on them.

The analyzer is one chain of named steps (see "the chain" below): normalise (NFKC, lower
case, traditional to simplified) -> segment (jieba's dictionary through rjieba; search mode
adds shorter words) -> each word's tokens (mixed tokens split, stop words out, made-up words'
character pairs) -> each shorter word's token.  The index path (:func:`word_positions`) and
the query path (:func:`segment`) run the same steps.  The whole configuration lives in
:class:`AnalyzerConfig`, which the index's manifest keeps as plain values so that a query always runs
with the analyzer that built the index.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from whoosh.analysis import Analyzer, Token

from .errors import SearchkitError
from .folding import fold_text, normalize

#: Bump when a change to this module changes the tokens of the same text.
ANALYZER_VERSION = 3

_WORDISH = re.compile(r"\w+", re.UNICODE)
_PARTS = re.compile(r"\d+(?:\.\d+)+|[^\W_]+", re.UNICODE)


def _stopword_lines(text: str) -> tuple[str, ...]:
    words = {normalize(line.strip())[0] for line in text.splitlines()}
    return tuple(sorted(w for w in words if w and not w.startswith("#")))


def default_stopwords() -> tuple[str, ...]:
    """The stop words shipped with searchkit (function words and question words)."""
    return _stopword_lines(Path(__file__).with_name("stopwords.txt").read_text("utf-8"))


#: A user dictionary or stop-word list larger than this is refused (jieba's own dictionary
#: is 5 MB): a mistaken ``--userdict /dev/zero`` or a corpus given as a dictionary.
MAX_WORD_LIST = 64 * 1024 * 1024
#: Frequencies beyond this are refused (jieba's largest is about 3.2 million): the segmenter
#: overflows on them.
MAX_FREQ = 10**9
#: A dictionary word longer than this is refused: a sentence is not a word.
MAX_WORD = 100


def _read_word_list(path: str | Path, what: str) -> str:
    """The text of a user dictionary or stop-word list, checked before anything uses it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_WORD_LIST + 1)
    except OSError as exc:
        raise SearchkitError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if len(data) > MAX_WORD_LIST:
        raise SearchkitError(f"{what} {path} is over {MAX_WORD_LIST >> 20} MB: is it a word list?")
    if b"\0" in data:
        raise SearchkitError(f"{what} {path} holds NUL bytes: it is not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SearchkitError(f"{path}:{line}: {what} is not UTF-8") from exc


def read_stopwords(path: str | Path) -> tuple[str, ...]:
    """A stop-word list: one word per line, ``#`` starts a comment line."""
    return _stopword_lines(_read_word_list(path, "stop-word list"))


def read_userdict(path: str | Path) -> tuple[tuple[str, int | None, str | None], ...]:
    """Read a jieba user dictionary: one ``word [freq] [tag]`` entry per line, each checked
    (``FILE:LINE: why``) before anything is written with it."""
    entries = []
    text = _read_word_list(path, "user dictionary")
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        freq: int | None = None
        tag: str | None = None
        rest = parts[1:]
        if rest and rest[0].isascii() and rest[0].isdigit():
            if len(rest[0]) > 10 or int(rest[0]) > MAX_FREQ:
                raise SearchkitError(
                    f"{path}:{number}: frequency {rest[0][:20]} is too large (at most {MAX_FREQ:,})"
                )
            freq = int(rest.pop(0))
        if rest:
            tag = rest[0]
        if len(parts) > 3 or (rest and len(rest) > 1):
            raise SearchkitError(
                f"{path}:{number}: expected 'word [freq] [tag]', got {line[:80]!r}"
            )
        if len(parts[0]) > MAX_WORD:
            raise SearchkitError(
                f"{path}:{number}: a word of {len(parts[0])} characters (at most {MAX_WORD})"
            )
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

    def __hash__(self) -> int:
        # computed once: a 200,000-word dictionary would be hashed again for every word
        found = self.__dict__.get("_hash")
        if found is None:
            found = hash((self.userdict, self.stopwords, self.fold, self.hmm, self.version))
            object.__setattr__(self, "_hash", found)
        return found

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_hash", None)  # string hashes differ from process to process
        return state

    def to_plain(self) -> dict:
        """The configuration as JSON's values (the index's manifest keeps it so)."""
        return {
            "userdict": [list(row) for row in self.userdict],
            "stopwords": list(self.stopwords),
            "fold": self.fold,
            "hmm": self.hmm,
            "version": self.version,
        }

    @classmethod
    def from_plain(cls, value: dict) -> AnalyzerConfig:
        """The configuration :meth:`to_plain` gave (checked by the manifest's reader)."""
        return cls(
            userdict=tuple(tuple(row) for row in value["userdict"]),
            stopwords=tuple(value["stopwords"]),
            fold=value["fold"],
            hmm=value["hmm"],
            version=value["version"],
        )

    def fingerprint(self) -> str:
        """A short hash that changes whenever the tokens could change."""
        import hashlib

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


# --- segmentation -------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _segmenter(userdict: tuple[tuple[str, int | None, str | None], ...]):
    from . import dictionary

    if not userdict:
        return dictionary.full()
    import rjieba

    jieba = rjieba.Jieba()
    for word, freq, tag in userdict:
        jieba.add_word(word, freq, tag)
    return jieba


def check_userdict(path, entries) -> None:
    """Load ``entries`` into a segmenter, saying in one line if the segmenter refuses them."""
    try:
        _segmenter(entries)
    except (ValueError, OverflowError, TypeError, RuntimeError) as exc:
        raise SearchkitError(f"user dictionary {path} cannot be loaded: {exc}") from exc


# --- the chain -----------------------------------------------------------------------------
#
# One chain of named steps, run by the query path (:func:`segment`, with offsets) and the
# index path (:func:`word_positions`, without) alike:
#
# 1. normalise: NFKC, lower case, the script folded (:func:`normalize`, done by the caller);
# 2. segment: jieba's default cut gives the words and their positions; search mode adds the
#    shorter words inside them, at the position of the word they sit in;
# 3. each word of the cut gives its tokens (:func:`word_tokens`): punctuation none, a token
#    mixing words and symbols (``6.3512%``, ``hfo-1234yf``) its word and number parts, stop
#    words none, and in search mode a Chinese word jieba's HMM made up also its character
#    pairs;
# 4. each shorter word of search mode is a token (:func:`extra_token`) unless it is a stop
#    word or symbols, or the word it sits in gave it already.

#: What a word of punctuation gives in :func:`word_positions`: no token and no position.
_PUNCT: tuple = ("<punctuation>",)
_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")

WordTokens = tuple[tuple[str, int], ...]  # (token, offset in the word)


def word_tokens(word: str, config: AnalyzerConfig, search: bool = True) -> WordTokens | None:
    """Step 3: the tokens a word of jieba's default cut gives, each with its offset in the
    word; None for punctuation (which takes no position)."""
    if len(word) == 1 and not word.isalnum():
        return None
    stop = stopset_of(config)
    if _wordish(word):
        out = [] if word in stop else [(word, 0)]
        if search and len(word) > 2 and _unknown_chinese(word, config):
            pairs = ((word[i : i + 2], i) for i in range(len(word) - 1))
            out.extend(pair for pair in pairs if pair[0] not in stop)
        return tuple(out)
    out, seen = [], set()
    for m in _PARTS.finditer(word):
        part = (m.group(), m.start())
        if part[0] not in stop and part not in seen:
            seen.add(part)
            out.append(part)
    return tuple(out)


def extra_token(word: str, config: AnalyzerConfig, outer: tuple[str, ...]) -> bool:
    """Step 4: whether a shorter word of search mode, inside a word that gave the tokens
    ``outer``, is a token of its own."""
    return _extra_candidate(word, config) and word not in outer


def _extra_candidate(word: str, config: AnalyzerConfig) -> bool:
    """The part of step 4 a word decides alone: neither a stop word nor symbols."""
    return word not in stopset_of(config) and _wordish(word)


def _wordish(word: str) -> bool:
    return _WORDISH.fullmatch(word) is not None and "_" not in word


def _unknown_chinese(word: str, config: AnalyzerConfig) -> bool:
    """Chinese characters only, and not a word of jieba's dictionary (nor the user's)."""
    if _CHINESE.fullmatch(word) is None:
        return False
    if config.userdict:
        return not segmenter_of(config).has_word(word)
    from . import dictionary

    return not dictionary.has_word(word)


@lru_cache(maxsize=16)
def _word_table(config: AnalyzerConfig, search: bool) -> dict[str, WordTokens | None]:
    """Step 3 decided once per distinct word and process (the indexer's hot path)."""
    return {}


def _tokens_of(word: str, table: dict, config: AnalyzerConfig, search: bool):
    found = table.get(word, table)  # the table itself stands for "not decided yet"
    if found is table:
        found = table[word] = word_tokens(word, config, search)
    return found


def segment(
    text: str, config: AnalyzerConfig, search: bool = True
) -> Iterator[tuple[str, int, int, int]]:
    """The chain over normalised ``text``: ``(token, position, start, end)``.

    Positions count the words of jieba's default cut, so the extra, shorter words of search
    mode share the position of the word they sit in and phrase queries still line up.
    """
    jieba = query_segmenter(config, text)
    words = jieba.tokenize(text, "default", config.hmm)
    extras = jieba.tokenize(text, "search", config.hmm) if search else []
    table = _word_table(config, search)
    names = _name_table(config, search)
    candidates = _extra_table(config)
    pos = -1
    j = 0
    n_extras = len(extras)
    for word, start, end in words:
        tokens = table.get(word, table)
        if tokens is table:
            tokens = table[word] = word_tokens(word, config, search)
        if tokens is None:
            continue
        pos += 1
        for token, at in tokens:
            yield token, pos, start + at, start + at + len(token)
        while j < n_extras and extras[j][2] <= end:  # the shorter words inside this one
            extra, s, e = extras[j]
            j += 1
            if s < start or extra == word:
                continue
            candidate = candidates.get(extra)
            if candidate is None:
                candidate = candidates[extra] = (extra,) if _extra_candidate(extra, config) else ()
            if candidate and extra not in _names(word, names, table, config, search):
                yield extra, pos, s, e


def _names(word: str, names: dict, table: dict, config: AnalyzerConfig, search: bool):
    """The tokens ``word`` gives (step 3) without their offsets; ``_PUNCT`` for none."""
    found = names.get(word)
    if found is None:
        tokens = _tokens_of(word, table, config, search)
        found = names[word] = _PUNCT if tokens is None else tuple(t for t, _ in tokens)
    return found


def word_positions(text: str, config: AnalyzerConfig) -> dict[str, list[int]]:
    """The chain over normalised ``text`` in search mode, gathered by token: what
    :func:`segment` gives, without offsets."""
    found: dict[str, list[int]] = {}
    tokens, positions = word_stream(text, config)
    for token, at in zip(tokens, positions, strict=True):
        seen = found.get(token)
        if seen is None:
            found[token] = [at]
        else:
            seen.append(at)
    return found


def word_stream(text: str, config: AnalyzerConfig) -> tuple[list[str], list[int]]:
    """The chain over normalised ``text`` in search mode: its tokens and their positions, in
    the order of the text (positions never decrease); see :class:`WordTable`."""
    table = word_table(config)
    tokens: list[str] = []
    positions: list[int] = []
    at = 0  # the next word's position
    for entry in table.entries(text):
        found = table.entry_tokens(entry)
        tokens.extend(found)
        positions.extend([at] * len(found))
        at += table.steps[entry]
    return tokens, positions


class _Unsure(Exception):
    """A word whose shorter words cannot be told from its own cut (jieba cuts it alone
    otherwise than in the text, as it may a word its HMM made up)."""


class WordTable:
    """The index path's table of the words of jieba's default cut, one per analyzer
    configuration and process.

    Search mode's shorter words depend only on the word of the default cut they sit in (jieba
    adds the dictionary's shorter words inside each word, then the word), so each distinct
    word's tokens, its shorter words' first, are decided once: the word's *entry* is its
    tokens (as numbers, :attr:`tokens`), all at one position, and the step to the next word's
    position (1, or 0 for punctuation).  A text is then the entries of its words, one pass over
    the default cut; a text with a word jieba cuts otherwise alone is merged the slow way
    (:func:`_merged_stream`) and given entries of its own, one per position.
    """

    def __init__(self, config: AnalyzerConfig):
        self.config = config
        self.jieba = segmenter_of(config)
        self.words = _Entries(self)
        self.unsure: set[str] = set()
        self.tokens: list[str] = []  # token number -> token
        self.encoded: list[bytes] = []  # token number -> its UTF-8 bytes
        self.numbers: dict[str, int] = {}  # token -> token number
        self.starts = array("I")  # entry -> where its token numbers start in flat
        self.sizes: list[int] = []  # entry -> how many tokens
        self.steps = array("B")  # entry -> 1 if it takes a position, 0 if not
        self.flat = array("I")  # the entries' token numbers, one after the other

    def entries(self, text: str) -> list[int]:
        """The entries of normalised ``text``'s words, in order."""
        words = self.jieba.cut(text, self.config.hmm)
        try:
            return list(map(self.words.__getitem__, words))
        except _Unsure:
            return self._merged(text)

    def length(self, entries: list[int]) -> int:
        """How many tokens the entries give."""
        return sum(map(self.sizes.__getitem__, entries))

    def entry_tokens(self, entry: int) -> list[str]:
        start = self.starts[entry]
        return [self.tokens[n] for n in self.flat[start : start + self.sizes[entry]]]

    def _add(self, tokens, step: int) -> int:
        numbers = self.numbers
        for token in tokens:
            if token not in numbers:
                numbers[token] = len(self.tokens)
                self.tokens.append(token)
                self.encoded.append(token.encode("utf-8"))
        self.starts.append(len(self.flat))
        self.flat.extend(numbers[token] for token in tokens)
        self.sizes.append(len(tokens))
        self.steps.append(step)
        return len(self.sizes) - 1

    def _entry(self, word: str) -> int:
        if word in self.unsure:
            raise _Unsure(word)
        config = self.config
        names = _names(word, _name_table(config, True), _word_table(config, True), config, True)
        extras: list[str] = []
        if len(word) > 2:
            inside = self.jieba.cut_for_search(word, config.hmm)
            if self.jieba.cut(word, config.hmm) != [word] or not inside or inside[-1] != word:
                self.unsure.add(word)
                raise _Unsure(word)
            candidates = _extra_table(config)
            for extra in inside[:-1]:
                keep = candidates.get(extra)
                if keep is None:
                    keep = candidates[extra] = (extra,) if _extra_candidate(extra, config) else ()
                if keep and extra not in names:  # the word itself gave it already
                    extras.append(extra)
        if names is _PUNCT:
            return self._add(extras, 0)
        return self._add((*extras, *names), 1)

    def _merged(self, text: str) -> list[int]:
        """Entries made for this text alone: its tokens grouped by position."""
        tokens, positions = _merged_stream(text, self.config)
        entries: list[int] = []
        at = 0
        group: list[str] = []
        for token, pos in zip(tokens, positions, strict=True):
            while pos > at:
                entries.append(self._add(group, 1))
                group = []
                at += 1
            group.append(token)
        entries.append(self._add(group, 0))
        return entries

    def expand(self, entries: array, counts: list[int], docnums: list[int]):
        """The token numbers, posts and positions of every token of posts given as their
        entries (one after the other), each post's count of entries, and their numbers."""
        import numpy as np

        entries = np.frombuffer(entries, dtype=np.uint32)
        sizes = np.asarray(self.sizes, dtype=np.int64)[entries]
        steps = np.frombuffer(self.steps, dtype=np.uint8)[entries].astype(np.int64)
        # each word's position: the steps before it in its post
        taken = np.cumsum(steps) - steps
        firsts = np.cumsum(counts) - counts
        has_words = np.asarray(counts) > 0
        base = np.zeros(len(counts), dtype=np.int64)
        base[has_words] = taken[firsts[has_words]]
        word_positions = taken - np.repeat(base, counts)
        del taken, steps
        total = int(sizes.sum())
        ends = np.cumsum(sizes)
        within = np.arange(total, dtype=np.int64) - np.repeat(ends - sizes, sizes)
        starts = np.frombuffer(self.starts, dtype=np.uint32).astype(np.int64)[entries]
        numbers = np.frombuffer(self.flat, dtype=np.uint32)[np.repeat(starts, sizes) + within]
        del within, starts
        positions = np.repeat(word_positions.astype(np.int32), sizes)
        word_docs = np.repeat(np.asarray(docnums, dtype=np.uint32), counts)
        docs = np.repeat(word_docs, sizes)
        return numbers, docs, positions


class _Entries(dict):
    """word -> entry, made when first asked for."""

    def __init__(self, table: WordTable):
        super().__init__()
        self.table = table

    def __missing__(self, word: str) -> int:
        entry = self[word] = self.table._entry(word)
        return entry


@lru_cache(maxsize=8)
def word_table(config: AnalyzerConfig) -> WordTable:
    return WordTable(config)


def _merged_stream(text: str, config: AnalyzerConfig) -> tuple[list[str], list[int]]:
    """:func:`word_stream` by merging search mode's words into the default cut's."""
    jieba = segmenter_of(config)
    words = jieba.cut(text, config.hmm)
    full = jieba.cut_for_search(text, config.hmm)
    table = _word_table(config, True)
    names = _name_table(config, True)
    candidates = _extra_table(config)
    tokens: list[str] = []
    positions: list[int] = []
    add_token = tokens.append
    add_position = positions.append
    pos = -1
    j = 0
    count = len(words)
    for word in full:
        if j < count and word == words[j]:
            j += 1
            keep = names.get(word)
            if keep is None:
                keep = _names(word, names, table, config, True)
            if keep is _PUNCT:
                continue
            pos += 1
            at = pos
        else:  # a shorter word of search mode, inside the next word of the default cut
            keep = candidates.get(word)
            if keep is None:
                keep = candidates[word] = (word,) if _extra_candidate(word, config) else ()
            if not keep or j >= count:
                continue
            outer = names.get(words[j])
            if outer is None:
                outer = _names(words[j], names, table, config, True)
            if word in outer:
                continue  # the word it sits in gave it already
            at = pos + 1
        if len(keep) == 1:
            add_token(keep[0])
            add_position(at)
        else:
            tokens.extend(keep)
            positions.extend([at] * len(keep))
    return tokens, positions


@lru_cache(maxsize=8)
def _extra_table(config: AnalyzerConfig) -> dict[str, tuple[str, ...]]:
    """Each shorter word's part of step 4: ``(word,)`` when it may be a token, else ``()``."""
    return {}


@lru_cache(maxsize=16)
def _name_table(config: AnalyzerConfig, search: bool) -> dict[str, tuple[str, ...]]:
    return {}


def query_segmenter(config: AnalyzerConfig, text: str):
    """A segmenter that cuts ``text`` as :func:`segmenter_of` does: for a short text of the
    default dictionary, one of only its words (see :mod:`searchkit.dictionary`)."""
    if config.userdict:
        return segmenter_of(config)
    from . import dictionary

    return dictionary.for_text(text)


@lru_cache(maxsize=8)
def segmenter_of(config: AnalyzerConfig):
    """The segmenter of a configuration (its user dictionary loaded)."""
    return _segmenter(config.userdict)


@lru_cache(maxsize=8)
def stopset_of(config: AnalyzerConfig) -> frozenset[str]:
    """The stop words of a configuration, as a set."""
    return _stopset(config.stopwords)


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
        return len(word) > 2 and _unknown_chinese(word, self.config)

    def positions(self, value: str) -> dict[str, list[int]]:
        """Each index token of ``value`` with its positions (see :func:`word_positions`)."""
        return word_positions(fold_text(value, self.config.fold), self.config)

    def entries(self, value: str) -> tuple[WordTable, list[int]]:
        """The index path: the entries of ``value``'s words in this configuration's table
        (see :class:`WordTable`)."""
        table = word_table(self.config)
        return table, table.entries(fold_text(value, self.config.fold))

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
