"""The writer's lock of an index folder: one writer at a time (``flock`` on ``LOCK``), a
second told who holds it and since when, and never a lock kept by a child process that
outlives its parent."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .engine import storage as engine_storage
from .errors import IndexLocked
from .store import LOCK, read_small, writing

#: Descriptors of the locks this process holds: closed in every forked child, so that a
#: child that outlives its parent can never keep the index locked.
_HELD: set[int] = set()


def _close_inherited_locks() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)


@contextlib.contextmanager
def write_lock(folder: Path, timeout: float, command: str = "searchkit index") -> Iterator[None]:
    """Hold the index's writer lock; wait up to ``timeout`` seconds, then say who holds it.

    The lock is an ``flock`` on ``LOCK``, so a killed writer never leaves it behind.
    """
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        engine_storage.refuse_link(str(folder / LOCK))
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    _HELD.add(fd)
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
            "host": _host(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command,
        }
        with contextlib.suppress(OSError):  # who holds it is a courtesy, not the lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)


def _host() -> str:
    import socket  # here: a search takes no lock

    return socket.gethostname()


def _holder_message(folder: Path, timeout: float) -> str:
    try:
        holder = json.loads(read_small(folder / LOCK).decode("utf-8"))
        pid, host = int(holder["pid"]), holder["host"]
        who = f"pid {pid} on {host} ({holder['command']}, since {holder['since']})"
        if host == _host() and not _alive(pid):
            who = f"another process (pid {pid}, which wrote the lock, has ended)"
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        who = "another process"
    return f"index {folder} is locked by {who}; gave up after {timeout:g}s"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
