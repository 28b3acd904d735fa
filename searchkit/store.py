"""Where an index lives on disk: its generations and the pointer to the current one (the
writer's lock is :mod:`searchkit.lock`).

An index folder holds one or more Whoosh indexes (``gen-N/``) and a ``CURRENT`` file naming
the one searches use.  Incremental runs write into the current generation (Whoosh commits are
atomic); ``--rebuild`` writes a new generation and then replaces ``CURRENT`` in one rename, so
searches never see a half-built index.

What searchkit writes here it writes durably (the file, then the folder, are fsynced before a
pointer names them), and it deletes only what it can prove it wrote and no longer needs: a
generation carries a marker file from the moment it is made, and a generation is stale only
when ``CURRENT`` is readable and names another one.  A damaged ``CURRENT`` is recovered when
one intact generation could be meant, and refused, in words, when several could.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import re
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from .analysis import ANALYZER_VERSION
from .engine import storage as engine_storage
from .engine.manifest import MANIFEST, ManifestError
from .engine.postings import EntryError
from .errors import DiskFull, IndexDamaged, IndexMissing, SearchkitError
from .safepickle import ForeignObject

CURRENT = "CURRENT"
LOCK = "LOCK"
STATE = "STATE.json"
#: Written first into every generation searchkit makes: only folders holding it may be removed.
#: It names the format of the files in the generation, checked whenever the index is opened.
MARKER = "SEARCHKIT-GENERATION"
#: The format of a generation's files: bumped whenever what the codec writes changes, so that
#: an index of another format is refused ("rebuild it"), never misread.
FORMAT = 6
_GENERATION = re.compile(r"gen-(\d+)\Z")
#: What reading a damaged index raises from inside Whoosh.
READ_ERRORS = (
    OSError,
    EOFError,
    pickle.UnpicklingError,
    zlib.error,
    struct.error,
    ManifestError,
    EntryError,
)


def index_dir(given: str | os.PathLike) -> Path:
    """The index folder given (the command line's ``--index`` or ``$SEARCHKIT_INDEX``; the
    library reads no environment)."""
    if given is None or str(given) == "":
        raise SearchkitError("no index folder given")
    folder = Path(given)
    if folder.exists() and not folder.is_dir():
        raise SearchkitError(
            f"the index folder {folder} is a file; give a folder with --index DIR "
            "(or SEARCHKIT_INDEX)"
        )
    return folder


def rebuild_hint(folder: Path) -> str:
    return f"rebuild it: searchkit index PATH --index {folder} --rebuild"


# --- generations ----------------------------------------------------------------------------


def generations(folder: Path) -> list[Path]:
    """The generations searchkit made in ``folder`` (those with its marker), oldest first."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        match = _GENERATION.match(entry.name)
        if match and entry.is_dir() and os.path.exists(os.path.join(entry.path, MARKER)):
            found.append((int(match.group(1)), Path(entry.path)))
    return [path for _, path in sorted(found)]


#: The most bytes of a small file of the index folder (the pointer, the marker, the state,
#: the lock, the checksums) read; and of the table of mtimes, a row a post.
MAX_SMALL = 16 * 1024 * 1024
MAX_TABLE = 512 * 1024 * 1024


def read_small(path: Path, limit: int = MAX_SMALL) -> bytes:
    """The bytes of a file searchkit wrote in an index folder, read only if it is a regular
    file (not a link, a pipe or a device) of at most ``limit`` bytes; an ``OSError`` saying
    why otherwise (:func:`searchkit.engine.storage.read_regular`)."""
    return engine_storage.read_regular(str(path), limit)


def generation_format(generation: Path) -> int | None:
    """The format a generation's marker names; ``None`` for a generation without one."""
    try:
        lines = read_small(generation / MARKER).decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition(" ")
        if key == "format" and value.strip().isdigit():
            return int(value)
    return None


def is_intact(generation: Path) -> bool:
    """A generation with a readable manifest: a committed index."""
    try:
        engine_storage.read_manifest(generation)
    except (OSError, ManifestError):
        return False
    return True


