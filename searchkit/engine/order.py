"""The one order of results: which post comes first, for the engine and after the rewards.

A post ranks by (whether it holds every typed word, when those rank first,) its score rounded
to :data:`SCORE_DECIMALS`, its date (newer first for relevance) and its path.  The engine cuts
the first page of every match in that order (:func:`first_in_order`); the rewards reorder the
best hits by their new scores in the same order (:func:`reordered`), and which tied posts are
reranked never depends on how ties are broken (:func:`through_ties`).
"""

from __future__ import annotations

from itertools import groupby

import numpy as np

#: Scores are rounded to this many decimals: two posts a few ulps apart are tied, and the
#: total order (score, newer date, path) holds whichever way a sum was added up.
SCORE_DECIMALS = 6


def first_in_order(docnums, keys: list[np.ndarray], depth: int, scored: int, path_of) -> np.ndarray:
    """The first ``depth`` rows in the total order, and the rows tied with the last of
    them on the first ``scored`` keys (the rank a reranking sees): ``keys`` (the first
    the most significant), then the post's path (``path_of(docnum)``, read only for rows tied
    on every key)."""
    order = np.lexsort((docnums, *reversed(keys)))
    keep = min(depth, len(order))
    if not keep:
        return order[:0]
    # the rows tied with the last one kept compete for its place: take them all
    last = order[keep - 1]
    rest = order[keep:]
    tied = np.ones(len(rest), dtype=bool)
    for key in keys[:scored]:
        tied &= key[rest] == key[last]
    end = keep + (int(np.argmin(tied)) if not tied.all() else len(rest))
    head = order[:end].copy()
    changed = np.zeros(max(len(head) - 1, 0), dtype=bool)
    for key in keys:
        values = key[head]
        changed |= values[1:] != values[:-1]
    bounds = np.flatnonzero(changed) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(head)]
    for a, b in zip(starts, ends, strict=True):
        if b - a > 1:
            run = head[a:b]
            paths = [path_of(int(docnums[i])) for i in run]
            head[a:b] = run[sorted(range(b - a), key=paths.__getitem__)]
    return head  # with the rows tied with the last kept: a reranking takes them all


def through_ties(top: list[tuple[int, float]], count: int, held=None) -> int:
    """``count``, or more to take in every post ranked as the last of the first ``count``
    (its score, and whether it holds every word when ``held`` names those): which of tied
    posts are reranked must not depend on how ties are broken."""
    if count <= 0 or count >= len(top):
        return min(max(count, 0), len(top))

    def rank(row):
        return (held is not None and row[0] in held, row[1])

    last = rank(top[count - 1])
    while count < len(top) and rank(top[count]) == last:
        count += 1
    return count


def reordered(top, bonus: dict[int, float], wanted: int, keys, stored_fields, held=None):
    """The first ``wanted`` hits: ``(score plus any bonus, docnum, stored fields)``.

    ``top`` is in the total order ((holds every word,) score, newer date, path); the posts a
    bonus was given (the best ``rerank_depth``, as bonuses are never negative) are put in that
    order again by their new scores, ``keys`` giving each one's ``(date key, path)``.
    ``held`` are the posts holding every word when those rank first.
    """
    if bonus:
        moved = max(i for i, (docnum, _) in enumerate(top) if docnum in bonus) + 1
        head = [(round(score + bonus.get(d, 0.0), SCORE_DECIMALS), d) for d, score in top[:moved]]

        def rank(row):  # the posts holding every word first, when they rank first
            return (row[1] not in held, -row[0]) if held is not None else -row[0]

        head.sort(key=rank)
        runs = [list(run) for _, run in groupby(head, rank)]
        # the keys of the rows tied on score only (reading a path costs a column read)
        tied = [d for run in runs if len(run) > 1 for _, d in run]
        order = keys(tied) if tied else {}
        for run in runs:
            if len(run) > 1:
                run.sort(key=lambda row: order[row[1]])
        rows = [row for run in runs for row in run] + [(score, d) for d, score in top[moved:]]
    else:
        rows = [(score, d) for d, score in top]
    return [(score, docnum, stored_fields(docnum)) for score, docnum in rows[:wanted]]
