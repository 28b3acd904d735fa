"""Hits to text and JSON: what people read in a terminal and what scripts parse."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator

from wcwidth import wcwidth

from .highlight import Snippet
from .search import Hit, SearchResult

MATCH_STYLE = "\x1b[1;31m"  # bold red, like grep: readable on light and dark themes
TITLE_STYLE = "\x1b[1m"
DIM_STYLE = "\x1b[2m"
RESET = "\x1b[0m"


#: C0 and C1 control characters (but line feed and tab) and DEL, each drawn as U+FFFD: a
#: post's title must not move the cursor, retitle the terminal or hide text (OSC and CSI
#: sequences start with them).  One character for one, so highlight offsets still hold.
_CONTROLS = {
    code: "\ufffd" for code in [*range(0x20), *range(0x7F, 0xA0)] if chr(code) not in "\n\t"
}


def printable(text: str) -> str:
    """``text`` safe to print on a terminal."""
    return text.translate(_CONTROLS)


def use_color(no_color: bool, stream=None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` or ``--no-color`` says so."""
    stream = stream or sys.stdout
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def to_json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def hit_to_dict(hit: Hit) -> dict:
    return {
        "rank": hit.rank,
        "score": hit.score,
        "path": hit.path,
        "title": hit.title,
        "date": hit.date,
        "categories": hit.categories,
        "tags": hit.tags,
        "url": hit.url,
        "snippet": hit.snippet.marked(),
        "highlights": [list(span) for span in hit.snippet.highlights],
    }


def result_to_dict(result: SearchResult) -> dict:
    out = {
        "query": result.query,
        "total": result.total,
        "took_ms": result.took_ms,
        "hits": [hit_to_dict(hit) for hit in result.hits],
    }
    if result.facets is not None:
        out["facets"] = result.facets
    return out


def display_width(text: str) -> int:
    return sum(max(wcwidth(ch), 0) for ch in text)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` terminal columns (a CJK character takes two)."""
    lines, line, used = [], [], 0
    for ch in text:
        w = max(wcwidth(ch), 0)
        if used + w > width and line:
            lines.append("".join(line))
            line, used = [], 0
        line.append(ch)
        used += w
    if line:
        lines.append("".join(line))
    return lines


def _styled(text: str, spans: list[tuple[int, int]], style: str, color: bool) -> str:
    if not color or not spans:
        return text
    return Snippet(text, spans).marked(style, RESET)


def _wrap_marked(snippet: Snippet, width: int, color: bool) -> list[str]:
    """Wrap a snippet by display width, keeping its highlights on each line."""
    out = []
    offset = 0
    for line in wrap(printable(snippet.text), width):
        end = offset + len(line)
        spans = [
            (max(a, offset) - offset, min(b, end) - offset)
            for a, b in snippet.highlights
            if a < end and b > offset
        ]
        out.append(_styled(line, spans, MATCH_STYLE, color))
        offset = end
    return out


def render_hits(result: SearchResult, color: bool, width: int | None = None) -> Iterator[str]:
    """Text lines for people: rank and title, then date, categories and path, then snippets."""
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 120)
    indent = " " * 5
    for hit in result.hits:
        title = printable(hit.title or hit.path)
        title = _styled(title, hit.title_highlights, MATCH_STYLE, color)
        if color:
            title = TITLE_STYLE + title + RESET
        yield f"{hit.rank:>3}. {title}"
        meta = "  ".join(
            part for part in ((hit.date or "")[:10], " ".join(hit.categories), hit.path) if part
        )
        meta = printable(meta)
        yield indent + (DIM_STYLE + meta + RESET if color else meta)
        for line in _wrap_marked(hit.snippet, max(width - len(indent), 20), color):
            yield indent + line
        yield ""
    if result.facets:
        yield from render_facets(result.facets)
    shown = f"{result.hits[0].rank}-{result.hits[-1].rank}" if result.hits else "0"
    summary = f"{shown} of {result.total} hits ({result.took_ms:.0f} ms)"
    yield DIM_STYLE + summary + RESET if color else summary


def render_facets(facets: dict[str, dict[str, int]], top: int = 10) -> Iterator[str]:
    for name, counts in facets.items():
        if not counts:
            continue
        items = list(counts.items())[:top]
        more = f"  (+{len(counts) - top} more)" if len(counts) > top else ""
        yield f"{name}: " + "  ".join(f"{key} {count}" for key, count in items) + more
    yield ""