def open_whoosh(generation: Path):
    """The Whoosh index of a generation, its schema made from its manifest's analyzer."""
    from .schema import schema_for

    return engine_storage.open_whoosh_index(generation, schema_for)


class _Pointer:
    """What ``CURRENT`` says: a generation, nothing (no file), or something unreadable."""

    def __init__(self, folder: Path):
        self.generation: Path | None = None
        self.missing = False
        self.damage = ""
        try:
            data = read_small(folder / CURRENT)
        except (FileNotFoundError, NotADirectoryError):
            self.missing = True
            return
        except OSError as exc:
            self.damage = f"cannot be read ({exc.strerror})"
            return
        name = data.strip(b"\0 \t\r\n")
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            self.damage = "holds bytes that are not a generation's name"
            return
        if not name:
            self.damage = "is zero-filled" if data else "is empty"
        elif not _GENERATION.match(text):
            self.damage = f"names {text[:40]!r}, not a generation"
        elif not (folder / text).is_dir():
            self.damage = f"names {text}, which does not exist"
        else:
            self.generation = folder / text

    @property
    def ok(self) -> bool:
        return self.generation is not None


def current_generation(folder: Path) -> Path | None:
    """The generation searches use, or ``None`` when there is no index.

    When ``CURRENT`` is missing or damaged (a crash can leave it empty or zero-filled), the
    one intact generation is the index; when several could be, :class:`IndexDamaged` says so.
    """
    pointer = _Pointer(folder)
    if pointer.ok:
        return pointer.generation
    intact = [g for g in generations(folder) if is_intact(g)]
    if not intact:
        return None
    if len(intact) == 1:
        return intact[0]
    names = ", ".join(g.name for g in intact)
    what = "is missing" if pointer.missing else pointer.damage
    raise IndexDamaged(
        f"{folder / CURRENT} {what} and {len(intact)} generations could be the index "
        f"({names}); write the right one's name into it, or {rebuild_hint(folder)}"
    )


def recover_pointer(folder: Path) -> str | None:
    """Rewrite a missing or damaged ``CURRENT`` to name the one intact generation; returns a
    note of what was done, or ``None`` when there was nothing to do."""
    pointer = _Pointer(folder)
    if pointer.ok:
        return None
    generation = current_generation(folder)  # raises when it cannot tell
    if generation is None:
        return None
    make_current(folder, generation)
    what = "was missing" if pointer.missing else pointer.damage
    return f"{folder / CURRENT} {what}; recovered: it names {generation.name} again"


def new_generation(folder: Path) -> Path:
    """A new, empty generation folder, marked as searchkit's before anything else is written."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = [
        int(m.group(1)) for p in folder.iterdir() if (m := _GENERATION.match(p.name)) is not None
    ]
    path = folder / f"gen-{max(taken, default=0) + 1}"
    path.mkdir()
    write_durably(path / MARKER, f"searchkit index generation\nformat {FORMAT}\n".encode())
    return path


def make_current(folder: Path, generation: Path) -> None:
    """Point searches at ``generation`` in one atomic rename, once its files are on disk."""
    sync_folder(generation)
    write_durably(folder / CURRENT, (generation.name + "\n").encode("ascii"))


def remove_stale_generations(folder: Path) -> None:
    """Delete generations searchkit made that are provably not the index: left by a rebuild,
    or by a crash.  Nothing is deleted while ``CURRENT`` cannot be read, unless no generation
    at all holds a committed index."""
    pointer = _Pointer(folder)
    keep: Path | None = pointer.generation
    for path in generations(folder):
        if path == keep:
            continue
        if not pointer.ok and is_intact(path):
            continue  # it might be the index CURRENT meant
        _remove_tree(path)


def _remove_tree(path) -> None:
    import shutil  # here: a search removes nothing

    shutil.rmtree(path, ignore_errors=True)


def remove_generation(generation: Path) -> None:
    """Delete a generation this run made and did not make current (a failed rebuild)."""
    if (generation / MARKER).exists():
        _remove_tree(generation)


def clean_uncommitted(generation: Path) -> None:
    """Remove the files of ``generation`` that its committed table of contents does not name:
    what a failed or killed run had begun to write.  Call it only under the writer's lock."""
    from .engine.storage import is_temp_folder

    engine_storage.remove_unnamed_files(generation)
    for entry in os.scandir(generation):
        if (entry.name.startswith(f"_{_INDEX_NAME}_") and ".toc." in entry.name) or (
            entry.name.startswith(f"{MANIFEST}.") and entry.name.endswith(".tmp")
        ):
            os.unlink(entry.path)  # the temporary file of a table of contents being written
        elif is_temp_folder(entry.name, _INDEX_NAME) and entry.is_dir():
            _remove_tree(entry.path)  # a writer's temporary files


