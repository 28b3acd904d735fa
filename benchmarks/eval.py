"""make eval: retrieval quality of searchkit over ../shared/eval/zh-qa, beside the textbook peer.

Builds an index of the zh-qa posts, runs every query set through ``searchkit search --batch``
(one process per set) and prints MRR@10, Recall@10 and nDCG@10 per set, with the peer's.
"""

from __future__ import annotations

import argparse
import json
import math
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


def metrics(ranked: dict[str, list[str]], relevant: dict[str, str]) -> dict[str, float]:
    mrr = recall = ndcg = 0.0
    for qid, doc in relevant.items():
        paths = ranked.get(qid, [])[:10]
        if doc in paths:
            rank = paths.index(doc) + 1
            mrr += 1 / rank
            recall += 1
            ndcg += 1 / math.log2(1 + rank)
    n = len(relevant) or 1
    return {"MRR@10": mrr / n, "Recall@10": recall / n, "nDCG@10": ndcg / n}


def digest(ranked: dict[str, list[str]]) -> str:
    """A short fingerprint of every top 10 of a run: equal digests, equal result lists."""
    import hashlib

    lines = (f"{qid}\t{' '.join(ranked[qid][:10])}" for qid in sorted(ranked))
    return hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()[:12]


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


def run_peer(queries: Path, peer) -> dict[str, list[str]]:
    return {qid: peer.search(text) for qid, text in read_queries(queries)}


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
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
        started = time.perf_counter()
        subprocess.run(
            [SEARCHKIT, "index", str(zhqa / "posts"), "--index", str(index), "--rebuild"],
            check=True,
            capture_output=True,
        )
        print(f"searchkit index built in {time.perf_counter() - started:.1f} s")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
