"""What a typed string matches: the posts whose folded title or text holds it, as grep would
find it, whatever the segmenter cut around it.

Every post's title and text, folded as the analyzer folds them (NFKC, lower case, OpenCC), is
indexed a second time in the ``pairs`` field: each character that is not a space, as the pair
it starts (itself and the next character, or itself and a space where a run of characters
ends), at its offset in the text.  Then

* a string of two characters or more is the phrase of its overlapping pairs at consecutive
  offsets: ``abc`` is ``ab`` at some offset and ``bc`` at the next, which holds exactly where
  the text holds ``abc``;
* one character is every pair it starts (a prefix of the field's terms);
* a string with spaces inside is each of its parts.

The jieba words stay the ranking's; a string only decides what matches, with a light score of
its own (:data:`STRING_WEIGHT`) so that a post holding it where no word of its does (``近平``
inside ``习近平``) still ranks by how often it holds it.
"""

from __future__ import annotations

import numpy as np

#: The field of character pairs.
PAIRS = "pairs"

#: The weight of a typed string's own score (its pairs as a phrase) beside its words' BM25F.
#: Chosen with ``make eval`` (keyword queries).
STRING_WEIGHT = 0.25

#: The code points ``str.isspace`` is true for (after NFKC: the folded text has no other).
_SPACES = (
    list(range(0x09, 0x0E))
    + list(range(0x1C, 0x21))
    + [0x85, 0xA0, 0x1680]
    + list(range(0x2000, 0x200B))
    + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)
_SPACE_TABLE = np.zeros(0x3001, dtype=bool)
_SPACE_TABLE[_SPACES] = True
_BLANK = 0x20
#: A pair's key: the first character's code point, shifted, and the second's.
_SHIFT = np.uint64(21)
_LOW = (1 << 21) - 1


def pair_keys(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The key of each pair of ``text`` (folded) and its offset: one for every character that
    is not a space.  A key orders as the pair's UTF-8 bytes do."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if not len(points):
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint32)
    space = np.zeros(len(points), dtype=bool)
    low = points <= 0x3000
    space[low] = _SPACE_TABLE[points[low]]
    following = np.empty(len(points), dtype=np.uint64)
    following[:-1] = points[1:]
    following[-1] = _BLANK
    following[:-1][space[1:]] = _BLANK
    keys = (points.astype(np.uint64) << _SHIFT) | following
    kept = np.flatnonzero(~space)
    return keys[kept], kept.astype(np.uint32)


def key_text(key: int) -> str:
    """The pair of a key."""
    return chr(key >> 21) + chr(key & _LOW)


def pairs_of(part: str) -> list[str]:
    """The overlapping pairs of a string without spaces, of two characters or more."""
    return [part[i : i + 2] for i in range(len(part) - 1)]


def exact_parts(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """How the engine finds a folded string: for each part between spaces, ``("phrase",
    field, pairs)`` or, for one character, ``("prefix", field, (character,))``."""
    parts = []
    for part in text.split():
        if len(part) == 1:
            parts.append(("prefix", PAIRS, (part,)))
        else:
            parts.append(("phrase", PAIRS, tuple(pairs_of(part))))
    return parts


def positions_by_pair(text: str) -> dict[str, list[int]]:
    """Each pair of a folded text and its offsets, in order (a post indexed one at a time)."""
    keys, offsets = pair_keys(text)
    found: dict[str, list[int]] = {}
    for key, offset in zip(keys.tolist(), offsets.tolist(), strict=True):
        found.setdefault(key_text(key), []).append(offset)
    return found
