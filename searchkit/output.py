"""Every result to text and JSON: what people read in a terminal and what scripts parse.

The command line hands each result (:class:`SearchResult`, :class:`SimilarResult`,
:class:`IndexStats`, :class:`StoredPost`, :class:`IndexReport`) to :func:`emit` with a
:class:`Format`; nothing else prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import click

from .errors import OutputError
from .highlight import Snippet
from .results import DupeReport, Hit, IndexReport, SearchResult, SimilarResult
from .stats import IndexStats, StoredPost
from .trend import Trend

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


#: Marks that reorder the text around them (right-to-left overrides, isolates): a title or a
#: file name holding U+202E would print its line backwards.
_CONTROLS.update(
    dict.fromkeys(
        [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)], "\ufffd"
    )
)
#: In a file name every control and reordering mark is shown as its escape, as ``ls`` does.
_NAME_ESCAPES = {
    code: ("\\n" if code == 0x0A else "\\t" if code == 0x09 else f"\\u{code:04x}")
    for code in [*_CONTROLS, 0x0A, 0x09, 0x2028, 0x2029]
}


def printable(text: str) -> str:
    """``text`` safe to print on a terminal, one character for one."""
    return text.translate(_CONTROLS)


def printable_path(path: str) -> str:
    """A post's path (its id) on one line of a terminal: controls, line breaks and
    reordering marks in a file name shown as escapes (``\\n``, ``\\u202e``)."""
    return path.translate(_NAME_ESCAPES)


def use_color(no_color: bool, stream=None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` or ``--no-color`` says so."""
    stream = stream or sys.stdout
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


@dataclass(frozen=True)
class Format:
    """How a result is printed: one JSON object, one JSON line per hit, or text (coloured
    or not, paged or not)."""

    json: bool = False
    jsonl: bool = False
    color: bool = False
    pager: bool = False
    csv: bool = False


def to_json(value) -> str:
    """One line of JSON, Chinese as is; the characters that a reader splitting lines
    (Python's ``splitlines``, JavaScript) takes for line ends are escaped."""
    text = json.dumps(value, ensure_ascii=False)
    if "\u2028" in text or "\u2029" in text or "\x85" in text:
        text = text.translate(_LINE_ENDS)
    return text


_LINE_ENDS = {0x2028: "\\u2028", 0x2029: "\\u2029", 0x85: "\\u0085"}


def emit(value, fmt: Format) -> None:
    """Print ``value`` on standard output as ``fmt`` says."""
    with writing_output():
        _emit(value, fmt)


