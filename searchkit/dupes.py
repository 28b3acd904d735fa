"""Near-duplicates: the same story in several posts (wire copies, reposts, updates).

Each post gets a sketch when it is indexed (kept in the ``near`` column):

* the bottom-``K`` sketch of its text's character shingles: the text is made bare
  (punctuation and spaces out) and folded (NFKC, lower case, one script), cut into every run
  of ``SHINGLE`` characters, each hashed (a 64-bit polynomial over the code points, mixed),
  and the ``K`` smallest distinct hashes kept.  The share of the smallest ``K`` of two
  sketches' union that both hold estimates the Jaccard similarity of the two texts' shingles
  (Broder's estimator); one hash and a partial sort per post, where MinHash would need ``K``;
* the smallest ``NUMBERS`` hashes of the distinct numbers in it: two monthly reports that
  share all their words but not their figures are two stories, however alike.

Two posts are near-duplicates when their texts' similarity is at least the threshold and, if
both have numbers, most of the numbers of the one with fewer are in the other (a trimmed copy
keeps a subset of the figures; a twin report changes them); a shorter text counts as contained
in a longer one only when it is most of it.  Where the texts are at hand (``dupes``, collapsed
search results), a pair the sketches call near is then read in full: two texts that differ by
words swapped inside sentences they otherwise share are two stories told by one formula (an
opening ceremony's notice and the closing one's, one state visit and the next), however alike;
copies differ by whole sentences added or dropped, a new lead, a source line (see
:func:`swapped_words`).  A group is a story: a post and the posts near it
by themselves, never a chain through a third (see :func:`group`).
numpy does the hashing and the grouping; a few lines of it do what ``datasketch`` would, with
no dependency, one hash per shingle instead of one per permutation, and a sketch that is plain
bytes in a column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .folding import folded_bare

#: Characters per shingle: short enough that a changed character spoils few, long enough that
#: common phrases of Chinese news (4 characters, 新闻联播) are not a shingle of their own.
SHINGLE = 5
#: Hashes kept of a text (the estimate's error is about ``sqrt(J(1-J)/K)``, 0.06 at 0.5).
K = 64
#: Hashes kept of a post's distinct numbers.
NUMBERS = 32
#: The text similarity at or above which two posts are one story (``make eval``).
THRESHOLD = 0.8
#: The share of the numbers of the post with fewer that the other must hold: all of them (a
#: trimmed copy keeps a subset of its original's figures; next month's report changes one).
NUMBER_SHARE = 1.0
#: Texts of fewer bare characters than this are too short to tell a copy (a one-line post).
MIN_CHARS = 30
#: The fewest hashes of the shorter text that :func:`containment` judges from.
MIN_SAMPLE = 16
#: A hash shared by more posts than this pairs each only with the longest of them, not all
#: with all: boilerplate costs a line of pairs instead of a square (``dupes`` over 200,000
#: posts: 59 s with all pairs up to 200 posts, 10 s up to 32), and a story copied thousands of
#: times is still found, each copy beside its longest version.
MAX_RUN = 32
#: A shorter text is a copy of a longer one by containment only when it is at least this
#: share of it: a trimmed copy keeps most of its story, while a one-line notice whose phrases
#: every later story repeats is not a copy of each (``make eval``).
LENGTH_SHARE = 0.33

#: A swap is a change of at most this many characters on each side (a name, a word, a
#: figure: a rewritten sentence is an edit, not a swap) ...
SWAP_CHARS = 8
#: ... between runs of at least this many characters that both texts share (a change at the
#: very start or end is a lead or a sign-off) ...
SWAP_CONTEXT = 2
#: ... where changes split by fewer shared characters than this are one (十三届五次 and
#: 十四届一次 are one swap, not two single characters).
SWAP_JOIN = 3
#: Two posts that swap words are different stories when they swap more than one, or one of
#: at least this many characters on its two sides together (one character for one may be a
#: script variant's fold, 象/像; 开/闭 with 4/20 is another event).  ``make eval``: 9 of the 10 zh-news
#: pairs of different broadcast headlines are told apart, none of the 800 constructed copies.
SWAP_LIMIT_CHARS = 3

#: Numbers in figures, and in Chinese numerals of two characters or more (二〇二三, 十四届):
#: a year's notice and the next year's differ by nothing else.
_NUMBER = re.compile(r"\d+(?:\.\d+)?|[〇零一二三四五六七八九十百千万亿两]{2,}")
_MASK = np.uint64(0xFFFFFFFF)


@dataclass
class Sketch:
    """A post's text and number hashes (sorted, unique, uint32), and how many distinct
    shingles its text has."""

    text: np.ndarray
    numbers: np.ndarray
    shingles: int = 0
    _sets: tuple | None = field(default=None, repr=False, compare=False)

    def hash_set(self) -> frozenset[int]:
        return self._cached()[0]

    def number_set(self) -> frozenset[int]:
        return self._cached()[1]

    def _cached(self) -> tuple[frozenset[int], frozenset[int]]:
        if self._sets is None:
            self._sets = (frozenset(self.text.tolist()), frozenset(self.numbers.tolist()))
        return self._sets

    def to_bytes(self) -> bytes:
        head = np.array([len(self.text), len(self.numbers), self.shingles], dtype="<u4")
        return b"".join(a.astype("<u4").tobytes() for a in (head, self.text, self.numbers))

    @classmethod
    def from_bytes(cls, data: bytes) -> Sketch | None:
        if len(data) < 12:
            return None
        values = np.frombuffer(data, dtype="<u4")
        n_text, n_numbers = int(values[0]), int(values[1])
        if len(values) != 3 + n_text + n_numbers:
            return None
        return cls(values[3 : 3 + n_text], values[3 + n_text :], int(values[2]))


def sketch(text: str, fold: str = "t2s") -> Sketch:
    """The sketch of a post's text (given folded, as :class:`~searchkit.folding.Folded`,
    it is not folded again)."""
    bare = folded_bare(text, fold)
    numbers = sorted({number for number in _NUMBER.findall(bare)})
    hashes = _distinct(_shingle_hashes(bare))
    return Sketch(hashes[:K], _distinct(_string_hashes(numbers))[:NUMBERS], len(hashes))


def _shingle_hashes(bare: str) -> np.ndarray:
    """A 64-bit hash of every run of ``SHINGLE`` characters (none for a text too short)."""
    if len(bare) < max(SHINGLE, MIN_CHARS):
        return np.zeros(0, dtype=np.uint64)
    points = np.frombuffer(bare.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    count = len(points) - SHINGLE + 1
    value = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(SHINGLE):
            value = value * np.uint64(0x100000001B3) + points[offset : offset + count]
        return _mix(value)


def _string_hashes(items: list[str]) -> np.ndarray:
    if not items:
        return np.zeros(0, dtype=np.uint64)
    # each string's code points folded into 64 bits, then mixed: stable across processes
    values = []
    for item in items:
        value = 0
        for ch in item:
            value = (value * 0x100000001B3 + ord(ch)) & 0xFFFFFFFFFFFFFFFF
        values.append(value)
    with np.errstate(over="ignore"):
        return _mix(np.array(values, dtype=np.uint64))


def _mix(values: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (MurmurHash3's), so that nearby inputs give unrelated hashes."""
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xFF51AFD7ED558CCD)
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xC4CEB9FE1A85EC53)
    return values ^ (values >> np.uint64(33))


