"""``--batch``: many queries in one process, answered in order, by forked workers if asked."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .errors import QueryError
from .results import SearchOptions, SearchResult

if TYPE_CHECKING:
    from .search import Searcher


def run_batch(
    searcher: Searcher, lines: Iterable[bytes | str], options: SearchOptions, jobs: int = 1
) -> Iterator[tuple[str, SearchResult | QueryError]]:
    """``(qid, result or QueryError)`` for each ``QID<TAB>QUERY`` or bare query line, in the
    order of the lines.

    Lines may be bytes: one that is not UTF-8 gets its error and the batch goes on.  A line
    without a qid (or with an empty one) is known by its line number.  With ``jobs`` > 1 the
    queries are answered by that many forked processes sharing the open index, each line
    handed out as soon as it is read (a program may write a query and wait for its answer).
    """
    numbered = enumerate(lines, 1)
    if jobs <= 1:
        for item in numbered:
            answer = _answer(searcher, options, item)
            if answer is not None:
                yield answer
        return
    import multiprocessing as mp
    import queue
    import threading

    global _BATCH  # what the forked workers answer with: inherited, not pickled
    _BATCH = (searcher, options)
    lines_read: queue.Queue = queue.Queue(maxsize=BATCH_AHEAD)
    done = object()

    def read() -> None:  # a daemon: a reader blocked on an idle pipe never holds up the exit
        try:
            for item in numbered:
                lines_read.put(item)
        finally:
            lines_read.put(done)

    try:
        with mp.get_context("fork").Pool(jobs, initializer=_quiet_worker) as pool:
            threading.Thread(target=read, daemon=True).start()
            pending: deque = deque()
            reading = True
            while reading or pending:
                # answers go out in order, as soon as they are ready, even while the input
                # is idle (a program may write a query and wait for its answer)
                while pending and pending[0].ready():
                    answer = pending.popleft().get()
                    if answer is not None:
                        yield answer
                if not reading or len(pending) >= BATCH_AHEAD:
                    if pending:
                        pending[0].wait(BATCH_POLL)
                    continue
                try:
                    item = lines_read.get(timeout=BATCH_POLL if pending else IDLE_POLL)
                except queue.Empty:
                    continue
                if item is done:
                    reading = False
                else:
                    pending.append(pool.apply_async(_answer_in_worker, (item,)))
    finally:
        _BATCH = None


_BATCH: tuple[Searcher, SearchOptions] | None = None


#: Lines a batch reads ahead of its answers, and how often it looks for both (seconds).
BATCH_AHEAD = 64


BATCH_POLL = 0.01


#: How long the main thread waits for a line before it looks again, when no answer is due: a
#: signal (Ctrl-C) the system hands to one of the pool's threads is acted on only when the
#: main thread wakes, so it never waits without end.
IDLE_POLL = 0.1


def _quiet_worker() -> None:
    """A batch worker leaves Ctrl-C and termination to the process that started it (which
    stops the pool), so that no worker prints a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _answer_in_worker(item):
    searcher, options = _BATCH
    return _answer(searcher, options, item)


def _answer(searcher, options, item) -> tuple[str, SearchResult | QueryError] | None:
    """One batch line's ``(qid, result or error)``; None for a blank line."""
    number, raw = item
    if isinstance(raw, bytes):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            qid = raw.partition(b"\t")[0].decode("utf-8", "replace") if b"\t" in raw else ""
            return (
                qid or str(number),
                QueryError(
                    f"line {number} is not UTF-8 text (convert the file, e.g. with "
                    "iconv -f GB18030 -t UTF-8)"
                ),
            )
    else:
        line = raw
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    qid, sep, text = line.partition("\t")
    if not sep:
        qid, text = "", line
    try:
        return qid or str(number), searcher.search(text, options)
    except QueryError as exc:
        return qid or str(number), exc
