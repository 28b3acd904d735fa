"""``searchkit serve``: a search page and an HTTP API whose JSON is the command line's.

Starlette routes each request to the library (:class:`searchkit.Index`, opened once and
shared by the server's threads; every search reads the index's last commit, so a finished
``index`` run is picked up without a restart) and :mod:`searchkit.output` turns each result
into the same JSON ``--json`` prints.  Read-only: nothing here writes.  The page and its
script are files of the package (``searchkit/web/``), served as they are: no CDN, and the
script puts every text of a post in the page as text, never as markup.
"""

from __future__ import annotations

from pathlib import Path

from .errors import IndexMissing, PostMissing, QueryError, SearchkitError

WEB = Path(__file__).resolve().parent / "web"
#: Each API route's command-line counterpart.
ROUTES = ("search", "trend", "post", "similar", "stats")


def make_app(index: str | Path):
    """The web application over the index at ``index``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from .api import Index
    from .output import to_data, to_json

    holder: dict[str, Index] = {}

    def opened() -> Index:
        if "index" not in holder:
            holder["index"] = Index.open(index)
        return holder["index"]

    def answer(value) -> Response:
        return Response(to_json(to_data(value)), media_type="application/json")

    def failure(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    def handled(work):
        """Run ``work(params)``: a SearchkitError is a JSON error, never a traceback."""

        async def endpoint(request):
            try:  # in a worker thread: a search does not hold up the page's files meanwhile
                return answer(await run_in_threadpool(work, request.query_params))
            except IndexMissing as exc:
                return failure(503, str(exc))
            except PostMissing as exc:
                return failure(404, str(exc))
            except (QueryError, SearchkitError, ValueError) as exc:
                return failure(400, str(exc).splitlines()[0] if str(exc) else "bad request")

        return endpoint

    def search(params):
        return opened().search(
            params.get("q", ""),
            limit=_number(params, "limit", 10),
            page=_number(params, "page", 1),
            sort=params.get("sort", "relevance"),
            since=params.get("since") or None,
            until=params.get("until") or None,
            tags=params.getlist("tag"),
            categories=params.getlist("category"),
            facets=_flag(params, "facets"),
            collapse=_flag(params, "collapse"),
            match=params.get("match", "auto"),
        )

    def trend(params):
        return opened().trend(
            *params.getlist("q"),
            by=params.get("by", "month"),
            since=params.get("since") or None,
            until=params.get("until") or None,
            tags=params.getlist("tag"),
            categories=params.getlist("category"),
        )

    def post(params):
        return opened().post(params.get("path", ""), params.get("q") or None)

    def similar(params):
        return opened().similar(params.get("path", ""), limit=_number(params, "limit", 10))

    def stats(params):
        return opened().stats()

    async def page(request):
        return FileResponse(WEB / "index.html")

    async def missing(request, exc):
        return failure(exc.status_code, exc.detail or "not found")

    routes = [Route("/", page)]
    for name, work in zip(ROUTES, (search, trend, post, similar, stats), strict=True):
        routes.append(Route(f"/api/{name}", handled(work)))
    routes.append(Mount("/static", StaticFiles(directory=str(WEB)), name="static"))
    return Starlette(routes=routes, exception_handlers={404: missing, 405: missing})


def _number(params, name: str, default: int) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise SearchkitError(f"{name} is a whole number, not {value!r}") from None


def _flag(params, name: str) -> bool:
    return params.get(name, "").lower() in ("1", "true", "yes", "on")


def serve(index: str | Path, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    import uvicorn

    uvicorn.run(make_app(index), host=host, port=port, log_level="warning")