def _distinct(hashes: np.ndarray) -> np.ndarray:
    """The distinct 32-bit hashes (the high half of each 64-bit one), smallest first."""
    if not len(hashes):
        return np.zeros(0, dtype=np.uint32)
    # sorted and thinned by hand: np.unique costs six times more on arrays this short
    values = ((hashes >> np.uint64(32)) & _MASK).astype(np.uint32)
    values.sort()
    first = np.empty(len(values), dtype=bool)
    first[0] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return values[first]


def similarity(a: Sketch, b: Sketch) -> float:
    """How alike two texts are: the estimated Jaccard similarity of their shingles, or the
    share of the shorter text's shingles the longer holds when that is more (a copy with
    paragraphs trimmed is contained in its original); 0 when either is too short."""
    if not len(a.text) or not len(b.text):
        return 0.0
    # Python sets of a few dozen numbers: faster here than numpy's set routines
    ours, theirs = a.hash_set(), b.hash_set()
    k = min(K, max(len(ours), len(theirs)))
    union = sorted(ours | theirs)[:k]
    jaccard = sum(1 for value in union if value in ours and value in theirs) / len(union)
    return max(jaccard, containment(a, b))


def containment(a: Sketch, b: Sketch) -> float:
    """The share of the shorter text's shingles that the longer holds, estimated from the
    shorter's hashes within the range the longer's sketch covers (0 when they are too few
    to tell: texts of very different lengths)."""
    big, small = (a, b) if a.shingles >= b.shingles else (b, a)
    if small.shingles < LENGTH_SHARE * big.shingles:
        return 0.0
    # a full sketch covers the hashes up to its largest; a shorter one is every hash
    cover = int(big.text[-1]) if len(big.text) >= K else None
    held = big.hash_set()
    sample = [v for v in small.hash_set() if cover is None or v <= cover]
    if len(sample) < MIN_SAMPLE:
        return 0.0
    return sum(1 for value in sample if value in held) / len(sample)


