"""``searchkit serve``: a search page and an HTTP API whose JSON is the command line's.

Starlette routes each request to the library (:class:`searchkit.Index`: every search reads
the index's last commit, so a finished ``index`` run is picked up without a restart) and
:mod:`searchkit.output` turns each result into the same JSON ``--json`` prints.  Searches run
in parallel in worker processes (uvicorn's supervisor, one per core up to four, sharing the
listening socket and the index's pages); within a process a search is mostly Python, so one
index answers one request at a time (more indexes in one process measured slower: on zh-news,
200 searches at once took 3.9 s with one, 4.6 s with two and 5.7 s with four).  A
client has :data:`DEADLINE` seconds to send a whole request (headers and body), whatever it
sends meanwhile: a connection that trickles is closed.  Read-only: nothing here writes.  The page and its
script are files of the package (``searchkit/web/``), served as they are: no CDN, and the
script puts every text of a post in the page as text, never as markup.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .errors import IndexMissing, PostMissing, QueryError, SearchkitError

WEB = Path(__file__).resolve().parent / "web"
#: Worker processes at most (one per core below it).
MOST_WORKERS = 4
#: What a worker process is told by the one that started it.
_SETTINGS = "SEARCHKIT_SERVE"
#: Seconds a client has to send a whole request, from its connection or from the end of the
#: last response.
DEADLINE = 10.0
#: Each API route's command-line counterpart.
ROUTES = ("search", "trend", "post", "similar", "stats", "copies")


def allowed_hosts(host: str, port: int, names=()) -> list[str]:
    """The Host headers the server answers: the address it listens on, the loopback names
    when it listens there, and ``names``; any other (a page elsewhere that points its own
    name at this machine, DNS rebinding) is refused."""
    hosts = {host, *names}
    if host in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::"):
        hosts.update({"127.0.0.1", "localhost", "[::1]"})
    return sorted(hosts)


def make_app(index: str | Path, hosts: list[str] | None = None):
    """The web application over the index at ``index``, answering the ``hosts`` given
    (:func:`allowed_hosts`; None: any)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from .api import Index
    from .output import to_data, to_json
    from .results import SearchOptions, param_number

    holder: list[Index] = []
    opening = threading.Lock()

    def opened() -> Index:
        """The process's index, opened at its first request (a missing index is said each
        time until it is there); it answers one request at a time."""
        with opening:
            if not holder:
                holder.append(Index.open(index))
            return holder[0]

    def answer(value) -> Response:
        data = value if isinstance(value, dict) else to_data(value)
        return Response(to_json(data), media_type="application/json")

    def failure(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    def handled(work):
        """Run ``work(index, params)``: a SearchkitError is a JSON error, never a traceback."""

        async def endpoint(request):
            try:  # in a worker thread: a search does not hold up the page's files meanwhile
                params = request.query_params
                return answer(await run_in_threadpool(lambda: work(opened(), params)))
            except IndexMissing as exc:
                return failure(503, str(exc))
            except PostMissing as exc:
                return failure(404, str(exc))
            except (QueryError, SearchkitError, ValueError) as exc:
                return failure(400, str(exc).splitlines()[0] if str(exc) else "bad request")

        return endpoint

    def search(opened, params):
        options = SearchOptions.from_params(params)
        return opened.search(params.get("q", ""), **dataclasses.asdict(options))

    def trend(opened, params):
        options = SearchOptions.from_params(params)
        return opened.trend(
            *params.getlist("q"),
            by=params.get("by", "month"),
            since=options.since,
            until=options.until,
            tags=options.tags,
            categories=options.categories,
        )

    def post(opened, params):
        return opened.post(params.get("path", ""), params.get("q") or None)

    def similar(opened, params):
        return opened.similar(params.get("path", ""), limit=param_number(params, "limit", 10))

    def stats(opened, params):
        return opened.stats()

    def copies(opened, params):
        found = opened.copies(params.get("path", ""))
        return {"path": params.get("path", ""), "copies": [vars(post) for post in found]}

    async def page(request):
        return FileResponse(WEB / "index.html")

    async def missing(request, exc):
        return failure(exc.status_code, exc.detail or "not found")

    routes = [Route("/", page), Route("/post", page)]  # the page draws either view
    for name, work in zip(ROUTES, (search, trend, post, similar, stats, copies), strict=True):
        routes.append(Route(f"/api/{name}", handled(work)))

    class Files(StaticFiles):
        def lookup_path(self, path: str):
            if "\0" in path:  # no file is named so: not found, rather than a failed lookup
                return "", None
            return super().lookup_path(path)

    routes.append(Mount("/static", Files(directory=str(WEB)), name="static"))

    async def broken(request, exc):  # every error of the API is JSON, a bug too
        return failure(500, f"internal error: {type(exc).__name__}")

    middleware = []
    if hosts is not None:
        from starlette.middleware import Middleware

        middleware.append(Middleware(_HostCheck, hosts=hosts))
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={404: missing, 405: missing, 500: broken, Exception: broken},
    )


class _HostCheck:
    """Refuse (421, JSON) a request whose Host header names no allowed host."""

    def __init__(self, app, hosts: list[str]):
        self.app = app
        self.hosts = set(hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.hosts:
                from starlette.responses import JSONResponse

                response = JSONResponse(
                    {"error": f"this server does not answer for host {host!r}"}, status_code=421
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def listen(host: str, port: int):
    """A socket bound to ``host:port`` and listening; a port that is taken is a
    :class:`SearchkitError` saying so."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SearchkitError(
                f"port {port} on {host} is taken (another server?); choose another with --port"
            ) from exc
        raise SearchkitError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.set_inheritable(True)
    return sock


def serve(
    index: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    names=(),
    sock=None,
    deadline: float = DEADLINE,
    workers: int | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM, on ``sock`` (:func:`listen`) when given, from
    ``workers`` processes (:func:`default_workers`); a client has ``deadline`` seconds to send
    each request."""
    import uvicorn

    sock = sock or listen(host, port)
    workers = workers or default_workers()
    os.environ[_SETTINGS] = json.dumps(
        {"index": str(index), "hosts": allowed_hosts(host, port, names), "deadline": deadline}
    )
    config = uvicorn.Config(
        "searchkit.serve:app_from_settings",
        factory=True,
        log_level="warning",
        timeout_keep_alive=5,
        http=DeadlineProtocol,
        workers=workers,
    )
    if workers == 1:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()


def default_workers() -> int:
    """One worker process per core, up to :data:`MOST_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MOST_WORKERS, cores or 1))


def app_from_settings():
    """The application a worker process serves, made from what :func:`serve` said."""
    settings = json.loads(os.environ[_SETTINGS])
    DeadlineProtocol.seconds = float(settings["deadline"])
    return make_app(settings["index"], settings["hosts"])


class DeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol (h11) with a deadline for each request: armed when a
    connection opens and when a response ends, disarmed once the client has sent the whole
    request; at the deadline the connection is closed.  (uvicorn closes idle keep-alive
    connections, but waits for ever on one that sends half a request, a byte at a time.)"""

    seconds = DEADLINE
    _timer = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self):
        super().handle_events()
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()

    def on_response_complete(self):
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def _arm(self):
        self._disarm()
        self._timer = self.loop.call_later(self.seconds, self._expired)

    def _disarm(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self):
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()