_INDEX_NAME = engine_storage.INDEX_NAME


def open_index(folder: Path):
    """The current Whoosh index of ``folder``; raises :class:`IndexMissing`,
    :class:`IndexDamaged` or, for an index of another version, :class:`SearchkitError`."""
    return open_generation(folder)[1]


def open_generation(folder: Path):
    """``(generation, Whoosh index)`` of the current generation, read again as often as a
    rebuild switching generations under us requires."""
    missing = IndexMissing(
        f"no index at {folder}; build one with: searchkit index PATH --index {folder}"
    )
    tries: list[Path | None] = []

    def once():
        generation = current_generation(folder)
        tries.append(generation)
        if generation is None:
            if _Pointer(folder).missing or tries.count(None) > 3:
                raise missing
            raise Again(missing)  # a rebuild is switching generations
        found = generation_format(generation)
        if found is None and current_generation(folder) != generation:
            raise Again(missing)  # removed by a rebuild as we opened it
        if found != FORMAT:
            written = f"format {found}" if found is not None else "an older format"
            raise SearchkitError(
                f"the index at {folder} is in {written} and this searchkit reads format "
                f"{FORMAT}; {rebuild_hint(folder)}"
            )
        try:
            ix = open_whoosh(generation)
            version = ix.analyzer_version()
        except (OSError, ManifestError) as exc:
            # A file gone (a manifest naming a segment no longer there too) is a commit or
            # a rebuild that removed what we were opening: read CURRENT again.  The same
            # generation failing three times running is damage.
            if removed(exc) and tries[-3:] != [generation] * 3:
                raise Again(damaged(folder, exc)) from exc
            raise damaged(folder, exc) from exc
        if version != ANALYZER_VERSION:
            raise SearchkitError(
                f"the index at {folder} was written by another searchkit version; "
                f"{rebuild_hint(folder)}"
            )
        return generation, ix

    return retried(once, 40)


def removed(exc: BaseException | None) -> bool:
    """Whether an error while reading came from a file that is no longer there (a commit or a
    rebuild removed it), said by the error or by what caused it."""
    while exc is not None:
        if isinstance(exc, FileNotFoundError):
            return True
        exc = exc.__cause__
    return False


class Again(Exception):
    """What was being read changed under us (a commit or a rebuild removed it): try again;
    ``error`` is what to say if it keeps changing."""

    def __init__(self, error: SearchkitError):
        super().__init__(str(error))
        self.error = error


