"""Writing new posts as segments, on every core.

:class:`Builders` are processes forked once for a run, each handed one contiguous share of
the posts of a chunk at a time: it reads, converts and analyses its posts and builds a segment
(with :class:`searchkit.engine.building.SegmentBuilder`), which the caller's writer commits while the
builders go on with the next chunks.  :func:`build_here` builds a share in this process.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import gc
import os
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .engine.building import SegmentBuilder
from .engine.storage import IndexSnapshot
from .errors import SearchkitError


@dataclass
class Outcome:
    """What became of one file given to a builder."""

    root: str
    path: str
    kind: str  # "added", "updated", "unchanged" or "skipped"
    notes: list[str] | str = field(default_factory=list)
    size: int = 0  # of the file read, for an unchanged post whose mtime moved
    mtime: float = 0.0


@dataclass
class Share:
    """One builder's work: the files, and the digests already indexed for them, by
    ``(root, path)``."""

    sources: list
    digests: dict[tuple[str, str], str]


def shares(sources: list, digests: dict[tuple[str, str], str], count: int) -> list[Share]:
    """Cut ``sources`` into ``count`` contiguous runs of about equal bytes (so that
    document order, and with it the order of equal scores, does not depend on the cores)."""
    total = sum(s.size for s in sources) or 1
    out: list[Share] = []
    current: list = []
    done = 0
    for source in sources:
        current.append(source)
        done += source.size
        if len(out) < count - 1 and done >= total * (len(out) + 1) / count:
            out.append(Share(current, {}))
            current = []
    if current or not out:
        out.append(Share(current, {}))
    for share in out:
        keys = ((s.root, s.path) for s in share.sources)
        share.digests = {key: digests[key] for key in keys if key in digests}
    return out


def build(ix, share: Share, to_document: Callable, read: Callable, tick: Callable[[], None]):
    """Build one segment from ``share`` in this process; returns ``(segment, outcomes)``."""
    builder = SegmentBuilder(ix)
    outcomes: list[Outcome] = []
    # Millions of small objects that all live until the segment is written: the cyclic
    # garbage collector would walk them again and again for nothing.
    with paused_gc():
        try:
            for source, post, notes in read(share.sources):
                tick()
                if post is None:
                    outcomes.append(Outcome(source.root, source.path, "skipped", notes))
                    continue
                old = share.digests.get((source.root, source.path))
                if old == post.digest:
                    outcomes.append(
                        Outcome(
                            source.root, source.path, "unchanged", notes, source.size, source.mtime
                        )
                    )
                    continue
                builder.add_document(**to_document(post))
                kind = "added" if old is None else "updated"
                outcomes.append(Outcome(source.root, source.path, kind, notes))
            return builder.finish(), outcomes
        except BaseException:
            builder.abandon()
            raise


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside (as it was after): for work that makes many
    objects that all live to its end."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class Builders:
    """Builder processes forked once for an update, each building the share it is handed into
    a segment.  They outlive one commit: the indexer commits one chunk while they build the
    next, and what each learnt of the words (:class:`searchkit.analysis.WordTable`) stays with
    it.  Up to ``depth`` rounds of shares may be handed out before the oldest is collected:
    with two, a builder done with the next chunk goes on with the one after while a long
    merge holds the commit, instead of leaving its core idle.

    They die with this process (whatever kills it), hold none of its locks, and are killed
    when it leaves the ``with`` block for any reason before they are done.
    """

    def __init__(self, ix, count: int, to_document: Callable, read: Callable, depth: int = 1):
        import multiprocessing as mp

        ix = IndexSnapshot(ix)  # the builders do not read the table the indexer replaces
        context = mp.get_context("fork")
        self.counter = context.Value("l", 0)  # posts read so far, by every builder
        self.results = context.Queue()
        self.parent = os.getpid()
        # a Queue, not a SimpleQueue: handing out a share does not wait for a busy builder to
        # read it (a share's pickle is more than a pipe holds)
        self.tasks = [context.Queue() for _ in range(count)]
        self.workers = [
            context.Process(target=self._serve, args=(n, ix, to_document, read), daemon=True)
            for n in range(count)
        ]
        self.depth = depth
        self.handed = 0  # rounds handed out so far
        self.rounds: collections.deque[tuple[int, int]] = collections.deque()  # not collected
        self.early: dict[int, dict[int, tuple]] = {}  # results of rounds after the oldest
        self.early_failures: dict[int, tuple] = {}  # what went wrong in them

    def __enter__(self) -> Builders:
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _serve(self, number: int, ix, to_document: Callable, read: Callable) -> None:
        _die_with(self.parent)
        counter, parent = self.counter, self.parent

        def tick() -> None:
            if os.getppid() != parent:  # the indexer is gone: stop writing
                os._exit(1)
            with counter.get_lock():
                counter.value += 1

        while True:
            task = self.tasks[number].get()
            if task is None:
                return
            handed, share = task
            try:
                built = build(ix, share, to_document, read, tick)
                self.results.put((handed, number, built, None))
            except BaseException as exc:  # the parent reports it
                self.results.put((handed, number, None, _failure(exc)))
                return
            gc.collect()

    def submit(self, work: list[Share]) -> None:
        """Hand each builder one share (at most as many shares as builders); a builder takes
        it when done with those handed out before, which :meth:`collect` returns first."""
        if len(self.rounds) >= self.depth:
            raise RuntimeError(f"the builders already hold {self.depth} rounds not collected")
        number = self.handed
        self.handed += 1
        for builder, share in enumerate(work):
            self.tasks[builder].put((number, share))
        self.rounds.append((number, len(work)))

    def collect(self, progress: Callable[[int], None] | None = None) -> tuple[list, list[Outcome]]:
        """Wait for the shares of the oldest round handed out; returns the segments and the
        outcomes, in the order of the shares.  ``progress`` is told how many posts every
        builder has read."""
        import queue
        import time

        if not self.rounds:
            raise RuntimeError("no shares are handed out")
        round_number, count = self.rounds[0]
        got = self.early.pop(round_number, {})
        failure = self.early_failures.pop(round_number, None)
        while len(got) < count:
            if progress:
                progress(self.counter.value)
            try:
                number, builder, built, error = self.results.get(timeout=0.1)
            except queue.Empty:  # check that no builder died without a word
                if any(w.exitcode not in (None, 0) for w in self.workers) and self.results.empty():
                    time.sleep(0.2)
                    if self.results.empty():
                        failure = (None, "a builder process died")
                        break
                continue
            if number == round_number:
                failure = failure or error
                got[builder] = built
            else:  # a later round, done (or failed) by a builder that had nothing older left:
                # kept for its own collect, so that the rounds before it are still committed
                self.early.setdefault(number, {})[builder] = built
                if error and number not in self.early_failures:
                    self.early_failures[number] = error
        if failure:
            self.close()
            code, message = failure
            if code is not None:  # a full disk or a read-only folder: the caller says which
                raise OSError(code, os.strerror(code))
            raise SearchkitError(f"indexing failed: {message.splitlines()[0]}")
        self.rounds.popleft()
        if progress:
            progress(self.counter.value)
        builders = sorted(got)
        segments = [got[n][0] for n in builders if got[n][0] is not None]
        outcomes = [o for n in builders for o in got[n][1]]
        return segments, outcomes

    def close(self) -> None:
        """Stop the builders: asked to end when idle, killed when not."""
        for worker, tasks in zip(self.workers, self.tasks, strict=True):
            if worker.is_alive() and not self.rounds:
                with contextlib.suppress(OSError, ValueError):
                    tasks.put(None)
        for worker in self.workers:
            if worker.pid is None:
                continue
            worker.join(timeout=0 if self.rounds else 5)
            if worker.is_alive():
                worker.kill()
                worker.join()
        for tasks in self.tasks:  # a share no builder took is dropped, not waited on at exit
            tasks.close()
            tasks.cancel_join_thread()


#: ``prctl(PR_SET_PDEATHSIG, ...)``: Linux sends the signal to a child when its parent dies.
_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Make this forked builder end with the indexer: killed when it dies (Linux), and left
    to it for Ctrl-C and SIGTERM, which it answers by stopping its builders."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the tick's parent check still stops it
        pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _failure(exc: BaseException) -> tuple[int | None, str]:
    """What a builder sends back about its failure: an OS error number, when the cause is
    the disk, and a message."""
    code = exc.errno if isinstance(exc, OSError) else None
    return code, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


def build_here(
    ix, share: Share, to_document: Callable, read: Callable, progress=None
) -> tuple[list, list[Outcome]]:
    """What one of the :class:`Builders` does with ``share``, in this process."""
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if progress:
            progress(count)

    segment, outcomes = build(ix, share, to_document, read, tick)
    return ([segment] if segment is not None else []), outcomes
