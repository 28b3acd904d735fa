"""make eval: retrieval quality of searchkit beside the textbook peer.

zh-qa: builds an index of its posts, runs every query set through ``searchkit search --batch``
(one process per set) and prints MRR@10, Recall@10 and nDCG@10 per set, with the peer's.

zh-news: builds an index of its 10,675 news stories and runs the 8,504 headlines through
``--batch``, split in two halves by question number (odd: the half to tune on; even: the half
that only reports), with MRR@10, P@1, Recall@10 and nDCG@10; the peer answers a fixed sample of
each half (it takes about half a second a headline), and searchkit's figures on the same sample
stand beside it.

Keyword queries: two or three words of a zh-news title (see ``keywords_eval``), with the share
of top-10 hits lacking a typed word, for searchkit and the peer.

Typed strings: quoted runs of 1-4 characters and unquoted groups of 2-3 runs from zh-news posts,
against grep over the folded posts (see ``strings_eval``).

Typed through an input method: zh-news title words as toneless pinyin, initials and with a
character of the same sound (see ``typing_eval``).

Near-duplicates: zh-news with copies and twins of its stories added, grouped by
``searchkit dupes``; the precision and recall of the grouping (see ``dupes_eval``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))


def read_qrels(path: Path) -> dict[str, str]:
    relevant = {}
    for line in path.read_text("utf-8").splitlines():
        qid, _, doc, grade = line.split()
        if int(grade) > 0:
            relevant[qid] = doc
    return relevant


def read_queries(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text("utf-8").splitlines():
        qid, _, text = line.partition("\t")
        rows.append((qid, text))
    return rows


def digest(ranked: dict[str, list[str]]) -> str:
    """A short fingerprint of every top 10 of a run: equal digests, equal result lists."""
    import hashlib

    lines = (f"{qid}\t{' '.join(ranked[qid][:10])}" for qid in sorted(ranked))
    return hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()[:12]


def build_index(posts: Path, index: Path) -> float:
    """Build searchkit's index of ``posts`` afresh; returns the seconds it took."""
    started = time.perf_counter()
    subprocess.run(
        [SEARCHKIT, "index", str(posts), "--index", str(index), "--rebuild"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def run_searchkit(queries: Path, index: Path) -> dict[str, list[str]]:
    proc = subprocess.run(
        [SEARCHKIT, "search", "--batch", str(queries), "--index", str(index), "--limit", "10"],
        capture_output=True,
        text=True,
        check=True,
    )
    ranked = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        ranked[row["qid"]] = [hit["path"] for hit in row.get("hits", [])]
    return ranked


def run_peer(queries: Path, peer, only: set[str] | None = None) -> dict[str, list[str]]:
    return {
        qid: peer.search(text) for qid, text in read_queries(queries) if only is None or qid in only
    }


#: How many headlines of each half the peer answers (every n-th, for a fixed sample).
NEWS_PEER_SAMPLE = 150


def news(shared: Path, work: Path, with_peer: bool) -> None:
    """zh-news: headline -> story, in two halves, with the peer on a sample of each."""
    from benchmarks.measure import metrics
    from benchmarks.peer import PeerSearcher, build_peer

    root = shared / "eval" / "zh-news"
    if not root.is_dir():
        print(f"\n(zh-news not found at {root}: skipped)")
        return
    index = work / "eval-news-index"
    seconds = build_index(root / "posts", index)
    print(f"\nzh-news: searchkit index built in {seconds:.1f} s")
    queries = root / "queries" / "headlines.tsv"
    relevant = read_qrels(root / "queries" / "headlines.qrels")
    started = time.perf_counter()
    ranked = run_searchkit(queries, index)
    seconds = time.perf_counter() - started
    print(
        f"zh-news: {len(ranked)} headlines in {seconds:.0f} s ({len(ranked) / seconds:.1f} a second)"
    )
    peer = None
    if with_peer:
        seconds = build_peer(root / "posts", work / "eval-news-peer")
        print(f"zh-news: peer index built in {seconds:.1f} s")
        peer = PeerSearcher(work / "eval-news-peer")
    keys = ("MRR@10", "P@1", "Recall@10", "nDCG@10")
    print()
    print(f"{'zh-news half':<26} {'queries':>8} " + " ".join(f"{k:>10}" for k in keys))
    for name, parity in (("tune (odd qids)", 1), ("held out (even qids)", 0)):
        half = {q: d for q, d in relevant.items() if int(q.lstrip("q")) % 2 == parity}
        ours = metrics(ranked, half)
        print(f"{name:<26} {len(half):>8} " + " ".join(f"{ours[k]:>10.4f}" for k in keys))
        if peer is None:
            continue
        step = max(1, len(half) // NEWS_PEER_SAMPLE)
        sample = {q: half[q] for q in sorted(half)[::step][:NEWS_PEER_SAMPLE]}
        theirs = metrics(run_peer(queries, peer, set(sample)), sample)
        same = metrics(ranked, sample)
        print(
            f"{'  sample, searchkit / peer':<26} {len(sample):>8} "
            + " ".join(f"{same[k]:.3f}/{theirs[k]:.3f}".rjust(10) for k in keys)
        )
    print(f"{'top-10 digest':<26} {digest(ranked):>8}")
    from benchmarks.keywords_eval import report

    report(shared, work, index, SEARCHKIT, work / "eval-news-peer" if with_peer else None)
    from benchmarks.strings_eval import report as strings_report

    strings_report(root / "posts", index)
    from benchmarks.typing_eval import report as typing_report

    typing_report(root / "posts", index)


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.measure import metrics
    from benchmarks.peer import PeerSearcher, build_peer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--no-peer", action="store_true", help="searchkit only (faster)")
    parser.add_argument("--reuse", action="store_true", help="keep an existing searchkit index")
    args = parser.parse_args()
    zhqa = Path(args.shared) / "eval" / "zh-qa"
    if not zhqa.is_dir():
        print(f"eval: {zhqa} not found", file=sys.stderr)
        return 2
    work = HERE / "work"
    index = work / "eval-index"
    if not (args.reuse and index.is_dir()):
        print(f"searchkit index built in {build_index(zhqa / 'posts', index):.1f} s")
    peer = None
    if not args.no_peer:
        seconds = build_peer(zhqa / "posts", work / "eval-peer")
        print(f"peer index built in {seconds:.1f} s")
        peer = PeerSearcher(work / "eval-peer")
    print()
    header = f"{'query set':<28} {'MRR@10':>14} {'Recall@10':>14} {'nDCG@10':>14}"
    print(header + ("" if peer is None else "   (searchkit / peer)") + "   top-10 digest")
    print("-" * len(header))
    for queries in sorted((zhqa / "queries").glob("*.tsv")):
        relevant = read_qrels(queries.with_name(queries.name.split(".")[0] + ".qrels"))
        ranked = run_searchkit(queries, index)
        ours = metrics(ranked, relevant)
        theirs = metrics(run_peer(queries, peer), relevant) if peer else None
        cells = []
        for key in ("MRR@10", "Recall@10", "nDCG@10"):
            cell = f"{ours[key]:.4f}"
            if theirs:
                cell += f" / {theirs[key]:.4f}"
            cells.append(f"{cell:>14}" if not theirs else f"{cell:>18}")
        print(f"{queries.stem:<28} " + " ".join(cells) + f"   {digest(ranked)}")
    news(Path(args.shared), work, with_peer=peer is not None)
    from benchmarks.dupes_eval import print_report

    print_report(Path(args.shared), work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
