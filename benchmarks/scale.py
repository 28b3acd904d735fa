"""make bench, scale tier: the generated archive at 20,000 and 200,000 posts.

For each size: the full build (time, Mchar/s, peak memory), the update of one changed post
(the median of three edits, after the build's writes are synced),
a cold CLI query, warm p50/p95/max of keyword queries (1-3 words) and of headline-length
queries (15-30 characters), ``--batch`` queries a second, and the news tools (headline
queries with near-duplicates folded, a monthly trend, the archive's near-duplicate groups).  The peer is searchkit's own
previous engine, Whoosh's matchers over the same index (the tests' reference engine,
``tests/reference_engine.py``), measured in the same run.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import anchor
from benchmarks.measure import peak_rss, percentile

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SEARCHKIT = str(BIN / "searchkit")
WORK = HERE / "work"


def titles(root: Path, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    files = sorted(root.rglob("*.md"))
    out = []
    for path in rng.sample(files, min(count, len(files))):
        for line in path.read_text("utf-8").splitlines()[:8]:
            if line.startswith("title:"):
                out.append(line[6:].strip().strip('"'))
                break
    return out


def keyword_queries(root: Path, count: int, seed: int = 11) -> list[str]:
    """One to three words of post titles, as jieba cuts them."""
    import jieba

    rng = random.Random(seed)
    words = sorted(
        {w for t in titles(root, 3000, seed) for w in jieba.cut(t) if len(w) >= 2 and w.isalnum()}
    )
    return [" ".join(rng.sample(words, rng.choice((1, 1, 2, 3)))) for _ in range(count)]


def headline_queries(root: Path, count: int, seed: int = 13) -> list[str]:
    """Headline-length queries: 15 to 30 characters of a post's title or first sentence."""
    rng = random.Random(seed)
    files = sorted(root.rglob("*.md"))
    out = []
    for path in files[:: max(1, len(files) // (count * 3))]:
        text = path.read_text("utf-8").split("---", 2)[-1]
        text = re.sub(r"<[^>]+>", "", text)
        text = "".join(ch for ch in text if ch.isalnum() or ch in "，、。 ")
        size = rng.randint(15, 30)
        start = rng.randrange(max(1, len(text) - size))
        piece = text[start : start + size].strip()
        if len(piece) >= 15:
            out.append(piece)
        if len(out) == count:
            break
    return out


def warm(index: Path, engine: str, queries: list[str], warmup: int = 5) -> list[float]:
    """Milliseconds of each query (top 10 with snippets) from one open searcher."""
    from searchkit.search import Searcher, SearchOptions

    times = []
    with Searcher(index, engine=_engine(engine)) as searcher:
        options = SearchOptions(limit=10)
        for query in queries[:warmup]:
            searcher.search(query, options)
        for query in queries:
            started = time.perf_counter()
            searcher.search(query, options)
            times.append((time.perf_counter() - started) * 1000)
    return times


def _engine(name: str):
    """The engine a name stands for: searchkit's own (None: the default), or Whoosh's
    matchers, the reference the tests keep."""
    if name == "arrays":
        return None
    sys.path.insert(0, str(HERE.parent / "tests"))
    from reference_engine import WhooshEngine

    return WhooshEngine


def news_tools(index: Path, keywords: list[str], headlines: list[str]) -> dict:
    """The news tools, warm: headline queries with near-duplicates folded, a monthly trend
    of each keyword query, and the near-duplicate groups of the whole archive."""
    from searchkit import Index

    with Index.open(index) as ix:
        for query in headlines[:5]:
            ix.search(query, collapse=True)
        collapsed = []
        for query in headlines:
            started = time.perf_counter()
            ix.search(query, collapse=True)
            collapsed.append((time.perf_counter() - started) * 1000)
        trends = []
        for query in keywords:
            started = time.perf_counter()
            ix.trend(query, by="month")
            trends.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        report = ix.dupes()
        dupes = time.perf_counter() - started
    return {
        "collapse": (percentile(collapsed, 0.5), percentile(collapsed, 0.95), max(collapsed)),
        "trend": (percentile(trends, 0.5), percentile(trends, 0.95), max(trends)),
        "dupes": (dupes, report.group_count, report.in_groups),
    }


def batch_rate(index: Path, queries: list[str]) -> float:
    lines = "".join(f"q{i}\t{q}\n" for i, q in enumerate(queries)).encode()
    started = time.perf_counter()
    done = subprocess.run(
        [SEARCHKIT, "search", "--batch", "-", "--index", str(index)],
        input=lines,
        capture_output=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    assert done.stdout.count(b"\n") == len(queries)
    return len(queries) / seconds


def bench_size(
    count: int,
    shared: Path,
    keywords: int,
    headlines: int,
    peer_share: int | None,
    news: bool = True,
) -> dict:
    """One size of the tier; the peer (Whoosh's matchers) on ``1 / peer_share`` of the
    queries, or not at all (None); the news tools unless ``news`` is false."""
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.generate import generate

    corpus = generate(
        WORK / f"gen-{count}",
        count,
        [shared / "eval" / "zh-qa" / "posts", shared / "corpora"],
    )
    files = sorted(corpus.rglob("*.md"))
    size = sum(p.stat().st_size for p in files)
    chars = sum(len(p.read_text("utf-8")) for p in files)
    index = WORK / f"scale-{count}"
    row: dict = {"posts": len(files), "mbytes": size / 1e6, "mchars": chars / 1e6}
    print(f"[scale {count}] building", file=sys.stderr)
    row["build"] = peak_rss([SEARCHKIT, "index", str(corpus), "--index", str(index), "--rebuild"])

    victim = files[len(files) // 2]
    original = victim.read_bytes()
    os.sync()  # the build's writes on disk: the update is not measured against their flushing
    try:
        runs = []
        for number in range(3):  # three edits, the median run
            edit = f"\n<p>更新{number}：本文补充了一段新的内容。</p>\n"
            victim.write_bytes(original + edit.encode())
            runs.append(peak_rss([SEARCHKIT, "index", str(corpus), "--index", str(index)]))
        row["update"] = sorted(runs)[1]
    finally:
        victim.write_bytes(original)
        peak_rss([SEARCHKIT, "index", str(corpus), "--index", str(index)])

    keyword = keyword_queries(corpus, keywords)
    headline = headline_queries(corpus, headlines)
    cold = [
        peak_rss([SEARCHKIT, "search", q, "--index", str(index), "--json"]) for q in keyword[:7]
    ]
    row["cold"] = statistics.median(seconds for seconds, _ in cold)
    row["search_rss"] = max(rss for _, rss in cold)
    print(f"[scale {count}] queries", file=sys.stderr)
    engines = [("arrays", 1)] + ([("whoosh", peer_share)] if peer_share else [])
    for engine, share in engines:
        kw = warm(index, engine, keyword[: len(keyword) // share])
        hl = warm(index, engine, headline[: len(headline) // share])
        row[engine] = {
            "keyword": (percentile(kw, 0.5), percentile(kw, 0.95), max(kw)),
            "headline": (percentile(hl, 0.5), percentile(hl, 0.95), max(hl)),
            "means": (statistics.mean(kw), statistics.mean(hl)),
            # (the command line runs searchkit's engine only)
            "batch": batch_rate(index, headline) if engine == "arrays" else None,
            "queries": (len(kw), len(hl)),
        }
    if news:
        print(f"[scale {count}] news tools", file=sys.stderr)
        row["news"] = news_tools(index, keyword, headline)
    print(f"[scale {count}] tantivy anchor", file=sys.stderr)
    row["anchor"] = anchor_row(shared, corpus, keyword, headline)
    row["size"] = anchor.folder_bytes(index)
    return row


def anchor_row(shared: Path, corpus: Path, keyword: list[str], headline: list[str]) -> dict:
    """The lean tantivy anchor over the same posts and queries (``benchmarks/anchor.py``)."""
    out = WORK / f"anchor-{corpus.name}"
    seconds = anchor.build(shared, corpus, out)
    return {
        "build": seconds,
        "size": anchor.folder_bytes(out),
        "keyword": anchor.warm(shared, out, keyword),
        "headline": anchor.warm(shared, out, headline),
        "cold": anchor.cold(shared, out, keyword[:7]),
    }


def render_anchor(rows: list[dict]) -> str:
    """searchkit beside the tantivy anchor: the ratios the query path is measured by."""
    lines = [
        "| archive | measure | searchkit | tantivy anchor | ratio (searchkit / anchor) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        a, t = r["arrays"], r["anchor"]
        build = r["build"][0]
        lines += [
            f"| {r['posts']:,} posts | full build | {build:.0f} s | {t['build']:.0f} s "
            f"| {build / t['build']:.2f}x |",
            f"| | index size | {r['size'] / 1e6:.0f} MB | {t['size'] / 1e6:.0f} MB "
            f"| {r['size'] / t['size']:.2f}x |",
        ]
        for n, kind in enumerate(("keyword", "headline")):
            mean, p95 = a["means"][n], a[kind][1]
            tmean, tp95 = t[kind]
            lines.append(
                f"| | warm {kind} queries, mean / p95 | {mean:.1f} / {p95:.1f} ms "
                f"| {tmean:.2f} / {tp95:.2f} ms | {mean / tmean:.1f}x / {p95 / tp95:.1f}x |"
            )
        lines.append(
            f"| | cold CLI query (median) | {r['cold'] * 1000:.0f} ms "
            f"| {t['cold'] * 1000:.0f} ms | {r['cold'] / t['cold']:.2f}x |"
        )
    return "\n".join(lines)


def render(rows: list[dict]) -> str:
    lines = [
        "| archive | measure | searchkit (array engine) | Whoosh's matchers | ratio |",
        "|---|---|---|---|---|",
    ]
    first = rows[0]
    for r in rows:
        a, w = r["arrays"], r.get("whoosh")
        seconds, rss = r["build"]
        per_post = seconds / r["posts"]
        growth = per_post / (first["build"][0] / first["posts"])
        lines += [
            f"| {r['posts']:,} posts, {r['mbytes']:.0f} MB | full build | {seconds:.0f} s, "
            f"{r['mchars'] / seconds:.2f} Mchar/s, {per_post * 1000:.2f} ms a post "
            f"({growth:.2f}x the first size's), peak {rss:.0f} MiB | | |",
            f"| | update of one post (CLI run, median of 3) | {r['update'][0]:.2f} s | | |",
            f"| | cold CLI query (median, JSON) | {r['cold'] * 1000:.0f} ms"
            + (f", peak {r['search_rss']:.0f} MiB" if "search_rss" in r else "")
            + " | | |",
        ]
        for kind, label in (
            ("keyword", "keyword queries (1-3 words)"),
            ("headline", "headline queries (15-30 chars)"),
        ):
            p50, p95, top = a[kind]
            peer = "| | |"
            if w is not None:
                q50, q95, qtop = w[kind]
                peer = f"| {q50:.1f} / {q95:.1f} / {qtop:.0f} ms | {q95 / p95:.1f}x (p95) |"
            lines.append(
                f"| | warm {label} p50 / p95 / max | {p50:.1f} / {p95:.1f} / {top:.0f} ms " + peer
            )
        lines.append(f"| | `--batch` of headline queries | {a['batch']:.1f} a second | | |")
        if "news" in r:
            news = r["news"]
            (c50, c95, ctop), (t50, t95, ttop) = news["collapse"], news["trend"]
            seconds_dupes, groups, posts = news["dupes"]
            lines += [
                f"| | warm headline queries with `--collapse` p50 / p95 / max | "
                f"{c50:.1f} / {c95:.1f} / {ctop:.0f} ms | | |",
                f"| | warm `trend` of a keyword query, by month, p50 / p95 / max | "
                f"{t50:.1f} / {t95:.1f} / {ttop:.0f} ms | | |",
                f"| | `dupes` over the whole archive | {seconds_dupes:.1f} s "
                f"({groups:,} groups, {posts:,} posts) | | |",
            ]
    if len(rows) > 1:
        last = rows[-1]
        growth = [last["arrays"][k][1] / first["arrays"][k][1] for k in ("keyword", "headline")]
        lines.append(
            f"| | p95 growth {first['posts']:,} -> {last['posts']:,} posts (keyword / headline) "
            f"| {growth[0]:.1f}x / {growth[1]:.1f}x | | |"
        )
    return "\n".join(lines)
