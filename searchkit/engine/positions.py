"""Where words sit in a few posts: the positions a phrase or a typed string is checked with,
read for all its words together (a segment's postings share one mapped file, decoded in one
numpy pass)."""

from __future__ import annotations

from itertools import accumulate

import numpy as np

from .postings import decode_many


class WordPositions:
    """One word's positions in a few posts: ``posts`` (indexes among them, in order) hold
    it, ``rows`` are those posts' postings of its term, ``keys`` each position as
    ``(post << 32 | position)``, in order."""

    __slots__ = ("posts", "rows", "keys")

    def __init__(self, posts: np.ndarray, rows: np.ndarray, keys: np.ndarray):
        self.posts, self.rows, self.keys = posts, rows, keys


class Positions:
    """The positions of words (``(field, word)``) in some posts (``posts``, in order), read
    for all the words together: a segment's postings share one mapped file, and every
    word's positions in it are decoded in one numpy pass, those kept inline in another
    (a posting at a time, the Python work per posting outweighed the decoding)."""

    def __init__(self, posts: np.ndarray, words: list, postings):
        """``postings(field, word)`` gives a word's postings over the index, or None."""
        self.posts = posts
        self.of: dict = {}
        held = []
        # buffer id -> [buffer, starts, stops, how many so far]; the inline values; and per
        # word, in the order of its segments, (group, first, how many) of its postings
        groups: dict = {}
        inline: list[bytes] = []
        pieces: dict = {}
        for key in words:
            term = postings(key[0], key[1])
            if term is None:
                continue
            where = np.flatnonzero(members(term.ids, posts))
            rows = np.searchsorted(term.ids, posts[where])
            held.append((key, where, rows))
            mine = pieces[key] = []
            bounds = np.searchsorted(rows, term.starts).tolist()
            for n, part in enumerate(term.parts):
                lo, hi = bounds[n], bounds[n + 1]
                if lo == hi:
                    continue
                found = part.position_spans(rows[lo:hi] - term.starts[n])
                if found is None:
                    found = [b""] * (hi - lo)
                if isinstance(found, list):
                    mine.append((None, len(inline), hi - lo))
                    inline.extend(found)
                    continue
                buffer, starts, stops = found
                group = groups.setdefault(id(buffer), [buffer, [], [], 0])
                mine.append((id(buffer), group[3], hi - lo))
                group[1].append(starts)
                group[2].append(stops)
                group[3] += hi - lo
        decoded = {}  # group -> (counts, where each posting's positions start, positions)
        for name, (buffer, starts, stops, _) in groups.items():
            data = np.frombuffer(buffer, dtype=np.uint8)
            decoded[name] = _decoded(data, np.concatenate(starts), np.concatenate(stops))
        if inline:
            sizes = np.fromiter(map(len, inline), dtype=np.int64, count=len(inline))
            stops = np.cumsum(sizes)
            data = np.frombuffer(b"".join(inline), dtype=np.uint8)
            decoded[None] = _decoded(data, stops - sizes, stops)
        for key, where, rows in held:
            counts, positions = [], []
            for name, first, many in pieces[key]:
                group_counts, begins, group_positions = decoded[name]
                counts.append(group_counts[first : first + many])
                positions.append(group_positions[begins[first] : begins[first + many]])
            counts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
            positions = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
            keys = (np.repeat(where, counts) << 32) | positions
            self.of[key] = WordPositions(where, rows, keys)


def _decoded(data: np.ndarray, starts: np.ndarray, stops: np.ndarray):
    """:func:`decode_many`, with where each posting's positions begin (and the end) as
    Python numbers."""
    counts, positions = decode_many(data, starts, stops)
    return counts, [0, *accumulate(counts.tolist())], positions


def members(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Which of ``wanted`` (sorted) are in ``ids`` (sorted): binary search, O(k log n)."""
    if not len(ids):
        return np.zeros(len(wanted), dtype=bool)
    at = np.searchsorted(ids, wanted)
    at[at == len(ids)] = len(ids) - 1
    return ids[at] == wanted