def same_numbers(a: Sketch, b: Sketch) -> bool:
    """Whether the numbers agree: most of those of the post with fewer are in the other."""
    fewer = min(len(a.numbers), len(b.numbers))
    if not fewer:
        return True
    shared = len(a.number_set() & b.number_set())
    return shared >= NUMBER_SHARE * fewer


def near(a: Sketch | None, b: Sketch | None, threshold: float = THRESHOLD) -> bool:
    """Whether two posts are one story."""
    if a is None or b is None:
        return False
    return similarity(a, b) >= threshold and same_numbers(a, b)


def swapped_words(a: str, b: str) -> list[tuple[str, str]]:
    """The words swapped between two bare texts: each change of at most ``SWAP_CHARS``
    characters on both sides between runs both texts share (changes split by fewer than
    ``SWAP_JOIN`` shared characters taken as one), as ``(in a, in b)``."""
    if a == b or a in b or b in a:
        return []
    import difflib

    steps = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    changes: list[list] = []  # [kind, a_from, a_to, b_from, b_to], shared runs and changes
    for kind, i1, i2, j1, j2 in steps:
        if kind != "equal" and changes and changes[-1][0] != "equal":
            changes[-1][2], changes[-1][4] = i2, j2
        elif (
            kind != "equal"
            and len(changes) >= 2
            and changes[-1][2] - changes[-1][1] < SWAP_JOIN
            and changes[-2][0] != "equal"
        ):
            changes.pop()
            changes[-1][2], changes[-1][4] = i2, j2
        else:
            changes.append([kind, i1, i2, j1, j2])
    out = []
    for n in range(1, len(changes) - 1):
        kind, i1, i2, j1, j2 = changes[n]
        if kind == "equal" or i1 == i2 or j1 == j2 or max(i2 - i1, j2 - j1) > SWAP_CHARS:
            continue
        before, after = changes[n - 1], changes[n + 1]
        if min(before[2] - before[1], after[2] - after[1]) >= SWAP_CONTEXT:
            out.append((a[i1:i2], b[j1:j2]))
    return out


def same_story(a: str, b: str) -> bool:
    """Whether two bare texts a sketch calls near tell one story: they swap no words, or
    one short word only (a script variant's fold, a typo mended)."""
    swaps = swapped_words(a, b)
    return len(swaps) < 2 and all(len(x) + len(y) < SWAP_LIMIT_CHARS for x, y in swaps)


def collapse(
    sketches: list[Sketch | None],
    threshold: float = THRESHOLD,
    texts: Callable[[int], str] | None = None,
) -> list[int]:
    """For hits in rank order: the index of the best-ranked hit of each one's story (itself
    when it has no near-duplicate before it), so that the best-ranked stands for a story.
    A hit joins only a hit that stands for a story itself: no chain of hits folds away a
    story unlike the first.  ``texts`` gives a hit's bare text (:func:`same_story`)."""
    return _leaders(sketches, threshold, list(range(len(sketches))), texts)[0]


@dataclass
class Groups:
    """Posts that are one story, each group as numbers of its posts."""

    groups: list[list[int]] = field(default_factory=list)
    compared: int = 0  # pairs whose sketches were compared


def group(
    sketches: list[Sketch | None],
    threshold: float = THRESHOLD,
    texts: Callable[[int], str] | None = None,
) -> Groups:
    """Every group of two or more near-duplicate posts among ``sketches``, largest first.

    A group is one story: a post (the longest, its fullest version) and the posts near it,
    each near that post by itself; posts are taken longest first, each joining the most
    alike of the posts that already stand for a story, or standing for one of its own.
    ``texts`` gives a post's bare text: a pair is then near only if :func:`same_story`."""
    order = sorted(
        range(len(sketches)), key=lambda n: (-(sketches[n].shingles if sketches[n] else 0), n)
    )
    leaders, compared = _leaders(sketches, threshold, order, texts)
    members: dict[int, list[int]] = {}
    for number, leader in enumerate(leaders):
        members.setdefault(leader, []).append(number)
    out = Groups(compared=compared)
    out.groups = sorted(
        (sorted(g) for g in members.values() if len(g) > 1), key=lambda g: (-len(g), g[0])
    )
    return out