@contextlib.contextmanager
def writing_output():
    """Turn a failed write to standard output (a full disk, ``> /dev/full``) into one clear
    error; a closed pipe (``| head``) goes on as it is, to end quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutputError(
                f"cannot write the results: the disk is full ({exc.strerror})"
            ) from exc
        if exc.errno in (errno.EIO, errno.EFBIG, errno.EPIPE, errno.EINVAL, errno.EROFS):
            raise OutputError(f"cannot write the results: {exc.strerror}") from exc
        raise


def _emit(value, fmt: Format) -> None:
    if fmt.json:
        click.echo(to_json(to_data(value)))
    elif fmt.csv:
        for line in csv_lines(value):
            click.echo(line)
    elif fmt.jsonl:
        data = to_data(value)
        for hit in data["hits"]:
            click.echo(to_json(hit))
        if data.get("facets") is not None:  # asked for: a last line of its own
            click.echo(to_json({"facets": data["facets"]}))
        if data.get("missing"):
            click.echo(f"searchkit: no post holds: {' '.join(data['missing'])}", err=True)
        if data.get("counted") == "some":
            click.echo(
                "searchkit: no post holds every word; showing posts with some of them", err=True
            )
    else:
        lines = text_lines(value, fmt.color)
        if fmt.pager:
            # less shows colours and quits on a short page only when asked (git sets the same)
            os.environ.setdefault("LESS", "FRX")
            click.echo_via_pager((line + "\n" for line in lines), color=fmt.color)
        else:
            for line in lines:
                click.echo(line, color=fmt.color)


def to_data(value) -> dict:
    """The JSON form of a result (see the README for each shape)."""
    if isinstance(value, SearchResult):
        return result_to_dict(value)
    if isinstance(value, SimilarResult):
        data = result_to_dict(value.result)
        return {
            "path": value.path,
            "terms": [{"term": term, "weight": weight} for term, weight in value.terms],
            "total": data["total"],
            "took_ms": data["took_ms"],
            "hits": data["hits"],
        }
    if isinstance(value, IndexStats):
        return dataclasses.asdict(value)
    if isinstance(value, StoredPost):
        data = dataclasses.asdict(value)
        if value.highlights is None:
            del data["highlights"]
        else:
            data["highlights"] = [list(span) for span in value.highlights]
        return data
    if isinstance(value, IndexReport):
        return value.to_dict()
    if isinstance(value, (Trend, DupeReport)):
        return dataclasses.asdict(value)
    raise TypeError(f"no JSON form for {type(value).__name__}")


def text_lines(value, color: bool = False, width: int | None = None) -> Iterator[str]:
    """The text form of a result, line by line."""
    if isinstance(value, SearchResult):
        return render_hits(value, color, width)
    if isinstance(value, SimilarResult):
        return _similar_lines(value, color, width)
    if isinstance(value, IndexStats):
        return _stats_lines(value)
    if isinstance(value, StoredPost):
        return _post_lines(value, color)
    if isinstance(value, IndexReport):
        return report_lines(value)
    if isinstance(value, Trend):
        return trend_lines(value, color, width)
    if isinstance(value, DupeReport):
        return dupe_lines(value, color)
    raise TypeError(f"no text form for {type(value).__name__}")


def dupe_lines(report: DupeReport, color: bool = False) -> Iterator[str]:
    """Each group of near-duplicates, largest first: its posts oldest first, the first
    marked as the original."""
    for number, posts in enumerate(report.groups, 1):
        head = f"{number}. {len(posts)} posts: {posts[0].title or printable_path(posts[0].path)}"
        yield TITLE_STYLE + printable(head) + RESET if color else printable(head)
        for index, post in enumerate(posts):
            mark = "*" if index == 0 else " "
            yield printable(f"   {mark} {(post.date or '')[:10]:<10}  {printable_path(post.path)}")
        yield ""
    shown = "" if len(report.groups) == report.group_count else f"{len(report.groups)} of "
    summary = (
        f"{shown}{report.group_count} groups of near-duplicates, {report.in_groups} of "
        f"{report.posts} posts (similarity >= {report.threshold:g}; * the oldest) "
        f"({report.took_ms:.0f} ms)"
    )
    yield DIM_STYLE + summary + RESET if color else summary


def csv_lines(trend: Trend) -> Iterator[str]:
    """A trend as CSV: a header (``period`` and each query), then one row per period."""
    import csv
    import io

    if not isinstance(trend, Trend):
        raise TypeError(f"no CSV form for {type(trend).__name__}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["period", *(series.query for series in trend.series)])
    for row, period in enumerate(trend.periods):
        writer.writerow([period, *(series.counts[row] for series in trend.series)])
    yield from buffer.getvalue().splitlines()


#: Each query's colour in a trend chart, and its block without colour.
_SERIES_STYLES = ("\x1b[36m", "\x1b[33m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[31m")
_SERIES_BLOCKS = "█▓▒░"
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _columns() -> int:
    """The terminal's width (shutil imported here: a JSON search has no use for it)."""
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def trend_lines(trend: Trend, color: bool = False, width: int | None = None) -> Iterator[str]:
    """A bar chart: one row per period, a bar per query (stacked, told apart by colour on a
    terminal and by shade without), scaled to the terminal's width; a legend first when
    there are several queries, and the totals last."""
    width = width or min(_columns(), 160)
    several = len(trend.series) > 1

    def paint(number: int, text: str) -> str:
        if not color or not text:
            return text
        return _SERIES_STYLES[number % len(_SERIES_STYLES)] + text + RESET

    def block(number: int) -> str:
        return "█" if color else _SERIES_BLOCKS[number % len(_SERIES_BLOCKS)]

    if several:
        yield "  ".join(
            paint(n, block(n)) + " " + printable(s.query) for n, s in enumerate(trend.series)
        )
    rows = list(zip(*(s.counts for s in trend.series), strict=True)) if trend.series else []
    label_width = max((len(p) for p in trend.periods), default=0)
    counts_text = [" · ".join(str(c) for c in row) for row in rows]
    counts_width = max((len(t) for t in counts_text), default=1)
    room = max(width - label_width - counts_width - 3, 10)
    peak = max((sum(row) for row in rows), default=0) or 1
    for period, row, text in zip(trend.periods, rows, counts_text, strict=True):
        if several:
            bar = "".join(
                paint(n, block(n) * (max(1, round(c / peak * room)) if c else 0))
                for n, c in enumerate(row)
            )
            used = sum(max(1, round(c / peak * room)) if c else 0 for c in row)
        else:
            eighths = round(row[0] / peak * room * 8)
            whole, part = divmod(eighths, 8)
            if row[0] and not eighths:
                part = 1  # a count above zero always shows
            bar = paint(0, "█" * whole + (_EIGHTHS[part] if part else ""))
            used = whole + (1 if part else 0)
        yield f"{period:<{label_width}} {bar}{' ' * max(room - used, 0)} {text:>{counts_width}}"
    for s in trend.series:
        undated = f", {s.undated} without a date" if s.undated else ""
        plural = "" if s.total == 1 else "s"
        yield printable(f"{s.query}: {s.total} post{plural}{undated}")
    summary = f"by {trend.by}, {len(trend.periods)} periods ({trend.took_ms:.0f} ms)"
    yield DIM_STYLE + summary + RESET if color else summary


