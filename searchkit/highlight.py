"""Hits to snippets: find the query's words in the original text and cut fragments around them.

Matching runs on the normalised text (so a simplified query marks traditional characters and
full-width letters) and the offsets are mapped back, so highlights are drawn on the original.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .folding import normalize

FRAGMENT_CHARS = 96
MAX_FRAGMENTS = 3
ELLIPSIS = "…"
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


@dataclass
class Snippet:
    """Plain snippet text and the ``[start, end)`` offsets of its matched words."""

    text: str
    highlights: list[tuple[int, int]]

    def marked(self, before: str = "<mark>", after: str = "</mark>") -> str:
        out = []
        last = 0
        for start, end in self.highlights:
            out.append(self.text[last:start])
            out.append(before + self.text[start:end] + after)
            last = end
        out.append(self.text[last:])
        return "".join(out)


@lru_cache(maxsize=256)
def _pattern(terms: frozenset[str]) -> re.Pattern | None:
    alternatives = []
    for term in sorted(terms, key=len, reverse=True):
        escaped = re.escape(term)
        if term.isascii() and term[:1].isalnum():
            escaped = rf"(?<![a-z0-9]){escaped}(?![a-z0-9])"
        alternatives.append(escaped)
    return re.compile("|".join(alternatives)) if alternatives else None


def find_matches(text: str, terms: frozenset[str], fold: str = "t2s") -> list[tuple[int, int]]:
    """Merged ``[start, end)`` spans in ``text`` where any of the normalised ``terms`` occur."""
    pattern = _pattern(terms)
    if pattern is None or not text:
        return []
    norm, mapping = normalize(text, fold)
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(norm):
        start, end = match.span()
        if mapping is not None:
            start, end = mapping[start], mapping[end - 1] + 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end > start:
            bounds.append((start, end))
        start = end
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


def make_snippet(
    text: str,
    spans: list[tuple[int, int]],
    width: int = FRAGMENT_CHARS,
    fragments: int = MAX_FRAGMENTS,
) -> Snippet:
    """One to ``fragments`` pieces of ``text`` around ``spans``, cut at sentence ends."""
    if not spans:
        piece = text[:width].replace("\n", " ")
        return Snippet(piece + (ELLIPSIS if len(text) > width else ""), [])
    scored = []
    span_index = 0
    for s_start, s_end in _sentences(text):
        inside = []
        while span_index < len(spans) and spans[span_index][0] < s_end:
            if spans[span_index][1] > s_start:
                inside.append(spans[span_index])
            span_index += 1
        if inside:
            distinct = len({text[a:b] for a, b in inside})
            scored.append((distinct, len(inside), -s_start, s_start, s_end, inside))
    best = sorted(scored, reverse=True)[:fragments]
    best.sort(key=lambda item: item[3])
    pieces: list[str] = []
    highlights: list[tuple[int, int]] = []
    offset = 0
    for *_score, s_start, s_end, inside in best:
        start, end = s_start, s_end
        if end - start > width:
            start = max(s_start, inside[0][0] - width // 4)
            end = min(s_end, start + width)
        lead = ELLIPSIS if start > s_start or (not pieces and start > 0) else ""
        if pieces:
            pieces.append(" ")
            offset += 1
        raw = text[start:end]
        body = raw.rstrip("\n").replace("\n", " ")
        trail = ELLIPSIS if end < s_end else ""
        pieces.append(lead + body + trail)
        base = offset + len(lead) - start
        for a, b in inside:
            a, b = max(a, start), min(b, start + len(body))
            if a < b:
                highlights.append((a + base, b + base))
        offset += len(lead) + len(body) + len(trail)
    return Snippet("".join(pieces), highlights)