def retried(work, attempts: int):
    """``work()``, tried again after a short wait (longer each time) while it raises
    :class:`Again`, at most ``attempts`` times; then the error it carries is raised.  Any
    other exception goes on at once."""
    for attempt in range(attempts):
        try:
            return work()
        except Again as again:
            if attempt == attempts - 1:
                raise again.error from again.__cause__
        time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def damaged(folder: Path, exc: BaseException) -> IndexDamaged:
    """The error for an index that cannot be read as it is, saying what is wrong and what to do."""
    if isinstance(exc, (ForeignObject, EntryError)):
        return IndexDamaged(
            f"the index at {folder} was not written by searchkit or is damaged ({exc}); "
            f"nothing in it was run; {rebuild_hint(folder)}"
        )
    if isinstance(exc, ManifestError):
        what = str(exc)
    elif isinstance(exc, FileNotFoundError):
        what = "a file of it is missing"
    elif isinstance(exc, OSError):
        what = f"reading it failed: {exc.strerror or exc}"
    elif isinstance(exc, EOFError):
        what = "a file of it is truncated"
    elif isinstance(exc, (pickle.UnpicklingError, zlib.error, struct.error)):
        what = "a file of it is corrupt"
    elif isinstance(exc, ValueError):
        what = "a file of it is not as it was written"
    else:
        what = f"reading it failed ({type(exc).__name__})"
    return IndexDamaged(f"the index at {folder} is damaged ({what}); {rebuild_hint(folder)}")


@contextlib.contextmanager
def reading(folder: Path) -> Iterator[None]:
    """Turn what a damaged or truncated index raises while it is read into one clear error.

    Garbled bytes can unpickle into anything, so any other exception is checked against the
    checksums of the index's files: a file that changed since it was written is damage, and
    when every file is as written the exception is a bug and goes on as it is.
    """
    try:
        yield
    except READ_ERRORS as exc:
        raise damaged(folder, exc) from exc
    except SearchkitError:
        raise
    except Exception as exc:
        generation = None
        with contextlib.suppress(SearchkitError):  # (not around the raise below: it is one)
            generation = current_generation(folder)
        if generation is not None and not checksums_match(generation):
            raise damaged(folder, ValueError("corrupt")) from exc
        raise


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[None]:
    """Turn a failed write (full disk, read-only folder) into one clear error."""
    try:
        yield
    except OSError as exc:
        raise write_error(folder, exc) from exc


