"""What the benchmarks and evaluations share: timing a command, percentiles, ranking metrics."""

from __future__ import annotations

import math
import os
import time


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (seconds, peak RSS MiB of the largest process in its tree)."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(cmd[0], cmd)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed")
    return seconds, usage.ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def metrics(ranked: dict[str, list[str]], relevant: dict[str, str]) -> dict[str, float]:
    mrr = recall = ndcg = first = 0.0
    for qid, doc in relevant.items():
        paths = ranked.get(qid, [])[:10]
        if doc in paths:
            rank = paths.index(doc) + 1
            mrr += 1 / rank
            recall += 1
            ndcg += 1 / math.log2(1 + rank)
            first += rank == 1
    n = len(relevant) or 1
    return {"MRR@10": mrr / n, "P@1": first / n, "Recall@10": recall / n, "nDCG@10": ndcg / n}
