"""Keyword queries over zh-news: two or three words, as people type them.

The set is made afresh from the shared posts, the same every run (a fixed seed): a post is
drawn, two or three words of its title are drawn (jieba's default cut, as searchkit reads a
query: words of two characters or more, no numbers, no stop words, each in the title's own
order), and the query is kept when at least ``MIN_HOLDING`` posts hold every word (so that
the posts holding them all fill a first page).  The post the words came from is the one
relevant answer: MRR@10 says how soon a person finds the story they half remember.

Beside it, the share of top-10 hits that lack one of the typed words: a hit lacks a word
when its folded title and text do not contain it (what a reader sees), for searchkit and for
the textbook peer on the same queries.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

QUERIES = 400
MIN_HOLDING = 10
SEED = 20261204
#: How many of the queries the peer answers (every n-th).
PEER_SAMPLE = 150


def make_queries(posts: Path, index: Path) -> list[tuple[str, str, list[str]]]:
    """``(qid, query, words)`` with the post each came from as ``qrels[qid]``."""
    from searchkit import Index
    from searchkit.documents import read_post
    from searchkit.query import typed_words
    from searchkit.walking import walk

    rng = random.Random(SEED)
    sources = sorted(walk([str(posts)], []), key=lambda source: source.path)
    rng.shuffle(sources)
    out = []
    with Index.open(index) as ix:
        analyzer = ix.searcher().schema["body"].analyzer
        for source in sources:
            if len(out) >= QUERIES:
                break
            post = read_post(source)
            if post.title.startswith("新闻联播"):
                continue  # a title made of the day and the story's number
            words = [
                word
                for word in typed_words(analyzer, post.title)
                if len(word) >= 2 and not any(ch.isdigit() for ch in word)
            ]
            if len(words) < 2:
                continue
            count = rng.choice((2, 3)) if len(words) >= 3 else 2
            chosen = sorted(rng.sample(range(len(words)), count))
            query = " ".join(words[i] for i in chosen)
            if ix.search(query, match="all", limit=1, snippets=False).total < MIN_HOLDING:
                continue
            out.append((f"k{len(out) + 1}", query, source.path, [words[i] for i in chosen]))
    return out


def folded_texts(posts: Path) -> dict[str, str]:
    """Each post's title and text, folded as searchkit folds them."""
    from searchkit.documents import read_post
    from searchkit.folding import fold_text
    from searchkit.walking import walk

    texts = {}
    for source in walk([str(posts)], []):
        post = read_post(source)
        texts[source.path] = fold_text(f"{post.title}\n{post.body}")
    return texts


def lacking(ranked: dict[str, list[str]], words: dict[str, list[str]], texts) -> tuple[int, int]:
    """``(hits lacking a typed word, hits)`` over the top 10 of every query."""
    bad = total = 0
    for qid, paths in ranked.items():
        for path in paths[:10]:
            total += 1
            text = texts.get(path, "")
            bad += any(word not in text for word in words[qid])
    return bad, total


def run_searchkit(searchkit: str, rows, index: Path, work: Path, match: str | None):
    batch = work / "keywords.tsv"
    batch.write_text("".join(f"{qid}\t{query}\n" for qid, query, _, _ in rows), "utf-8")
    command = [searchkit, "search", "--batch", str(batch), "--index", str(index), "--limit", "10"]
    if match:
        command.append(f"--{match}")
    proc = subprocess.run(command, capture_output=True, text=True, check=True)
    ranked = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        ranked[row["qid"]] = [hit["path"] for hit in row.get("hits", [])]
    return ranked


def report(shared: Path, work: Path, index: Path, searchkit: str, peer_dir: Path | None) -> None:
    from benchmarks.measure import metrics

    posts = shared / "eval" / "zh-news" / "posts"
    rows = make_queries(posts, index)
    relevant = {qid: path for qid, _, path, _ in rows}
    words = {qid: typed for qid, _, _, typed in rows}
    texts = folded_texts(posts)
    print(
        f"\nkeyword queries: {len(rows)} of 2-3 title words over zh-news, each held together "
        f"by at least {MIN_HOLDING} posts"
    )
    print(f"{'':<30} {'MRR@10':>8} {'Recall@10':>10} {'lacking a word':>16}")
    for label, match in (("searchkit (default)", None), ("searchkit --any", "any")):
        ranked = run_searchkit(searchkit, rows, index, work, match)
        scores = metrics(ranked, relevant)
        bad, total = lacking(ranked, words, texts)
        print(
            f"{label:<30} {scores['MRR@10']:>8.4f} {scores['Recall@10']:>10.4f} "
            f"{bad:>6} of {total:<5} {bad / max(total, 1):>5.1%}"
        )
    if peer_dir is None:
        return
    sample = rows[:: max(1, len(rows) // PEER_SAMPLE)][:PEER_SAMPLE]
    code = (
        "import json, sys\nfrom benchmarks.peer import PeerSearcher\n"
        "peer = PeerSearcher(sys.argv[1])\n"
        "for line in sys.stdin:\n    qid, query = line.rstrip('\\n').split('\\t')\n"
        "    print(json.dumps([qid, peer.search(query)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(peer_dir)],
        input="".join(f"{qid}\t{query}\n" for qid, query, _, _ in sample),
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    theirs = dict(json.loads(line) for line in proc.stdout.splitlines())
    ours = run_searchkit(searchkit, sample, index, work, None)
    subset = {qid: relevant[qid] for qid, _, _, _ in sample}
    for label, ranked in (("  sample, searchkit", ours), ("  sample, peer", theirs)):
        scores = metrics(ranked, subset)
        bad, total = lacking(ranked, words, texts)
        print(
            f"{label:<30} {scores['MRR@10']:>8.4f} {scores['Recall@10']:>10.4f} "
            f"{bad:>6} of {total:<5} {bad / max(total, 1):>5.1%}"
        )