def write_error(folder: Path, exc: OSError) -> SearchkitError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(
            f"disk full while writing the index at {folder}; the index is as its last commit "
            "left it, nothing half-written is kept: free some space and run again"
        )
    if exc.errno == errno.ELOOP:
        return SearchkitError(
            f"a symbolic link stands where searchkit writes a file of the index at {folder}; "
            "searchkit does not write through links: remove it"
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return SearchkitError(
            f"cannot write the index at {folder}: {exc.strerror}; "
            "give a folder you can write with --index DIR"
        )
    return SearchkitError(f"cannot write the index at {folder}: {exc.strerror or exc}")


# --- durable small files ---------------------------------------------------------------------


def write_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one rename, with the file and its folder fsynced."""
    engine_storage.refuse_link(str(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a killed run of the same pid (or planted: a link goes, unfollowed)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def sync_folder(folder: Path) -> None:
    """fsync the files the generation's table of contents names, then the folder, and record
    their checksums: what a pointer names is on disk, and damage to it can be told from a bug.
    A builder may be writing (or assembling, which removes files) the next commit's segment in
    the same folder meanwhile; those files are not named yet and are left alone."""
    names = _named_files(folder)
    for name in names:
        try:
            fd = os.open(folder / name, os.O_RDONLY)
        except FileNotFoundError:
            continue  # removed since the folder was listed: nothing to sync
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    _fsync_dir(folder)
    _record_checksums(folder, names)


def _named_files(generation: Path) -> list[str]:
    """The files of ``generation`` that its newest table of contents names (the table itself
    included); every file but searchkit's own when no table can be read."""
    names = [
        entry.name
        for entry in os.scandir(generation)
        if entry.is_file(follow_symlinks=False)
        and not entry.name.startswith(".")
        and entry.name not in (CHECKSUMS, MARKER, MTIMES)
    ]
    try:
        table, prefixes = _table_and_segments(generation)
    except Exception:  # noqa: BLE001 - none, or unreadable: take every file
        return names
    return [table] + [name for name in names if name.startswith(prefixes)]


def _table_and_segments(generation: Path) -> tuple[str, tuple[str, ...]]:
    """The manifest of ``generation`` and how the names of the files it names begin (Whoosh's
    table of contents of the same commit, and each segment's); raises what reading the
    manifest raises when it cannot be read."""
    number, segments = engine_storage.committed_table(generation)
    prefixes = (f"_{_INDEX_NAME}_{number}.toc", *(f"{segment}." for segment in segments))
    return MANIFEST, prefixes


CHECKSUMS = "CHECKSUMS.json"
#: Newer mtimes of posts whose text did not change (a checkout touches every file), so that
#: the next run need not read them again.  Advisory: lost or unreadable, posts are re-read.
MTIMES = "MTIMES.json"


def _file_crc(path: str) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _record_checksums(generation: Path, names: list[str]) -> None:
    """``{file: [size, crc32]}`` of the files ``names`` of the generation (those its table of
    contents names).  Whoosh never rewrites a file in place, so a file already recorded with
    its size keeps its checksum."""
    try:
        known = json.loads(read_small(generation / CHECKSUMS))
    except (OSError, ValueError, RecursionError):
        known = {}
    table = {}
    for name in names:
        path = generation / name
        try:
            size = path.stat().st_size
            old = known.get(name) if isinstance(known, dict) else None
            table[name] = old if old and old[0] == size else [size, _file_crc(str(path))]
        except FileNotFoundError:
            continue  # removed since the folder was listed: nothing to record
    write_durably(generation / CHECKSUMS, json.dumps(table).encode("ascii"))


def checksums_match(generation: Path) -> bool:
    """Whether every file the index names is as it was written (``True`` when no checksums
    were recorded: there is nothing to hold against it)."""
    try:
        table = json.loads(read_small(generation / CHECKSUMS))
    except (OSError, ValueError, RecursionError):
        return True
    try:
        _, prefixes = _table_and_segments(generation)
    except Exception:  # noqa: BLE001 - an unreadable table of contents is damage itself
        return False
    for name, (size, crc) in table.items():
        if not name.startswith(prefixes):
            continue
        path = generation / name
        try:
            if path.stat().st_size != size or _file_crc(str(path)) != crc:
                return False
        except OSError:
            return False
    return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_mtimes(generation: Path) -> dict[tuple[str, str], tuple[int, float, str]]:
    """``(root, path) -> (size, mtime, digest)`` recorded by :func:`write_mtimes`."""
    try:
        rows = json.loads(read_small(generation / MTIMES, MAX_TABLE))
        return {(str(r), str(p)): (int(n), float(m), str(d)) for r, p, n, m, d in rows}
    except (OSError, ValueError, TypeError, RecursionError):
        return {}


def write_mtimes(generation: Path, table: dict[tuple[str, str], tuple[int, float, str]]) -> None:
    rows = sorted([root, path, *sig] for (root, path), sig in table.items())
    write_durably(generation / MTIMES, json.dumps(rows, ensure_ascii=False).encode("utf-8"))


def write_state(folder: Path, **values) -> None:
    state = read_state(folder)
    state.update(values)
    write_durably(folder / STATE, json.dumps(state, ensure_ascii=False).encode("utf-8"))


def read_state(folder: Path) -> dict:
    """``STATE.json`` as a dict; missing, unreadable or not an object, it is empty."""
    try:
        state = json.loads(read_small(folder / STATE))
    except (OSError, ValueError, RecursionError):
        return {}
    return state if isinstance(state, dict) else {}


def folder_size(path: Path) -> int:
    """The bytes of the files under ``path``; a writer's file that vanishes as it is counted
    (a temporary file, a segment merged away) counts for nothing."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def read_current(folder: Path, read):
    """``read(ix)`` on the current Whoosh index of ``folder``, opened again when a writer's
    commit removes a file as it is read (that is not damage)."""

    def once():
        ix = open_index(folder)  # (which tries again itself, and says what it found)
        try:
            with reading(folder):
                return read(ix)
        except IndexDamaged as exc:
            if removed(exc):
                raise Again(exc) from exc.__cause__  # a commit removed what was read
            raise

    return retried(once, 20)
