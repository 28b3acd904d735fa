"""Posts to index: full and incremental builds, in parallel, with a report of every file."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from . import store
from .analysis import AnalyzerConfig, read_stopwords, read_userdict
from .codec import SearchkitCodec
from .documents import Post, Problem, SkipFile, SourceFile, read_post, walk
from .errors import AnalyzerMismatch, SearchkitError
from .schema import analyzer_config, build_schema, post_to_document, read_signature
from .writer import build_here, build_parallel, shares

#: Commit at least this often during a long build, so that a crash loses little.
COMMIT_EVERY = int(os.environ.get("SEARCHKIT_COMMIT_EVERY", "20000"))
#: A small update is written as a segment of its own, without merging, while there are fewer
#: segments than this: merging is what makes a one-post update slow on a big index.
MAX_SEGMENTS = 24
#: Below this many files to write, extra writer processes cost more than they save.
POOL_THRESHOLD = 64


@dataclass
class IndexReport:
    """What an ``index`` run did."""

    index: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    documents: int = 0
    seconds: float = 0.0
    rebuilt: bool = False
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": len(self.skipped),
            "documents": self.documents,
            "seconds": round(self.seconds, 3),
            "rebuilt": self.rebuilt,
            "problems": [
                {"path": p.path, "reason": p.reason, "skipped": p.skipped}
                for p in self.skipped + self.warnings
            ],
        }


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


def choose_config(
    folder: Path, userdict: str | None, stopwords: str | None, rebuild: bool
) -> AnalyzerConfig:
    """The analyzer for this run: the index's own, unless a rebuild asks for another.

    A user dictionary or stop-word list that differs from the stored one is refused without
    ``--rebuild``: a query must never run under another analyzer than its index's.
    """
    changes = {}
    if userdict:
        changes["userdict"] = read_userdict(userdict)
    if stopwords:
        changes["stopwords"] = read_stopwords(stopwords)
    generation = store.current_generation(folder)
    if generation is None or rebuild:
        return AnalyzerConfig(**changes)
    existing = analyzer_config(store.open_index(folder).schema)
    wanted = replace(existing, **changes)
    if wanted != existing:
        what = " and ".join(
            name.replace("userdict", "user dictionary").replace("stopwords", "stop words")
            for name in changes
            if getattr(wanted, name) != getattr(existing, name)
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
    jobs: int | None = None,
    lock_timeout: float = 10.0,
    progress: Callable[[int, int], None] | None = None,
) -> IndexReport:
    """Bring the index in line with the posts under ``paths``; return what changed."""
    folder = store.index_dir(index)
    started = time.monotonic()
    paths = [str(p) for p in paths]
    with store.write_lock(folder, lock_timeout):
        store.remove_stale_generations(folder)
        config = choose_config(folder, userdict, stopwords, rebuild)
        report = IndexReport(index=str(folder), rebuilt=rebuild)
        generation = store.current_generation(folder)
        fresh = rebuild or generation is None
        if fresh:
            generation = _create(folder, config, make_current=not rebuild and generation is None)
        report = _sync(paths, generation, config, jobs or os.cpu_count() or 1, report, progress)
        if rebuild:
            store.make_current(folder, generation)
            store.remove_stale_generations(folder)
        store.write_state(folder, last_indexed=datetime.now(timezone.utc).isoformat())
    report.seconds = time.monotonic() - started
    return report


def _create(folder: Path, config: AnalyzerConfig, make_current: bool) -> Path:
    from whoosh import index as whoosh_index

    generation = store.new_generation(folder)
    whoosh_index.create_in(str(generation), build_schema(config))
    if make_current:
        store.make_current(folder, generation)
    return generation


def _sync(paths, generation, config, jobs, report, progress) -> IndexReport:
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(generation))
    existing = _signatures(ix)
    problems: list[Problem] = []
    to_read: list[SourceFile] = []
    seen: dict[str, str] = {}
    for source in walk(paths, problems):
        if source.path in seen:
            problems.append(Problem(source.path, f"same path as a post under {seen[source.path]}"))
            continue
        seen[source.path] = source.root
        old = existing.get(source.path)
        if old and old[:3] == (source.root, source.size, source.mtime):
            report.unchanged += 1
        else:
            to_read.append(source)
    report.skipped.extend(problems)
    folders = {str(Path(p).resolve()) for p in paths if Path(p).is_dir()}
    gone = [p for p, old in existing.items() if old[0] in folders and p not in seen]
    digests = {path: old[3] for path, old in existing.items()}

    many = len(to_read) >= POOL_THRESHOLD
    for first in range(0, max(len(to_read), 1), COMMIT_EVERY):
        chunk = to_read[first : first + COMMIT_EVERY]
        _write_chunk(
            ix,
            chunk,
            gone if first == 0 else [],
            digests,
            jobs,
            many,
            report,
            _progress(progress, first, len(to_read)),
        )
    report.documents = ix.doc_count()
    return report


def _progress(progress, before: int, total: int):
    if progress is None:
        return None
    return lambda done: progress(before + done, total)


def _write_chunk(ix, chunk, gone, digests, jobs, many, report, progress) -> None:
    """Write the posts of ``chunk`` as new segments, delete what they replace and the posts in
    ``gone``, and commit, all under one Whoosh writer."""
    writer = ix.writer(codec=SearchkitCodec())
    try:
        if jobs > 1 and len(chunk) >= POOL_THRESHOLD:
            work = shares(chunk, digests, jobs)
            segments, outcomes = build_parallel(ix, work, post_to_document, _read, progress)
        else:
            work = shares(chunk, digests, 1)[0]
            segments, outcomes = build_here(ix, work, post_to_document, _read, progress)
        deleted = bool(gone)
        for path in gone:
            writer.delete_by_term("path", path)
            report.deleted += 1
        for outcome in outcomes:
            if outcome.kind == "skipped":
                report.skipped.append(Problem(outcome.path, outcome.notes))
                continue
            report.warnings.extend(
                Problem(outcome.path, note, skipped=False) for note in outcome.notes
            )
            if outcome.kind == "updated":
                writer.delete_by_term("path", outcome.path)
                deleted = True
            setattr(report, outcome.kind, getattr(report, outcome.kind) + 1)
        if not segments and not deleted:
            writer.cancel()
            return
        merge = many or len(writer.segments) + len(segments) >= MAX_SEGMENTS
        final = writer._merge_segments(None, None, merge) + segments
        if writer._added:  # a merge wrote the old segments anew
            final.append(writer._finalize_segment())
        else:
            writer._close_segment()
        writer._commit_toc(final)
        writer._finish()
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise


def _signatures(ix) -> dict[str, tuple[str, int, float, str]]:
    """``path -> (root, size, mtime, digest)`` of every indexed post, read from columns."""
    if "sig" not in ix.schema:
        raise SearchkitError(
            f"{ix.storage.folder} was written by an older searchkit; run again with --rebuild"
        )
    out = {}
    with ix.reader() as reader:
        if reader.doc_count_all() == 0:
            return out
        paths = reader.column_reader("path")
        sigs = reader.column_reader("sig", translate=False)
        for docnum in reader.all_doc_ids():
            out[paths[docnum]] = read_signature(sigs[docnum])
    return out
