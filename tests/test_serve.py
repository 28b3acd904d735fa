"""searchkit serve, against a real server on a loopback port."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, write_post

from searchkit.cli import cli
from searchkit.indexer import index_paths

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))
WEB = Path(__file__).resolve().parent.parent / "searchkit" / "web"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    posts = tmp_path / "posts"
    write_post(
        posts,
        "_posts/2024-01-01-x.md",
        "title: <script>alert(1)</script>\ndate: 2024-01-01",
        "灯会 <b>正文</b>",
    )
    index = tmp_path / "ix"
    index_paths([EXAMPLES, posts], index, jobs=1)
    base, proc = start_server(index)
    yield base, index, posts, proc
    stop_server(proc)


def start_server(index: Path, *options: str) -> tuple[str, subprocess.Popen]:
    """``searchkit serve`` on a free loopback port, once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [SEARCHKIT, "serve", "--index", str(index), "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/api/stats", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    return base, proc


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def get(base: str, route: str, **params):
    query = urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(f"{base}{route}?{query}", timeout=20) as response:
            return response.status, response.headers.get("content-type"), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("content-type"), exc.read()


def api(base: str, route: str, **params) -> dict:
    status, _, body = get(base, route, **params)
    assert status == 200, body
    return json.loads(body)


def test_the_api_is_the_command_lines_json(server):
    base, index, _posts, _proc = server
    status, kind, body = get(base, "/api/search", q="数据中心 液冷", limit=3, facets=1)
    assert status == 200 and kind.startswith("application/json")
    served = json.loads(body)
    printed = json.loads(
        CliRunner()
        .invoke(
            cli,
            [
                "search",
                "数据中心 液冷",
                "--limit",
                "3",
                "--facets",
                "--json",
                "--index",
                str(index),
            ],
        )
        .output
    )
    for data in (served, printed):
        data.pop("took_ms")
    assert served == printed
    stats = json.loads(get(base, "/api/stats")[2])
    assert stats["documents"] == 33
    trend = json.loads(get(base, "/api/trend", q="数据中心", by="year")[2])
    # a trend counts the posts a search counts: those holding the string
    counted = json.loads(get(base, "/api/search", q="数据中心", limit="1")[2])["total"]
    assert sum(trend["series"][0]["counts"]) == counted > 0
    post = json.loads(get(base, "/api/post", path="_posts/2021-07-01-data-center.md")[2])
    assert post["title"] == "江北数据中心一期投入使用"


def test_errors_are_json_with_their_status(server):
    base, *_ = server
    for route, params, status in (
        ("/api/search", {"q": "title:"}, 400),
        ("/api/search", {"q": "x", "limit": "many"}, 400),
        ("/api/search", {"q": "x", "limit": "0"}, 400),
        ("/api/post", {"path": "no/such.md"}, 404),
        ("/api/nothing", {}, 404),
        ("/static/../../searchkit/serve.py", {}, 404),
        ("/static/%2e%2e/%2e%2e/setup.cfg", {}, 404),
    ):
        code, kind, body = get(base, route, **params)
        assert code == status, (route, code, body[:200])
        assert kind.startswith("application/json") and "error" in json.loads(body)
        assert b"Traceback" not in body and b"install_requires" not in body


def test_post_texts_are_data_not_markup(server):
    base, *_ = server
    hit = json.loads(get(base, "/api/search", q="灯会 正文")[2])["hits"][0]
    assert hit["title"] == "<script>alert(1)</script>"  # as written, for the page to show as text
    script = (WEB / "app.js").read_text("utf-8")
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    status, kind, page = get(base, "/")
    assert status == 200 and kind.startswith("text/html") and b"/static/app.js" in page
    assert b"https://" not in page  # nothing from a CDN


def test_an_update_is_picked_up_while_serving(server):
    base, index, posts, _proc = server
    assert json.loads(get(base, "/api/search", q="独一无二的新词")[2])["total"] == 0
    write_post(posts, "_posts/2024-02-02-new.md", "title: 新稿", "独一无二的新词出现了")
    index_paths([EXAMPLES, posts], index, jobs=1)
    assert json.loads(get(base, "/api/search", q="独一无二的新词")[2])["total"] == 1


def test_sigterm_stops_it_cleanly(server):
    _base, _index, _posts, proc = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) in (0, 143)  # 143: ended by SIGTERM, as the README says
    assert b"Traceback" not in proc.stderr.read()


