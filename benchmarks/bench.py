"""make bench: searchkit against the textbook peer, on the real posts and a generated archive.

For each corpus: full build (time, Mchar/s, peak memory), incremental update of one changed
post, cold CLI query (median of subprocess runs), warm p50/p95 with snippets, index size over
corpus size. Every figure beside the peer's, with the ratio. Writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SEARCHKIT = str(BIN / "searchkit")
WORK = HERE / "work"


def corpus_stats(root: Path) -> tuple[int, int, int]:
    files = [p for p in root.rglob("*.md")]
    size = sum(p.stat().st_size for p in files)
    chars = sum(len(p.read_text("utf-8", errors="replace")) for p in files)
    return len(files), size, chars


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pick_queries(root: Path, count: int, seed: int = 7) -> list[str]:
    """Keyword queries: one or two words of post titles, segmented by jieba."""
    import jieba

    rng = random.Random(seed)
    titles = []
    for path in sorted(root.rglob("*.md"))[:5000]:
        for line in path.read_text("utf-8", errors="replace").splitlines()[:8]:
            if line.startswith("title:"):
                titles.append(line[6:].strip().strip('"'))
    words = sorted({w for t in titles for w in jieba.cut(t) if len(w) >= 2 and w.isalnum()})
    queries = []
    while len(queries) < count:
        n = rng.choice((1, 1, 2))
        queries.append(" ".join(rng.sample(words, n)))
    return queries


PEER_BUILD = "import sys; sys.path.insert(0, {root!r}); from benchmarks.peer import build_peer; from pathlib import Path; build_peer(Path({corpus!r}), Path({out!r}))"
PEER_UPDATE = """
import sys, frontmatter
from jieba.analyse import ChineseAnalyzer
from whoosh import index
ix = index.open_dir({out!r})
post = frontmatter.load({path!r})
w = ix.writer()
w.update_document(path={rel!r}, title=str(post.get('title') or ''), content=post.content)
w.commit()
"""


def bench_corpus(name: str, corpus: Path, queries: list[str], cold_runs: int) -> dict:
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.measure import peak_rss, percentile
    from benchmarks.scale import warm as warm_times

    ours_ix, peer_ix = WORK / f"{name}-ours", WORK / f"{name}-peer"
    shutil.rmtree(ours_ix, ignore_errors=True)
    shutil.rmtree(peer_ix, ignore_errors=True)
    files, size, chars = corpus_stats(corpus)
    row: dict = {"corpus": name, "posts": files, "mbytes": size / 1e6, "mchars": chars / 1e6}
    print(f"[{name}] {files} posts, {size / 1e6:.1f} MB", file=sys.stderr)

    row["build"] = peak_rss([SEARCHKIT, "index", str(corpus), "--index", str(ours_ix)])
    peer_code = PEER_BUILD.format(root=str(HERE.parent), corpus=str(corpus), out=str(peer_ix))
    row["peer_build"] = peak_rss([sys.executable, "-c", peer_code])
    print(f"[{name}] builds done", file=sys.stderr)

    victim = sorted(corpus.rglob("*.md"))[files // 2]
    original = victim.read_bytes()
    try:
        victim.write_bytes(original + "\n<p>更新：本文补充了一段新的内容。</p>\n".encode())
        row["update"] = peak_rss([SEARCHKIT, "index", str(corpus), "--index", str(ours_ix)])
        rel = os.path.relpath(victim, corpus)
        code = PEER_UPDATE.format(out=str(peer_ix), path=str(victim), rel=rel)
        row["peer_update"] = peak_rss([sys.executable, "-c", code])
    finally:
        victim.write_bytes(original)
        subprocess.run(
            [SEARCHKIT, "index", str(corpus), "--index", str(ours_ix)], capture_output=True
        )

    cold, peer_cold = [], []
    for query in queries[:cold_runs]:
        started = time.perf_counter()
        subprocess.run(
            [SEARCHKIT, "search", query, "--index", str(ours_ix), "--json"], capture_output=True
        )
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(HERE / "peer_query.py"), str(peer_ix), query], capture_output=True
        )
        peer_cold.append(time.perf_counter() - started)
    row["cold"], row["peer_cold"] = statistics.median(cold), statistics.median(peer_cold)

    warm = warm_times(ours_ix, "arrays", queries, warmup=20)
    peer_warm = peer_warm_times(peer_ix, queries)
    row["warm"] = (percentile(warm, 0.5), percentile(warm, 0.95))
    row["peer_warm"] = (percentile(peer_warm, 0.5), percentile(peer_warm, 0.95))
    row["size"] = folder_bytes(ours_ix) / size
    row["peer_size"] = folder_bytes(peer_ix) / size
    return row


_PEER_WARM = """
import json, sys, time
from benchmarks.peer import PeerSearcher
peer = PeerSearcher(sys.argv[1])
queries = json.loads(sys.stdin.read())
times = []
for query in queries:
    started = time.perf_counter()
    peer.search(query, snippets=True)
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps(times))
"""


def peer_warm_times(index: Path, queries: list[str]) -> list[float]:
    """The peer's warm query times, measured in a process of its own: searchkit, imported
    here, reads pickles only of the classes its own indexes hold, and the peer's index holds
    jieba's analyzer."""
    done = subprocess.run(
        [sys.executable, "-c", _PEER_WARM, str(index)],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        check=True,
        cwd=str(HERE.parent),
    )
    return json.loads(done.stdout)