def _leaders(
    sketches: list[Sketch | None],
    threshold: float,
    order: list[int],
    texts: Callable[[int], str] | None = None,
) -> tuple[list[int], int]:
    """Each post's leader (the post that stands for its story; itself for a leader), taking
    posts in ``order``: each joins the most alike leader taken before it, or leads; and how
    many pairs were compared.

    Candidate pairs share at least a few hashes (found by sorting all the sketches' hashes,
    each pair coming from the runs of a hash); each candidate is then compared in full."""
    candidates = _candidates(sketches, threshold)
    if len(candidates) > ARRAY_PAIRS:
        alike = near_pairs(sketches, candidates, threshold, scores=True)
    else:
        alike = np.array(
            [
                similarity(sketches[a], sketches[b])
                if near(sketches[a], sketches[b], threshold)
                else 0.0
                for a, b in candidates.tolist()
            ]
        )
    neighbours: dict[int, list[tuple[int, float]]] = {}
    kept = np.flatnonzero(alike > 0) if len(candidates) else np.zeros(0, dtype=np.int64)
    bare: dict[int, str] = {}
    for (a, b), score in zip(candidates[kept].tolist(), alike[kept].tolist(), strict=True):
        if texts is not None:
            for number in (a, b):
                if number not in bare:
                    bare[number] = texts(number)
            if not same_story(bare[a], bare[b]):
                continue
        neighbours.setdefault(a, []).append((b, score))
        neighbours.setdefault(b, []).append((a, score))
    leader = list(range(len(sketches)))
    taken = [False] * len(sketches)
    for number in order:
        best, best_score = None, 0.0
        for other, score in neighbours.get(number, ()):
            if taken[other] and leader[other] == other and score > best_score:
                best, best_score = other, score
        if best is not None:
            leader[number] = best
        taken[number] = True
    return leader, len(candidates)


#: From this many candidate pairs on, they are compared as arrays (:func:`near_pairs`).
ARRAY_PAIRS = 2000
_NONE = np.uint32(0xFFFFFFFF)  # no hash: pads a short sketch (a real hash of it is ignored)


def near_pairs(
    sketches: list[Sketch | None],
    pairs: np.ndarray,
    threshold: float = THRESHOLD,
    scores: bool = False,
) -> np.ndarray:
    """:func:`near` for many pairs at once: each pair's two sketches side by side in a row,
    sorted, so that a hash both hold is two equal neighbours.  With ``scores``, each near
    pair's :func:`similarity` (0 for the others)."""
    texts, sizes = _matrix([s.text if s else None for s in sketches], K)
    numbers, counts = _matrix([s.numbers if s else None for s in sketches], NUMBERS)
    shingles = np.array([s.shingles if s else 0 for s in sketches], dtype=np.int64)
    out = np.zeros(len(pairs), dtype=float if scores else bool)
    for start in range(0, len(pairs), 50_000):
        a, b = pairs[start : start + 50_000, 0], pairs[start : start + 50_000, 1]
        alike = _similar(texts[a], texts[b], sizes[a], sizes[b], shingles[a], shingles[b])
        ok = (alike >= threshold) & _agree(numbers[a], numbers[b], counts[a], counts[b])
        out[start : start + len(a)] = np.where(ok, alike, 0.0) if scores else ok
    return out