def test_a_missing_index_is_said_before_serving(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--index", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no index at" in result.output


def test_a_request_sent_by_halves_is_closed_at_the_deadline(examples_index):
    base, proc = start_server(examples_index, "--timeout", "1")
    port = int(base.rsplit(":", 1)[1])
    try:
        halves = []
        for _ in range(30):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            halves.append(sock)
        # answered meanwhile, and a kept-alive connection whose second request stalls
        assert api(base, "/api/search", q="数据中心")["total"] > 0
        kept = socket.create_connection(("127.0.0.1", port))
        kept.sendall(b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        kept.settimeout(5)
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        kept.sendall(b"GET /api/stats HTTP/1.1\r\n")
        halves.append(kept)
        assert sum(closes(sock) for sock in halves) == len(halves)
        assert api(base, "/api/search", q="数据中心")["total"] > 0
    finally:
        stop_server(proc)


def closes(sock: socket.socket) -> bool:
    """Whether the server closes ``sock`` within 5 s (what it still sends is read first)."""
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
        return True
    except OSError:
        return False
    finally:
        sock.close()


def test_concurrent_requests_each_get_their_own_answer(examples_index):
    """Requests in flight at once, answered by two worker processes, are each answered as
    the same request alone is."""
    from concurrent.futures import ThreadPoolExecutor

    base, proc = start_server(examples_index, "--workers", "2")
    queries = ["数据中心", "城市", "地铁", "天气", "教育", "高温", "物流", "消费"]
    try:
        alone = {q: api(base, "/api/search", q=q, limit=5) for q in queries}
        with ThreadPoolExecutor(32) as workers:
            together = list(
                workers.map(lambda q: (q, api(base, "/api/search", q=q, limit=5)), queries * 12)
            )
        for query, found in together:
            assert [h["path"] for h in found["hits"]] == [h["path"] for h in alone[query]["hits"]]
            assert found["total"] == alone[query]["total"]
    finally:
        stop_server(proc)


def _with_host(base: str, host: str, route: str = "/api/stats") -> tuple[int, bytes]:
    import http.client

    address = base.removeprefix("http://")
    connection = http.client.HTTPConnection(address, timeout=20)
    try:
        connection.putrequest("GET", route, skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_request_naming_another_host_is_refused(examples_index):
    """A page elsewhere that points its own name at this machine (DNS rebinding) reaches
    nothing: only the address served and the names allowed are answered."""
    base, proc = start_server(examples_index, "--allow-host", "news.local")
    port = base.rsplit(":", 1)[1]
    try:
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.2", ""):
            status, body = _with_host(base, host, "/api/post?path=x")
            assert status == 421 and "error" in json.loads(body), (host, body)
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "news.local", f"news.local:{port}"):
            assert _with_host(base, host)[0] == 200, host
    finally:
        stop_server(proc)


def test_a_nul_in_a_static_path_is_a_json_404(server):
    base = server[0]
    status, kind, body = get(base, "/static/%00")
    assert status == 404 and kind == "application/json" and "error" in json.loads(body)


def test_an_index_removed_and_built_again_is_followed_by_serve(server):
    import shutil

    base, index, posts, _proc = server
    total = api(base, "/api/search", q="数据中心")["total"]
    shutil.rmtree(index)
    status, kind, body = get(base, "/api/search", q="数据中心")
    assert status == 503 and kind == "application/json" and "no index" in json.loads(body)["error"]
    index_paths([EXAMPLES, posts], index, jobs=1)
    for route in ("/api/search", "/api/trend"):
        assert api(base, route, q="数据中心")
    assert api(base, "/api/search", q="数据中心")["total"] == total