def batch_line(qid: str, result: SearchResult | Exception) -> str:
    """One JSON line of ``--batch`` output: a query's hits, or why it failed."""
    if isinstance(result, Exception):
        return to_json({"qid": qid, "error": str(result)})
    return to_json({"qid": qid, **result_to_dict(result)})


def report_lines(report: IndexReport) -> Iterator[str]:
    """What an ``index`` run did: each skipped or warned file, then a summary."""
    for problem in report.skipped + report.warnings:
        label = "skipped" if problem.skipped else "warning"
        yield printable(f"{label}: {printable_path(problem.path)}: {problem.reason}")
    yield (
        f"{report.documents} posts in {report.index}: {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.deleted} deleted, "
        f"{len(report.skipped)} skipped ({report.seconds:.1f} s)"
    )


def _similar_lines(similar: SimilarResult, color: bool, width: int | None) -> Iterator[str]:
    yield printable("terms: " + " ".join(term for term, _ in similar.terms))
    yield from render_hits(similar.result, color, width)


def _stats_lines(stats: IndexStats) -> Iterator[str]:
    yield (
        f"{stats.documents} posts in {stats.index} "
        f"({stats.size_bytes / 1e6:.1f} MB), last indexed {stats.last_indexed}"
    )
    if stats.first_date:
        yield f"dates: {stats.first_date[:10]} to {(stats.last_date or '')[:10]}"
    for name in ("categories", "tags", "years"):
        items = list(getattr(stats, name).items())[:10]
        if items:
            yield printable(f"{name}: " + "  ".join(f"{k} {v}" for k, v in items))
    yield "analyzer: " + ", ".join(f"{k}={v}" for k, v in stats.analyzer.items())


def _post_lines(post: StoredPost, color: bool) -> Iterator[str]:
    yield printable(post.title)
    meta = [post.date or "", " ".join(post.categories), " ".join(post.tags), post.url or ""]
    yield printable("  ".join(part for part in meta if part))
    yield ""
    text = printable(post.text)
    yield (
        Snippet(text, post.highlights).marked(MATCH_STYLE, RESET)
        if (color and post.highlights)
        else text
    )


def hit_to_dict(hit: Hit) -> dict:
    out = {
        "rank": hit.rank,
        "score": hit.score,
        "path": hit.path,
        "file": hit.file,
        "title": hit.title,
        "date": hit.date,
        "categories": hit.categories,
        "tags": hit.tags,
        "url": hit.url,
        "snippet": hit.snippet.marked(),
        "highlights": [list(span) for span in hit.snippet.highlights],
    }
    if hit.duplicates is not None:
        out["duplicates"] = hit.duplicates
    return out