def _matrix(rows: list[np.ndarray | None], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of hashes padded with ``_NONE`` to ``width``, and their lengths."""
    matrix = np.full((len(rows), width), _NONE, dtype=np.uint32)
    lengths = np.zeros(len(rows), dtype=np.int64)
    for number, row in enumerate(rows):
        if row is not None and len(row):
            matrix[number, : len(row)] = row[:width]
            lengths[number] = min(len(row), width)
    return matrix, lengths


def _similar(a, b, la, lb, sa, sb) -> np.ndarray:
    """:func:`similarity` of each row pair."""
    both_rows = np.sort(np.concatenate([a, b], axis=1), axis=1)
    valid = both_rows != _NONE
    first = np.ones_like(valid)
    first[:, 1:] = both_rows[:, 1:] != both_rows[:, :-1]
    distinct = first & valid
    twice = np.zeros_like(valid)
    twice[:, :-1] = distinct[:, :-1] & (both_rows[:, 1:] == both_rows[:, :-1])
    k = np.minimum(K, np.maximum(la, lb))[:, None]
    rank = np.cumsum(distinct, axis=1)
    in_union = distinct & (rank <= k)
    union = in_union.sum(axis=1)
    jaccard = np.where(union > 0, (in_union & twice).sum(axis=1) / np.maximum(union, 1), 0.0)
    # containment: the shorter's hashes up to the longer's largest (when its sketch is full)
    a_big = sa >= sb
    big_rows, big_len = np.where(a_big[:, None], a, b), np.where(a_big, la, lb)
    small_rows = np.where(a_big[:, None], b, a)
    last = big_rows[np.arange(len(big_rows)), np.maximum(big_len - 1, 0)].astype(np.int64)
    cover = np.where(big_len >= K, last, np.int64(_NONE) - 1)[:, None]
    sample = ((small_rows != _NONE) & (small_rows.astype(np.int64) <= cover)).sum(axis=1)
    held = (twice & (both_rows.astype(np.int64) <= cover)).sum(axis=1)
    small_len = np.where(a_big, sb, sa)
    long_enough = small_len >= LENGTH_SHARE * np.maximum(sa, sb)
    contained = np.where((sample >= MIN_SAMPLE) & long_enough, held / np.maximum(sample, 1), 0.0)
    alike = np.maximum(jaccard, contained)
    return np.where((la > 0) & (lb > 0), alike, 0.0)


def _agree(a, b, ca, cb) -> np.ndarray:
    """:func:`same_numbers` of each row pair."""
    rows = np.sort(np.concatenate([a, b], axis=1), axis=1)
    shared = ((rows[:, 1:] == rows[:, :-1]) & (rows[:, 1:] != _NONE)).sum(axis=1)
    fewer = np.minimum(ca, cb)
    return (fewer == 0) | (shared >= NUMBER_SHARE * fewer)


def _candidates(sketches: list[Sketch | None], threshold: float) -> np.ndarray:
    """Pairs ``(a, b)``, ``a < b``, whose sketches share enough hashes to be worth comparing
    (a containment at the threshold needs ``threshold * MIN_SAMPLE`` of them)."""
    lengths = np.array([len(s.text) if s is not None else 0 for s in sketches], dtype=np.int64)
    if not lengths.sum():
        return np.zeros((0, 2), dtype=np.int64)
    shingles = np.array([s.shingles if s else 0 for s in sketches], dtype=np.int64)
    # each (hash, post) as one number, sorted: a hash's posts are a run, in post order
    keys = np.concatenate([s.text for s in sketches if s is not None and len(s.text)])
    keys = keys.astype(np.uint64) << np.uint64(32)
    keys |= np.repeat(np.arange(len(sketches), dtype=np.uint64), lengths)
    keys.sort()
    owner = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
    value = keys >> np.uint64(32)
    del keys
    starts = np.flatnonzero(np.r_[True, value[1:] != value[:-1]])
    sizes = np.diff(np.r_[starts, len(value)])
    firsts, seconds = [], []
    for size in sorted(set(sizes[sizes >= 2].tolist())):  # (np.unique imports numpy.ma)
        runs = starts[sizes == size]
        members = owner[runs[:, None] + np.arange(size)]  # one row per run
        if size <= MAX_RUN:
            left, right = np.triu_indices(size, 1)
            firsts.append(members[:, left].ravel())
            seconds.append(members[:, right].ravel())
            continue
        # a hash of hundreds of posts: each paired with the run's longest post only
        hubs = members[np.arange(len(runs)), np.argmax(shingles[members], axis=1)][:, None]
        others = members != hubs
        hubs = np.broadcast_to(hubs, members.shape)[others]
        members = members[others]
        firsts.append(np.minimum(members, hubs))
        seconds.append(np.maximum(members, hubs))
    if not firsts:
        return np.zeros((0, 2), dtype=np.int64)
    count = np.int64(len(sketches))
    keys = np.concatenate(firsts) * count + np.concatenate(seconds)  # (a, b) as one number
    del firsts, seconds
    keys.sort()  # then each pair's hashes shared are a run (np.unique costs twice the sort)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[starts, len(keys)])
    chosen = keys[starts[counts >= max(2, int(threshold * MIN_SAMPLE))]]
    return np.stack([chosen // count, chosen % count], axis=1)
