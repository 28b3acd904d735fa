"""The load tier of ``make bench``: ``searchkit serve`` over zh-news.

Three phases against one server: 8 clients each sending keyword and headline queries one
after another (requests a second, p50 / p95); 200 requests sent at once (p95 and the
slowest); 200 connections that send half a request and stop, with a search timed while they
hang, and how many the server closed at its deadline.  Every failed request is counted
(there should be none)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from benchmarks.measure import percentile

CLIENTS = 8
#: Requests sent at once in the burst phase, and half-sent in the trickle phase.
BURST = 200
#: The server's deadline for a whole request (``serve --timeout``).
DEADLINE = 5.0


def measure(index: Path, queries: list[str], per_client: int = 40) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    searchkit = str(Path(sys.executable).with_name("searchkit"))
    server = subprocess.Popen(
        [searchkit, "serve", "--index", str(index), "--port", str(port)]
        + ["--timeout", str(DEADLINE)],
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
        burst = _burst(base, queries)
        trickle = _trickle(port, base, queries)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "requests": len(times),
        "per_second": len(times) / seconds,
        "p50": percentile(times, 0.5),
        "p95": percentile(times, 0.95),
        "failures": failures,
        "burst": burst,
        "trickle": trickle,
    }


def _get(url: str) -> str:
    """ "" or what went wrong."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            json.loads(response.read())
            return "" if response.status == 200 else f"status {response.status}"
    except Exception as exc:  # noqa: BLE001 - every failure is reported
        return f"{type(exc).__name__}: {exc}"


def _burst(base: str, queries: list[str]) -> dict:
    """:data:`BURST` requests released at once, one a thread."""
    gate = threading.Barrier(BURST)
    times: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        url = base + urllib.parse.urlencode({"q": queries[number % len(queries)], "limit": 10})
        gate.wait()
        started = time.perf_counter()
        error = _get(url)
        with lock:
            times.append((time.perf_counter() - started) * 1000)
            if error:
                failures.append(error)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(BURST)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "requests": len(times),
        "seconds": time.perf_counter() - started,
        "p95": percentile(times, 0.95),
        "slowest": max(times),
        "failures": failures,
    }


def _trickle(port: int, base: str, queries: list[str]) -> dict:
    """:data:`BURST` connections that send half a request; a search meanwhile, and how many
    of them the server closed by its deadline (and a second)."""
    hanging = []
    for _ in range(BURST):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /api/search?q=x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        hanging.append(sock)
    started = time.perf_counter()
    error = _get(base + urllib.parse.urlencode({"q": queries[0], "limit": 10}))
    meanwhile = (time.perf_counter() - started) * 1000
    time.sleep(DEADLINE + 1)
    closed = 0
    for sock in hanging:
        sock.settimeout(1)
        with contextlib.suppress(OSError):
            closed += sock.recv(1) == b""
        sock.close()
    return {"meanwhile": meanwhile, "failures": [error] if error else [], "closed": closed}


def render(row: dict) -> str:
    burst, trickle = row["burst"], row["trickle"]
    return "\n".join(
        [
            "| phase | what | latency | failed requests |",
            "|---|---|---|---|",
            f"| {CLIENTS} clients, {row['requests']} searches one after another | "
            f"{row['per_second']:.1f} a second | p50 {row['p50']:.0f} / p95 {row['p95']:.0f} ms | "
            f"{len(row['failures'])} |",
            f"| {burst['requests']} searches sent at once | all answered in "
            f"{burst['seconds']:.1f} s | p95 {burst['p95']:.0f} / slowest "
            f"{burst['slowest']:.0f} ms | {len(burst['failures'])} |",
            f"| {BURST} connections sending half a request | {trickle['closed']} closed at the "
            f"{DEADLINE:.0f} s deadline | a search meanwhile {trickle['meanwhile']:.0f} ms | "
            f"{len(trickle['failures'])} |",
        ]
    )