def result_to_dict(result: SearchResult) -> dict:
    out = {
        "query": result.query,
        "total": result.total,
        "took_ms": result.took_ms,
        "hits": [hit_to_dict(hit) for hit in result.hits],
    }
    if result.facets is not None:
        out["facets"] = result.facets
    if result.collapsed is not None:
        out["collapsed"] = result.collapsed
    out["missing"] = list(result.missing)
    out["counted"] = result.counted
    if result.suggestion is not None:
        out["suggestion"] = result.suggestion
    if result.searched is not None:
        out["searched"] = result.searched
    if result.synonyms:
        out["synonyms"] = result.synonyms
    return out


def display_width(text: str) -> int:
    from wcwidth import wcwidth  # text output only: JSON and paths do without it

    return sum(max(wcwidth(ch), 0) for ch in text)


#: What may not open a line in Chinese typesetting (closing punctuation and marks that
#: belong to the word before): such a character takes the last character of the line
#: before with it.
NO_LINE_START = frozenset("。，、：；！？）」』》〉】〕”’…—%,.:;!?)]}")


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` terminal columns (a CJK character takes two), never opening
    with closing punctuation: where ``…仍有9%至10%`` fills a line, ``。`` takes ``0%`` with it
    (``…仍有9%至1`` / ``0%。``)."""
    from wcwidth import wcwidth

    lines, line, used = [], [], 0
    for ch in text:
        w = max(wcwidth(ch), 0)
        if used + w > width and line:
            carried: list[str] = []
            while ch in NO_LINE_START and len(line) > 1 and line[-1] in NO_LINE_START:
                carried.insert(0, line.pop())  # a run of closing marks moves as one
            if ch in NO_LINE_START and len(line) > 1:
                carried.insert(0, line.pop())
            lines.append("".join(line))
            line = carried
            used = sum(max(wcwidth(c), 0) for c in line)
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
    width = width or min(_columns(), 120)
    indent = " " * 5
    yield from (printable(line) for line in meant_lines(result))
    for hit in result.hits:
        title = printable(hit.title or printable_path(hit.path))
        title = _styled(title, hit.title_highlights, MATCH_STYLE, color)
        if color:
            title = TITLE_STYLE + title + RESET
        yield f"{hit.rank:>3}. {title}"
        meta = "  ".join(
            part
            for part in ((hit.date or "")[:10], " ".join(hit.categories), printable_path(hit.path))
            if part
        )
        meta = printable(meta)
        yield indent + (DIM_STYLE + meta + RESET if color else meta)
        for line in _wrap_marked(hit.snippet, max(width - len(indent), 20), color):
            yield indent + line
        if hit.duplicates:
            shown = (printable_path(path) for path in hit.duplicates[:3])
            similar = f"+{len(hit.duplicates)} similar: " + "  ".join(shown)
            similar += "  ..." if len(hit.duplicates) > 3 else ""
            yield indent + (DIM_STYLE + printable(similar) + RESET if color else printable(similar))
        yield ""
    if result.facets:
        yield from render_facets(result.facets)
    if result.missing:
        yield printable(f"no post holds: {' '.join(result.missing)}")
    if result.counted == "some":
        yield "no post holds every word; showing posts with some of them"
    shown = f"{result.hits[0].rank}-{result.hits[-1].rank}" if result.hits else "0"
    folded = f", {result.collapsed} similar folded" if result.collapsed else ""
    summary = f"{shown} of {result.total} hits ({result.took_ms:.0f} ms{folded})"
    yield DIM_STYLE + summary + RESET if color else summary


def meant_lines(result: SearchResult) -> list[str]:
    """What was done to the query as typed, one line each, above the hits."""
    lines = []
    if result.searched:
        lines.append(
            f"showing results for {result.searched}; search {result.query} instead: "
            f"searchkit search --exact {result.query}"
        )
    elif result.suggestion:
        lines.append(f"did you mean {result.suggestion}?")
    for word, others in result.synonyms.items():
        lines.append(f"{word} also finds: {' '.join(others)} (--exact: only {word})")
    return lines + ([""] if lines else [])


def render_facets(facets: dict[str, dict[str, int]], top: int = 10) -> Iterator[str]:
    for name, counts in facets.items():
        if not counts:
            continue
        items = list(counts.items())[:top]
        more = f"  (+{len(counts) - top} more)" if len(counts) > top else ""
        yield f"{name}: " + "  ".join(f"{key} {count}" for key, count in items) + more
    yield ""
