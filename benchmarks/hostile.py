"""The hostile-post tier of ``make bench``: each shape of post that once took quadratic time
or unbounded memory, at doubling sizes, read in a process of its own; its time and peak
memory should double (at most) with the size."""

from __future__ import annotations

import json
import subprocess
import sys

#: Each shape, as a function of its size ``n``.
SHAPES = {
    "Liquid '{{ ' x n": lambda n: "---\ntitle: a\n---\n" + "{{ " * n,
    "'[' x n, 'x', '](x)' x n": lambda n: "---\ntitle: a\n---\n" + "[" * n + "x" + "](x)" * n,
    "'*a ' x n": lambda n: "---\ntitle: a\n---\n" + "*a " * n,
    "<div> nested n deep": lambda n: "---\ntitle: a\n---\n" + "<div>" * n + "x" + "</div>" * n,
    "n tags": lambda n: (
        "---\ntitle: a\ntags: [" + ", ".join(f"t{i}" for i in range(n)) + "]\n---\nbody"
    ),
    "title of 10n characters": lambda n: "---\ntitle: " + "长" * (10 * n) + "\n---\nbody",
}
SIZES = (20_000, 40_000, 80_000, 160_000)

_CHILD = """
import sys, time
from searchkit.documents import SourceFile, parse_post
from benchmarks.hostile import SHAPES
text = SHAPES[sys.argv[1]](int(sys.argv[2])).encode("utf-8")
start = time.perf_counter()
parse_post(text, SourceFile("", "x.md", "", len(text), 0.0))
seconds = time.perf_counter() - start
# the peak of this program's own memory (ru_maxrss would keep the bench's, across exec)
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(seconds, int(peak.split()[1]) / 1024, len(text))
"""


def measure(root: str) -> list[dict]:
    rows = []
    for shape in SHAPES:
        for n in SIZES:
            run = subprocess.run(
                [sys.executable, "-c", _CHILD, shape, str(n)],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=root,
            )
            seconds, mib, size = run.stdout.split()
            rows.append(
                {"shape": shape, "n": n, "bytes": int(size), "s": float(seconds), "mib": float(mib)}
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def render(rows: list[dict]) -> str:
    lines = [
        "| post | " + " | ".join(f"n = {n:,}" for n in SIZES) + " |",
        "|---|" + "---|" * len(SIZES),
    ]
    for shape in SHAPES:
        cells = [
            f"{r['s'] * 1000:.0f} ms, {r['mib']:.0f} MiB ({r['bytes'] / 1e6:.1f} MB)"
            for r in rows
            if r["shape"] == shape
        ]
        lines.append(f"| {shape} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
