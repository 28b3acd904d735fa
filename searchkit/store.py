"""Where an index lives on disk: its generations, the pointer to the current one, the lock.

An index folder holds one or more Whoosh indexes (``gen-N/``) and a ``CURRENT`` file naming
the one searches use.  Incremental runs write into the current generation (Whoosh commits are
atomic); ``--rebuild`` writes a new generation and then replaces ``CURRENT`` in one rename, so
searches never see a half-built index.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import shutil
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from .analysis import ANALYZER_VERSION
from .errors import IndexLocked, IndexMissing, SearchkitError

DEFAULT_INDEX = "index"
CURRENT = "CURRENT"
LOCK = "LOCK"
STATE = "STATE.json"


def index_dir(given: str | os.PathLike | None) -> Path:
    """The index folder: the one given, else ``$SEARCHKIT_INDEX``, else ``./index``."""
    return Path(given or os.environ.get("SEARCHKIT_INDEX") or DEFAULT_INDEX)


def current_generation(folder: Path) -> Path | None:
    try:
        name = (folder / CURRENT).read_text("utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    path = folder / name
    return path if name and path.is_dir() else None


def new_generation(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name[4:]) for p in folder.glob("gen-*") if p.name[4:].isdigit() and p.is_dir()]
    path = folder / f"gen-{max(numbers, default=0) + 1}"
    path.mkdir()
    return path


def make_current(folder: Path, generation: Path) -> None:
    """Point searches at ``generation`` in one atomic rename."""
    tmp = folder / f".{CURRENT}.{os.getpid()}"
    tmp.write_text(generation.name + "\n", "utf-8")
    os.replace(tmp, folder / CURRENT)


def remove_stale_generations(folder: Path) -> None:
    """Delete generations that are no longer current (left by a rebuild or a crash)."""
    current = current_generation(folder)
    for path in folder.glob("gen-*"):
        if path.is_dir() and (current is None or path.name != current.name):
            shutil.rmtree(path, ignore_errors=True)


def open_index(folder: Path):
    """The current Whoosh index of ``folder``; raises :class:`IndexMissing`."""
    from whoosh import index
    from whoosh.index import EmptyIndexError

    for _attempt in range(5):
        generation = current_generation(folder)
        if generation is None:
            break
        try:
            ix = index.open_dir(str(generation))
        except (EmptyIndexError, FileNotFoundError):
            time.sleep(0.05)  # a rebuild swapped generations under us; read CURRENT again
        except (AttributeError, ImportError, pickle.UnpicklingError, EOFError) as exc:
            raise SearchkitError(
                f"the index at {folder} was written by an incompatible searchkit version "
                f"({type(exc).__name__}); rebuild it: searchkit index PATH --index {folder} --rebuild"
            ) from exc
        if _analyzer_version(ix) != ANALYZER_VERSION:
            raise SearchkitError(
                f"the index at {folder} was written by another searchkit version; "
                f"rebuild it: searchkit index PATH --index {folder} --rebuild"
            )
        return ix
    raise IndexMissing(
        f"no index at {folder}; build one with: searchkit index PATH --index {folder}"
    )


def _analyzer_version(ix) -> int | None:
    try:
        field = ix.schema["body"]
    except KeyError:
        return None
    config = getattr(getattr(field, "analyzer", None), "config", None)
    return getattr(config, "version", None)


def write_state(folder: Path, **values) -> None:
    state = read_state(folder)
    state.update(values)
    tmp = folder / f".{STATE}.{os.getpid()}"
    tmp.write_text(json.dumps(state, ensure_ascii=False), "utf-8")
    os.replace(tmp, folder / STATE)


def read_state(folder: Path) -> dict:
    try:
        return json.loads((folder / STATE).read_text("utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@contextlib.contextmanager
def write_lock(folder: Path, timeout: float, command: str = "searchkit index") -> Iterator[None]:
    """Hold the index's writer lock; wait up to ``timeout`` seconds, then say who holds it.

    The lock is an ``flock`` on ``LOCK``, so a killed writer never leaves it behind.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLocked(_holder_message(folder, timeout)) from None
                time.sleep(0.1)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)


def _holder_message(folder: Path, timeout: float) -> str:
    try:
        holder = json.loads((folder / LOCK).read_text("utf-8"))
        who = f"pid {holder['pid']} on {holder['host']} ({holder['command']}, since {holder['since']})"
    except (OSError, ValueError, KeyError):
        who = "another process"
    return f"index {folder} is locked by {who}; gave up after {timeout:g}s"
