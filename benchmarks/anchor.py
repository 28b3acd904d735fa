"""The tantivy anchor of ``make bench``'s scale tier: ``../shared/bench/tantivy_anchor.py``, the
lean build a user who wants speed would make instead of searchkit, run as it is.

tantivy-py over the same posts, analysed as searchkit's words are (OpenCC t2s, lower case,
rjieba's search-mode words, and the character pairs of the Han runs), two analysis processes
and one writer; title and text stored only, as bytes, so nothing is indexed twice; a window
around the first query word as the snippet.  This module only runs it: build, warm queries
in one process, and a fresh process per query for the cold figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def script(shared: Path) -> Path:
    return Path(shared).resolve() / "bench" / "tantivy_anchor.py"


def _run(shared: Path, *args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, str(script(shared)), *args], check=True, capture_output=True, text=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build(shared: Path, posts: Path, out: Path) -> float:
    """Build the anchor's index of ``posts`` afresh; returns the seconds it reports."""
    if out.exists():
        import shutil

        shutil.rmtree(out)
    return float(_run(shared, "build", str(posts), str(out))["build_s"])


def warm(shared: Path, out: Path, queries: list[str]) -> tuple[float, float]:
    """``(mean, p95)`` milliseconds of the queries in one warm process."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv", delete=False) as f:
        f.write("".join(q.replace("\n", " ") + "\n" for q in queries))
    try:
        found = _run(shared, "batch", str(out), f.name)
    finally:
        os.unlink(f.name)
    return float(found["mean_ms"]), float(found["p95_ms"])


def cold(shared: Path, out: Path, queries: list[str]) -> float:
    """The median seconds of a fresh process answering one query (as a CLI would)."""
    runs = []
    for query in queries:
        started = time.perf_counter()
        _run(shared, "cold", str(out), query)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def folder_bytes(path: Path) -> int:
    return sum(os.path.getsize(p) for p in Path(path).rglob("*") if p.is_file())
