"""The load tier of ``make bench``: ``searchkit serve`` over zh-news, 8 concurrent clients.

Each client sends keyword and headline queries one after another; the tier reports the
requests a second, p50 / p95 latency and every failed request (there should be none)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from benchmarks.bench import percentile

CLIENTS = 8


def measure(index: Path, queries: list[str], per_client: int = 40) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    searchkit = str(Path(sys.executable).with_name("searchkit"))
    server = subprocess.Popen(
        [searchkit, "serve", "--index", str(index), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/search?"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "q=x", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        times: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def client(number: int) -> None:
            for i in range(per_client):
                query = queries[(number * per_client + i) % len(queries)]
                url = base + urllib.parse.urlencode({"q": query, "limit": 10})
                started = time.perf_counter()
                error = ""
                try:
                    with urllib.request.urlopen(url, timeout=60) as response:
                        json.loads(response.read())
                        if response.status != 200:
                            error = f"status {response.status}"
                except Exception as exc:  # noqa: BLE001 - every failure is reported
                    error = f"{type(exc).__name__}: {exc}"
                with lock:
                    times.append((time.perf_counter() - started) * 1000)
                    if error:
                        failures.append(error)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "requests": len(times),
        "per_second": len(times) / seconds,
        "p50": percentile(times, 0.5),
        "p95": percentile(times, 0.95),
        "failures": failures,
    }


def render(row: dict) -> str:
    return (
        f"| {CLIENTS} clients, {row['requests']} searches over zh-news | "
        f"{row['per_second']:.1f} a second | {row['p50']:.0f} / {row['p95']:.0f} ms | "
        f"{len(row['failures'])} |"
    )
