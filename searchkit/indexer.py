"""Posts to index: full and incremental builds, in parallel, with a report of every file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from . import store
from .analysis import AnalyzerConfig, read_stopwords, read_userdict
from .documents import Post, Problem, SkipFile, SourceFile, read_post
from .engine.commits import cancel, commit_segments, delete_posts, open_writer
from .engine.storage import create_whoosh_index
from .errors import AnalyzerMismatch, SearchkitError
from .known import LIBRARY_ROOT, Found, Key, Known, apart, moved_away, signatures
from .lock import write_lock
from .results import IndexReport
from .schema import analyzer_config, build_schema, document_maker, read_signature
from .store import open_whoosh
from .walking import FolderFiles, walk_batches
from .writer import Builders, build_here, paused_gc, shares

#: Commit at least this often during a long build, so that a crash loses little.
COMMIT_EVERY = 20_000
#: Below this many files to write, extra writer processes cost more than they save.
POOL_THRESHOLD = 64
#: How many chunks the builders may be given before the oldest is committed: two, so that
#: they build on while a commit merges segments (a merge of 80,000 posts takes the indexer
#: longer than the builders take for a chunk).
AHEAD = 2


def _read(sources: list[SourceFile]) -> Iterable[tuple[SourceFile, Post | None, list[str] | str]]:
    """``(source, post, warnings)`` or ``(source, None, why it was skipped)`` for each file."""
    for source in sources:
        try:
            post = read_post(source)
        except SkipFile as exc:
            yield source, None, str(exc)
            continue
        except Exception as exc:  # a bug must not cost the rest of the archive
            yield source, None, f"unreadable: {type(exc).__name__}: {exc}"
            continue
        yield source, post, post.warnings


# --- main side ----------------------------------------------------------------------------


def word_lists(userdict: str | None, stopwords: str | None) -> dict:
    """The user dictionary's entries and the stop words of the files named, each checked
    (and the dictionary loaded into a segmenter once) before an index is touched."""
    from .analysis import check_userdict

    changes: dict = {}
    if userdict:
        changes["userdict"] = read_userdict(userdict)
        check_userdict(userdict, changes["userdict"])
    if stopwords:
        changes["stopwords"] = read_stopwords(stopwords)
    return changes


def choose_config(
    folder: Path,
    changes: dict,
    rebuild: bool,
    analyzer: AnalyzerConfig | None = None,
) -> AnalyzerConfig:
    """The analyzer for this run: the index's own, unless a rebuild asks for another
    (``analyzer``, with ``changes``: the :func:`word_lists` of the files named).

    An analyzer that differs from the stored one is refused without ``--rebuild``: a query
    must never run under another analyzer than its index's.
    """
    if rebuild or store.current_generation(folder) is None:
        return replace(analyzer or AnalyzerConfig(), **changes)
    existing = analyzer_config(store.open_index(folder).schema)
    wanted = replace(analyzer or existing, **changes)
    if wanted != existing:
        names = {"userdict": "user dictionary", "stopwords": "stop words", "fold": "folding"}
        what = (
            " and ".join(
                label
                for name, label in names.items()
                if getattr(wanted, name) != getattr(existing, name)
            )
            or "analyzer settings"
        )
        raise AnalyzerMismatch(
            f"the {what} differ from those that built {folder}; run again with --rebuild"
        )
    return existing


def index_paths(
    paths: Iterable[str | os.PathLike],
    index: str | os.PathLike | None = None,
    *,
    rebuild: bool = False,
    userdict: str | None = None,
    stopwords: str | None = None,
    jobs: int = 1,
    lock_timeout: float = 10.0,
    progress: Callable[[int, int], None] | None = None,
    drafts: bool = False,
    analyzer: AnalyzerConfig | None = None,
    commit_every: int = COMMIT_EVERY,
    synonyms: str | None = None,
) -> IndexReport:
    """Bring the index in line with the posts under ``paths``; return what changed.

    ``jobs`` > 1 forks that many builder processes for a large build.  A run that fails (a
    full disk, a signal) removes what it wrote and leaves the index as its last commit left
    it.
    """
    folder = store.index_dir(index)
    started = time.monotonic()
    paths = [str(p) for p in paths]
    for path in paths:
        if not os.path.exists(path):
            raise SearchkitError(f"no such file or folder: {path}; the index was not changed")
    changes = word_lists(userdict, stopwords)  # a bad one is said before anything is written
    if synonyms is not None:
        from .synonyms import read_file

        synonyms = "" if synonyms.strip().lower() == "none" else read_file(synonyms)
    with write_lock(folder, lock_timeout), store.writing(folder):
        report = IndexReport(index=str(folder), rebuilt=rebuild)
        recovered = None if rebuild else store.recover_pointer(folder)
        if recovered:
            report.warnings.append(Problem(store.CURRENT, recovered, skipped=False))
        store.remove_stale_generations(folder)
        config = choose_config(folder, changes, rebuild, analyzer)
        generation = None if rebuild else store.current_generation(folder)
        if generation is None:
            generation = _create(folder, config, make_current=not rebuild)
        else:
            store.clean_uncommitted(generation)  # what a killed run left
        try:
            _sync(paths, generation, config, max(1, jobs), report, progress, drafts, commit_every)
            if rebuild:
                store.make_current(folder, generation)
        except BaseException:
            with contextlib.suppress(OSError):
                if rebuild:
                    store.remove_generation(generation)
                else:
                    store.clean_uncommitted(generation)
            raise
        if rebuild:
            store.remove_stale_generations(folder)
        _write_readings(folder)
        if synonyms is not None:
            from .synonyms import KEPT

            store.write_durably(folder / KEPT, synonyms.encode("utf-8"))
        store.write_state(folder, last_indexed=datetime.now(UTC).isoformat())
    report.seconds = time.monotonic() - started
    return report


def _write_readings(folder: Path) -> None:
    """The readings of the index's words, for queries typed in pinyin or with a slip of the
    input method (:mod:`searchkit.readings`)."""
    from . import readings
    from .engine.arrays import index_segments, word_counts

    generation = store.current_generation(folder)
    if generation is None:
        return
    with store.reading(folder), index_segments(open_whoosh(generation)) as segments:
        posts = sum(int(segment.live().sum()) for segment in segments)
        if not readings.stale(folder, generation, posts):
            return
        counts = word_counts(segments, "body", readings.is_word)
    readings.refresh(folder, generation, counts.items(), posts)


def create_index(
    index: str | os.PathLike, analyzer: AnalyzerConfig | None = None, lock_timeout: float = 10.0
) -> Path:
    """An empty index at ``index`` with this analyzer; refused where an index already is."""
    folder = store.index_dir(index)
    with write_lock(folder, lock_timeout), store.writing(folder):
        if store.current_generation(folder) is not None:
            raise SearchkitError(
                f"{folder} already holds an index; open it, or rebuild it with its posts"
            )
        _create(folder, analyzer or AnalyzerConfig(), make_current=True)
        store.write_state(folder, last_indexed=datetime.now(UTC).isoformat())
    return folder


def write_posts(
    index: str | os.PathLike,
    posts: Iterable[Post] = (),
    delete: Iterable[str] = (),
    lock_timeout: float = 10.0,
) -> IndexReport:
    """Add ``posts`` (made by a program, not read from files) and delete the posts at the
    paths in ``delete``, in one commit.  A post replaces any post at its path; one given
    again unchanged is left as it is."""
    folder = store.index_dir(index)
    started = time.monotonic()
    given = {post.path: _given_post(post) for post in posts}
    gone_paths = set(delete)
    with write_lock(folder, lock_timeout), store.writing(folder):
        generation = store.current_generation(folder)
        if generation is None:
            raise SearchkitError(f"no index in {folder}; create one first")
        store.clean_uncommitted(generation)

        ix = open_whoosh(generation)
        existing = signatures(ix)
        report = IndexReport(index=str(folder))
        remove = {
            key
            for key in existing
            if key[1] in gone_paths or (key[1] in given and key[0] != LIBRARY_ROOT)
        }
        sources = [SourceFile(LIBRARY_ROOT, p.path, "", p.size, 0.0) for p in given.values()]
        digests = {key: existing[key][2] for key in existing if key[0] == LIBRARY_ROOT}

        def read(chosen):
            for source in chosen:
                yield source, given[source.path], []

        try:
            _write_chunk(ix, sources, remove, existing, digests, report, read)
            store.sync_folder(generation)
        except BaseException:
            with contextlib.suppress(OSError):
                store.clean_uncommitted(generation)
            raise
        report.documents = ix.doc_count()
        store.write_state(folder, last_indexed=datetime.now(UTC).isoformat())
    report.seconds = time.monotonic() - started
    return report


def _given_post(post: Post) -> Post:
    """``post`` as the index keeps it: a path it can be known by, the library's root, a
    datetime, and a digest of what it holds."""
    path = (post.path or "").strip()
    if not path:
        raise SearchkitError("a post needs a path: the id it is known by in the index")
    day = post.date
    if isinstance(day, date) and not isinstance(day, datetime):
        day = datetime(day.year, day.month, day.day)
    text = post.body or ""
    fields = (
        post.title,
        text,
        day.isoformat() if day else "",
        post.categories,
        post.tags,
        post.url,
    )
    digest = hashlib.blake2b(repr(fields).encode("utf-8"), digest_size=16).hexdigest()
    return replace(
        post,
        path=path,
        body=text,
        date=day,
        categories=list(post.categories),
        tags=list(post.tags),
        root=LIBRARY_ROOT,
        size=len(text.encode("utf-8")),
        mtime=0.0,
        digest=digest,
    )


def _create(folder: Path, config: AnalyzerConfig, make_current: bool) -> Path:

    generation = store.new_generation(folder)
    create_whoosh_index(generation, build_schema(config), config.to_plain())
    if make_current:
        store.make_current(folder, generation)
    return generation


def _sync(paths, generation, config, jobs, report, progress, drafts, commit_every) -> None:
    # Hundreds of thousands of keys, signatures and files that all live until the run ends:
    # the cyclic garbage collector would walk them again and again (0.12 s of a one-post
    # update at 200,000 posts) for nothing.
    with paused_gc():
        _sync_posts(paths, generation, config, jobs, report, progress, drafts, commit_every)


def _sync_posts(paths, generation, config, jobs, report, progress, drafts, commit_every) -> None:

    ix = open_whoosh(generation)
    existing = Known()
    touched: dict[Key, tuple[int, float, str]] = {}
    read: list[bool] = []  # whether existing was filled yet

    def read_known() -> None:
        """What was indexed, read once: while a child looks up the files of a large
        folder, or else before the first folder is compared."""
        if read:
            return
        read.append(True)
        signatures(ix, existing)
        touched.update(store.read_mtimes(generation))
        for key, sig in touched.items():  # posts whose mtime moved with their text unchanged
            if key in existing and existing[key][2] == sig[2]:
                existing[key] = sig

    problems: list[Problem] = []
    to_read: list[SourceFile] = []
    seen = Found(existing, whole_folders=apart(paths))
    files = seen.files
    unchanged = 0
    same = existing.same
    for batch in walk_batches(paths, problems, drafts=drafts, jobs=jobs, meanwhile=read_known):
        if not batch:
            continue  # a folder of pages or of folders: the signatures can still wait
        read_known()
        if seen.whole_folders and isinstance(batch, FolderFiles):  # compared as columns
            changed = seen.take_folder(batch)
            unchanged += len(batch) - len(changed)
            to_read += [batch[n] for n in changed]
            continue
        keys = [(source.root, source.path) for source in batch]
        abspaths = [source.abspath for source in batch]
        if seen.keys.isdisjoint(keys) and files.isdisjoint(abspaths):  # a folder met once
            seen.keys.update(keys)
            files.update(abspaths)
            changed = [s for s, k in zip(batch, keys, strict=True) if not same(k, s.size, s.mtime)]
            unchanged += len(batch) - len(changed)
            to_read += changed
            continue
        for source, key in zip(batch, keys, strict=True):
            if key in seen.keys or source.abspath in files:
                continue  # the same file reached twice (a file and its folder both given)
            seen.keys.add(key)
            files.add(source.abspath)
            if same(key, source.size, source.mtime):
                unchanged += 1
            else:
                to_read.append(source)
    read_known()  # no file found
    report.unchanged += unchanged
    report.skipped.extend(problems)
    missing = seen.missing()  # indexed before, not found now: usually few
    folders = {str(Path(p).resolve()) for p in paths if Path(p).is_dir()}
    gone = {key for key in missing if key[0] in folders}
    gone |= moved_away(missing, seen, folders)
    # one file, one post: a file indexed before under another id (given alone, then with its
    # folder) keeps only the id it has now
    gone |= {key for key in missing if seen.has_file(os.path.join(*key))}
    # a post the library added is replaced by a file found at its path
    given = [key for key in missing if key[0] == LIBRARY_ROOT]
    if given:
        found_paths = seen.paths()
        gone |= {key for key in given if key[1] in found_paths}
    digests = existing.digest_of()

    refreshed: dict[Key, tuple[int, float, str]] = {}
    before = ix.segment_ids()  # the committed segments
    commit_every = max(1, commit_every)
    chunks = [to_read[n : n + commit_every] for n in range(0, len(to_read), commit_every)]
    maker = document_maker(ix.schema)
    parallel = jobs > 1 and len(to_read) >= POOL_THRESHOLD
    here = 0  # posts read in this process

    def told(count: int) -> None:
        if progress is not None:
            progress(here + count, len(to_read))

    with contextlib.ExitStack() as stack:
        builders = None
        if parallel:
            builders = stack.enter_context(Builders(ix, jobs, maker, _read, depth=AHEAD))

        prefetch = stack.enter_context(Prefetch()) if parallel else None

        def start(number: int) -> bool:
            """Hand chunk ``number`` to the builders, if there is one worth their while."""
            if builders is None or number >= len(chunks) or len(chunks[number]) < POOL_THRESHOLD:
                return False
            builders.submit(shares(chunks[number], digests, jobs))
            prefetch.add(chunks[number])
            return True

        started = [start(number) for number in range(AHEAD)]
        for number, chunk in enumerate(chunks or [[]]):
            if started[number]:
                built = builders.collect(told)
            else:
                share = shares(chunk, digests, 1)[0]
                built = build_here(ix, share, maker, _read, told)
                here += len(chunk)
            # the builders read the next chunks while this one is committed
            started.append(start(number + AHEAD))
            last = number == len(chunks) - 1
            _commit_chunk(
                ix,
                built,
                gone if number == 0 else set(),
                existing,
                digests,
                report,
                refreshed,
                before if last and len(chunks) > 1 else None,
            )
            store.sync_folder(generation)
    report.documents = ix.doc_count()
    read = {(s.root, s.path) for s in to_read}
    kept = {k: v for k, v in touched.items() if k in seen and k not in read} | refreshed
    if kept != touched:
        store.write_mtimes(generation, kept)


class Prefetch:
    """Asks the kernel, from a thread, to start reading the files handed to the builders
    (``posix_fadvise(WILLNEED)``, which returns at once): when the posts are not in the page
    cache, the disk then reads ahead of the builders instead of each builder waiting for each
    file in turn.  Nothing is read into this process; where the call is missing it does
    nothing."""

    def __init__(self) -> None:
        import queue
        import threading

        self.files: queue.SimpleQueue = queue.SimpleQueue()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="prefetch", daemon=True)

    def __enter__(self) -> Prefetch:
        if hasattr(os, "posix_fadvise"):
            self.thread.start()
        return self

    def __exit__(self, failed, *exc) -> None:
        if failed is not None:  # a failed run stops at once; a finished one ends its list
            self.stop.set()
        self.files.put(None)
        if self.thread.is_alive():
            self.thread.join()

    def add(self, sources: list[SourceFile]) -> None:
        if self.thread.is_alive():
            self.files.put(sources)

    def _run(self) -> None:
        while not self.stop.is_set():
            sources = self.files.get()
            if sources is None:
                return
            for source in sources:
                if self.stop.is_set():
                    return
                with contextlib.suppress(OSError):
                    # never blocks on a file that became a pipe since the walk
                    fd = os.open(source.abspath, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
                    try:
                        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
                    finally:
                        os.close(fd)


def _write_chunk(ix, chunk, gone, existing, digests, report, read) -> None:
    """Write the posts of ``chunk`` as a new segment, built in this process, and commit
    (see :func:`_commit_chunk`)."""
    share = shares(chunk, digests, 1)[0]
    built = build_here(ix, share, document_maker(ix.schema), read)
    _commit_chunk(ix, built, gone, existing, digests, report, {})


def _commit_chunk(ix, built, gone, existing, digests, report, refreshed, before=None) -> None:
    """Commit the segments ``built`` (with the outcome of each post given to them), delete
    what they replace, the posts in ``gone`` and the posts that can no longer be read, all
    under one writer (searchkit's own lock keeps other writers out, so Whoosh's is not taken:
    a forked builder must not inherit it).  The last commit of a long build is given the
    segments there were ``before`` it (see :func:`searchkit.engine.commits.leftovers`)."""
    segments, outcomes = built
    writer = open_writer(ix)
    try:
        remove = set(gone)
        replaced = set()
        for outcome in outcomes:
            key = (outcome.root, outcome.path)
            if outcome.kind == "skipped":
                reason = outcome.notes
                if key in existing:  # it was indexed: what can no longer be read goes
                    remove.add(key)
                    reason += "; removed from the index"
                report.skipped.append(Problem(outcome.path, reason))
                continue
            report.warnings.extend(
                Problem(outcome.path, note, skipped=False) for note in outcome.notes
            )
            if outcome.kind == "updated":
                replaced.add(key)
            elif outcome.kind == "unchanged":
                refreshed[key] = (outcome.size, outcome.mtime, digests[key])
            setattr(report, outcome.kind, getattr(report, outcome.kind) + 1)
        report.deleted += _delete(writer, remove)
        deleted = _delete(writer, replaced) > 0 or bool(remove)
        if not segments and not deleted:
            cancel(writer)
            return
        commit_segments(ix, writer, segments, before)
    except BaseException:
        if not writer.is_closed:
            cancel(writer)
        raise


def _delete(writer, keys: set[Key]) -> int:
    """Delete the posts with these ``(root, path)`` keys; returns how many there were."""
    roots: dict[str, set[str]] = {}
    for root, path in keys:
        roots.setdefault(path, set()).add(root)
    return delete_posts(
        writer, sorted(roots), lambda path, sig: read_signature(sig)[0] in roots[path]
    )