def render(rows: list[dict]) -> str:
    lines = [
        "| corpus | measure | searchkit | peer | ratio (peer / searchkit) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        c = f"{r['corpus']} ({r['posts']} posts, {r['mbytes']:.1f} MB)"
        b, pb = r["build"][0], r["peer_build"][0]
        lines += [
            f"| {c} | full build | {b:.1f} s ({r['mchars'] / b:.2f} Mchar/s) | {pb:.1f} s ({r['mchars'] / pb:.2f} Mchar/s) | {pb / b:.1f}x faster |",
            f"| | update of one post (CLI run) | {r['update'][0]:.2f} s | {r['peer_update'][0]:.2f} s | {r['peer_update'][0] / r['update'][0]:.1f}x |",
            f"| | cold CLI query (median, JSON) | {r['cold'] * 1000:.0f} ms | {r['peer_cold'] * 1000:.0f} ms | {r['peer_cold'] / r['cold']:.1f}x faster |",
            f"| | warm query p50 / p95, snippets | {r['warm'][0]:.1f} / {r['warm'][1]:.1f} ms | {r['peer_warm'][0]:.1f} / {r['peer_warm'][1]:.1f} ms | {r['peer_warm'][1] / r['warm'][1]:.1f}x (p95) |",
            f"| | index size / corpus size | {r['size']:.2f}x | {r['peer_size']:.2f}x | {r['size'] / r['peer_size']:.2f} of the peer's |",
            f"| | peak memory of the build | {r['build'][1]:.0f} MiB | {r['peer_build'][1]:.0f} MiB | |",
        ]
    return "\n".join(lines)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--posts", type=int, default=30000, help="size of the generated archive")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument(
        "--scale",
        default="20000,200000",
        help="sizes of the scale tier, comma-separated ('' to skip it)",
    )
    parser.add_argument("--scale-keywords", type=int, default=300)
    parser.add_argument("--scale-headlines", type=int, default=200)
    parser.add_argument(
        "--large",
        type=int,
        default=0,
        help="only the large tier (make bench-large): this many posts beside the 200,000 of "
        "the last make bench on this machine",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    if args.large:
        return large(Path(args.shared), args.large, args.scale_keywords, args.scale_headlines)
    from benchmarks.generate import generate

    shared = Path(args.shared)
    real = shared / "eval" / "zh-qa" / "posts"
    if not real.is_dir():
        print(f"bench: {real} not found", file=sys.stderr)
        return 2
    WORK.mkdir(exist_ok=True)
    copy = WORK / "zh-qa-posts"  # a working copy: the update measure edits one post
    if not copy.is_dir():
        shutil.copytree(real, copy)
    real = copy
    generated = generate(WORK / f"gen-{args.posts}", args.posts, [real, shared / "corpora"])
    rows = []
    for name, corpus in (("zh-qa", real), (f"generated-{args.posts}", generated)):
        queries = pick_queries(corpus, args.queries)
        rows.append(bench_corpus(name, corpus, queries, args.cold_runs))
    table = render(rows)
    report = (
        "# Benchmark results\n\n"
        f"Measured by `make bench` on {time.strftime('%Y-%m-%d')}; machine: {machine()}.\n"
        "Peer: Whoosh + jieba.analyse.ChineseAnalyzer + python-frontmatter, one writer, "
        "MultifieldParser(title, content) with OR grouping. Ratios matter; absolute times drift.\n\n"
        + table
        + "\n"
    )
    sizes = [int(n) for n in args.scale.split(",") if n.strip()]
    if sizes:
        from benchmarks import scale

        scale_rows = [
            scale.bench_size(n, shared, args.scale_keywords, args.scale_headlines, peer_share=4)
            for n in sizes
        ]
        # for make bench-large: its tier beside this run's largest
        (WORK / SCALE_ROWS).write_text(json.dumps(scale_rows), encoding="utf-8")
        scale_table = scale.render(scale_rows)
        anchor_table = scale.render_anchor(scale_rows)
        print(scale_table)
        print(anchor_table)
        print(json.dumps(scale_rows, default=str), file=sys.stderr)
        report += (
            "\n## Scale\n\n"
            "The generated archive (sentences of the real posts, short posts) at each size. "
            "Peer: searchkit's previous engine, Whoosh's matchers over the same index "
            "(the tests' reference engine), on a quarter of the queries.\n\n" + scale_table + "\n"
            "\n### Beside the tantivy anchor\n\n"
            "The lean tantivy anchor (`../shared/bench/tantivy_anchor.py`, run by "
            "`benchmarks/anchor.py`): tantivy-py over the same posts and queries, analysed as "
            "searchkit's words (OpenCC t2s, rjieba search mode, character pairs of the Han "
            "runs), title and text stored only.\n\n" + anchor_table + "\n"
        )
    news = shared / "eval" / "zh-news"
    if news.is_dir():
        from benchmarks import load
        from searchkit.serve import default_workers

        news_index = WORK / "zh-news-index"
        subprocess.run(
            [SEARCHKIT, "index", str(news / "posts"), "--index", str(news_index), "--rebuild"],
            check=True,
            capture_output=True,
        )
        lines = (news / "queries" / "headlines.tsv").read_text("utf-8").splitlines()
        headlines = [line.split("\t", 1)[1] for line in lines[:: max(1, len(lines) // 200)]]
        loaded = load.measure(news_index, headlines + pick_queries(news / "posts", 100))
        load_table = load.render(loaded)
        print(load_table)
        report += (
            "\n## searchkit serve under load\n\n"
            f"One server process over the zh-news index ({default_workers()} worker processes): "
            f"{load.CLIENTS} clients each sending headline and keyword queries to `/api/search` "
            f"one after another; {load.BURST} queries sent at once; {load.BURST} connections "
            "that send half a request and stop.\n\n" + load_table + "\n"
        )
    from benchmarks import hostile

    hostile_table = hostile.render(hostile.measure(str(HERE.parent)))
    print(hostile_table)
    report += (
        "\n## Hostile posts\n\n"
        "Each shape of post at doubling sizes, read (bytes to text, front matter and all) in a "
        "process of its own: time and peak memory of the process.\n\n" + hostile_table + "\n"
    )
    (HERE / "RESULTS.md").write_text(report, encoding="utf-8")
    print(table)
    print(json.dumps(rows, default=str), file=sys.stderr)
    return 0


#: The scale tier's figures of the last make bench, kept in the work folder.
SCALE_ROWS = "scale-rows.json"
BASE_TIER = 200_000


def large(shared: Path, count: int, keywords: int, headlines: int) -> int:
    """make bench-large: ``count`` generated posts (not the Whoosh peer, nor the news tools:
    the build, its memory, a search's memory, warm query times and the anchor), beside the
    200,000-post row of the last make bench on this machine (measured now when there is
    none).  Writes benchmarks/RESULTS-large.md."""
    from benchmarks import scale

    WORK.mkdir(exist_ok=True)
    base = None
    saved = WORK / SCALE_ROWS
    if saved.is_file():
        rows = json.loads(saved.read_text("utf-8"))
        base = next((row for row in rows if row["posts"] == BASE_TIER), None)
    source = "the last `make bench` on this machine"
    if base is None:
        source = "measured in this run"
        base = scale.bench_size(BASE_TIER, shared, keywords, headlines, None, news=False)
    row = scale.bench_size(count, shared, keywords, headlines, None, news=False)
    rows = [base, row]
    table, anchor_table = scale.render(rows), scale.render_anchor(rows)
    print(table)
    print(anchor_table)
    print(json.dumps(rows, default=str), file=sys.stderr)
    report = (
        "# Benchmark results: the large tier\n\n"
        f"Measured by `make bench-large` on {time.strftime('%Y-%m-%d')}; machine: {machine()}.\n"
        f"The {BASE_TIER:,}-post row is {source}. Ratios matter; absolute times drift.\n\n"
        + table
        + "\n\n### Beside the tantivy anchor\n\n"
        + anchor_table
        + "\n"
    )
    (HERE / "RESULTS-large.md").write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
