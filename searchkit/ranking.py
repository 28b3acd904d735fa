"""Ranking: BM25F's settings and the rewards for what the best hits' texts hold of a query."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .errors import SearchkitError
from .schema import read_bare

if TYPE_CHECKING:
    from .query import Plan


@dataclass(frozen=True)
class Ranking:
    """How hits are ranked; each default was chosen by ``make eval`` (see README).

    BM25F ranks every post the query matches; the best ``rerank_depth`` hits are then
    reordered by rewards for what their text holds of the query.
    """

    #: Query-time weight of the title field against the body.
    title_weight: float = 0.5
    #: Weight of an optional phrase for each pair of neighbouring query words, and its slop.
    proximity: float = 0.2
    proximity_slop: int = 2
    #: How many of the best hits the rewards may reorder.
    rerank_depth: int = 100
    #: ``span`` of a hit's own score times the share of the query's character trigrams in its
    #: text; ``lead`` of the best hit's score times the share in its first ``lead_chars``
    #: characters (a news story says what it is about first), each trigram weighted by how
    #: rare it is among the hits; ``cover`` of the best hit's score times the share of the
    #: query words' IDF in its text (a post holding the query's rare words beats one that
    #: repeats its common ones).
    span: float = 1.3
    lead: float = 0.15
    lead_chars: int = 80
    cover: float = 1.65
    #: Of the best hit's score: ``chars`` times the share of the query's characters in the
    #: first ``opening_chars`` characters of a hit's text and ``pairs`` times the share of the
    #: query's character pairs in its text, each weighted by rarity among the hits as the
    #: trigrams are (a headline shortens: 俄 for 俄罗斯, 澳 for 澳大利亚, and its single
    #: characters and pairs still tell twins apart); ``numbers`` times the share of the
    #: query's numbers the text holds (the month, the figure that sets one report apart).
    chars: float = 1.2
    opening_chars: int = 200
    pairs: float = 0.8
    numbers: float = 2.0

    @classmethod
    def bm25(cls) -> Ranking:
        """BM25F alone: none of the rewards."""
        return cls(proximity=0, span=0, lead=0, cover=0, chars=0, pairs=0, numbers=0)

    def __post_init__(self):
        for name, value in vars(self).items():
            if not isinstance(value, (int, float)) or value < 0:
                raise SearchkitError(f"ranking {name} must be a number >= 0, not {value!r}")


class Shares(NamedTuple):
    """For each of the best hits, the shares of the query its text holds (see :class:`Ranking`)."""

    span: np.ndarray  # of the trigrams, in the text
    lead: np.ndarray  # of the trigrams, in the first ``lead_chars`` characters
    cover: np.ndarray  # of the words' IDF, in the text
    chars: np.ndarray  # of the characters, in the first ``opening_chars`` characters
    pairs: np.ndarray  # of the character pairs, in the text
    numbers: np.ndarray  # of the numbers, in the text


def text_shares(
    plan: Plan,
    words: list[str],
    idf: list[float],
    texts: list[tuple[str, str]],
    ranking: Ranking,
) -> Shares:
    """For each ``(text, opening)`` of the best hits, the :class:`Shares` of the query
    ``plan`` it holds; ``words`` are the query's words and ``idf`` their IDF.

    A trigram, character or pair weighs ``log((n + 1) / (k + 0.5))`` when ``k`` of the ``n``
    texts looked at hold it: the formulaic phrase every near twin shares tells little, the
    number or name only one holds decides.
    """
    whole = [text for text, _ in texts]
    lead = [opening[: ranking.lead_chars] for _, opening in texts]
    opening = [opening[: ranking.opening_chars] for _, opening in texts]
    covers = numbers = np.zeros(len(texts))
    if words:
        weights = np.asarray(idf, dtype=float)
        covers = _held(words, whole) @ (weights / weights.sum())
    if plan.numbers:
        ways = sorted(plan.numbers)
        numbers = np.array(
            [[any(form in text for form in forms) for forms in ways] for text in whole],
            dtype=float,
        ).mean(axis=1)
    grams, pairs = sorted(plan.grams), sorted(plan.pairs)
    runs = Runs(whole) if len(grams) + len(pairs) >= RUNS_FROM else None

    def in_whole(parts: list[str], size: int) -> np.ndarray:
        return runs.held(parts, size) if runs is not None else _held(parts, whole)

    return Shares(
        span=_by_rarity(in_whole(grams, 3)),
        lead=_by_rarity(_held(grams, lead)),
        cover=covers,
        chars=_by_rarity(_held(sorted(plan.chars), opening)),
        pairs=_by_rarity(in_whole(pairs, 2)),
        numbers=numbers,
    )


#: How many posts' folded texts a reranker keeps (``--batch`` meets a post again and again).
TEXT_CACHE = 4096


class Reranker:
    """What the best hits of a query gain beside their engine score: the proximity of its
    words (phrase scores) and the query spans, opening, rare words, characters and numbers
    their texts hold (:class:`Ranking`); the search reorders them by it
    (:func:`searchkit.engine.order.reordered`)."""

    def __init__(self, engine, ranking: Ranking):
        self.engine = engine
        self.ranking = ranking
        self._texts: dict[int, tuple[str, str]] = {}

    def bonus(self, plan: Plan, top, postings: dict) -> dict[int, float]:
        """Each of ``top``'s (``(docnum, score)``) gain; ``postings`` what the engine looked up
        for the query."""
        if not top:
            return {}
        bonus: dict[int, float] = {}
        if plan.phrases:
            # phrase scores for the best hits only: a few position reads, not a phrase
            # search over the whole archive
            best = {docnum for docnum, _ in top}
            bonus = self.engine.phrase_scores(plan.phrases, best, postings)
        if not (plan.chars or plan.terms):
            return bonus
        shares = self.shares(plan, top, postings)
        ranking = self.ranking
        scores = np.array([score for _, score in top], dtype=float)
        of_best = (
            ranking.lead * shares.lead
            + ranking.cover * shares.cover
            + ranking.chars * shares.chars
            + ranking.pairs * shares.pairs
            + ranking.numbers * shares.numbers
        )
        gains = ranking.span * shares.span * scores + of_best * scores.max()
        for (docnum, _), gain in zip(top, gains.tolist(), strict=True):
            bonus[docnum] = bonus.get(docnum, 0.0) + gain
        return bonus

    def shares(self, plan: Plan, top, cache=None) -> Shares:
        """The :class:`Shares` of :func:`text_shares` for the hits ``top``."""
        words = sorted(plan.terms)
        docs = self.engine.doc_count() or 1
        frequency = self.engine.doc_frequency
        idf = [math.log(docs / (1 + frequency("body", w, cache))) + 1 for w in words]
        texts = [self._text_of(docnum) for docnum, _ in top]
        return text_shares(plan, words, idf, texts, self.ranking)

    def _text_of(self, docnum: int) -> tuple[str, str]:
        """A post's title and text as :func:`~searchkit.folding.bare_text` makes them, and the
        opening of its text."""
        found = self._texts.get(docnum)
        if found is None:
            if len(self._texts) >= TEXT_CACHE:
                self._texts.clear()
            title, text = read_bare(self.engine.bytes_of("bare", docnum)) or ("", "")
            opening = max(self.ranking.lead_chars, self.ranking.opening_chars)
            found = self._texts[docnum] = (title + text, text[:opening])
        return found


#: From how many trigrams and pairs of a query the whole texts are searched as :class:`Runs`
#: (a headline's twenty or more, where a few numpy passes beat a test per run and text); a
#: few words' handful, and the short openings, are tested run by run.
RUNS_FROM = 8


def _held(parts: list[str], texts: list[str]) -> np.ndarray:
    """Which of ``parts`` each of ``texts`` holds (a row per text)."""
    return np.array([[part in text for part in parts] for text in texts], dtype=float)


class Runs:
    """Texts as one array of code points, to find which runs of one to three characters each
    text holds in a few passes over all of them at once, rather than a test per run and
    text."""

    def __init__(self, texts: list[str]):
        self.count = len(texts)
        joined = "\0".join(texts)  # no run of letters and digits holds the separator
        encoded = joined.encode("utf-32-le", "surrogatepass")
        self.codes = np.frombuffer(encoded, dtype=np.uint32).astype(np.int64)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        self.starts = np.zeros(len(texts), dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=self.starts[1:])

    def held(self, parts: list[str], size: int) -> np.ndarray:
        """Which of ``parts`` (each of ``size`` characters, at most three) each text holds,
        a row per text: every run of ``size`` characters as one number (21 bits a code
        point), looked up among the parts'."""
        held = np.zeros((self.count, len(parts)))
        count = len(self.codes) - size + 1
        if not parts or count <= 0:
            return held
        keys = self.codes[:count]
        wanted = np.zeros(len(parts), dtype=np.int64)
        for k in range(size):
            if k:
                keys = (keys << 21) | self.codes[k : count + k]
            wanted = (wanted << 21) | np.fromiter((ord(part[k]) for part in parts), np.int64)
        found = np.flatnonzero(np.isin(keys, wanted))
        order = np.argsort(wanted)
        which = order[np.searchsorted(wanted[order], keys[found])]
        held[np.searchsorted(self.starts, found, side="right") - 1, which] = 1
        return held


def _by_rarity(held: np.ndarray) -> np.ndarray:
    """The share of the parts each text holds (``held``, a row per text), each part weighted
    by how rare it is among the texts."""
    if not held.size:
        return np.zeros(len(held))
    rarity = np.log((len(held) + 1) / (held.sum(axis=0) + 0.5))
    return held @ (rarity / rarity.sum())
