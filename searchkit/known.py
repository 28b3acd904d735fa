"""What an index already holds, beside what a walk finds: each indexed post's root, path,
size, mtime and hash read from columns (:class:`Known`), the walk's files and whole folders
compared with them (:class:`Found`), and the posts whose files went away."""

from __future__ import annotations

import os
from collections.abc import Mapping
from itertools import compress, repeat

from .engine.arrays import index_segments
from .schema import read_signature
from .walking import FolderFiles, file_id

Key = tuple[str, str]  # (root, path): two folders may hold the same relative path
#: The root of posts given to the library (:func:`searchkit.indexer.write_posts`), not read
#: from files.
LIBRARY_ROOT = ""


def apart(paths: list[str]) -> bool:
    """Whether ``paths`` are folders, each given once, none inside another: then a file is
    found at most once, and a folder of plain files can be taken as columns."""
    resolved = []
    for path in paths:
        if not os.path.isdir(path):
            return False
        resolved.append(os.path.realpath(path).rstrip(os.sep) + os.sep)
    resolved.sort()
    return all(not b.startswith(a) for a, b in zip(resolved, resolved[1:], strict=False))


class Found:
    """What the walk found: the keys and files taken one by one, and, when the folders given
    are apart, whole folders compared as columns against the indexed posts (their rows
    marked found; keys are made only for files not indexed before)."""

    def __init__(self, known: Known, whole_folders: bool):
        self.known = known
        self.whole_folders = whole_folders
        self.keys: set[Key] = set()
        self.files: set[str] = set()
        self.roots: set[str] = set()  # roots of the folders taken whole
        self.hit = None
        self._sizes = self._mtimes = None

    def take_folder(self, batch: FolderFiles) -> list[int]:
        """Mark the files of ``batch`` found; returns the numbers of those that changed (or
        are new)."""
        import numpy as np

        if self.hit is None:
            self.hit = np.zeros(len(self.known.sizes), dtype=bool)
            self._sizes = np.asarray(self.known.sizes, dtype=np.int64)
            self._mtimes = np.asarray(self.known.mtimes, dtype=np.float64)
        self.roots.add(batch.root)
        rels = batch.rels
        table = self.known.roots.get(batch.root, {})
        rows = np.fromiter(map(table.get, rels, repeat(-1)), dtype=np.int64, count=len(rels))
        indexed = rows >= 0
        same = np.zeros(len(rels), dtype=bool)
        at = rows[indexed]
        same[indexed] = (self._sizes[at] == np.asarray(batch.sizes, dtype=np.int64)[indexed]) & (
            self._mtimes[at] == np.asarray(batch.mtimes, dtype=np.float64)[indexed]
        )
        self.hit[at] = True
        for number in np.flatnonzero(~indexed).tolist():
            self.keys.add((batch.root, rels[number]))
        return np.flatnonzero(~same).tolist()

    def __contains__(self, key) -> bool:
        if key in self.keys:
            return True
        row = self.known.row(key) if self.hit is not None else None
        return row is not None and bool(self.hit[row])

    def missing(self) -> set[Key]:
        """The indexed posts not found."""
        if self.hit is None:
            return set(self.known.keys() - self.keys)
        import numpy as np

        known = self.known
        rows = np.flatnonzero(~self.hit).tolist()
        return {(known.row_roots[r], known.paths[r]) for r in rows} - self.keys

    def paths(self) -> set[str]:
        """The path (relative to its root) of every file found."""
        found = {path for _root, path in self.keys}
        if self.hit is not None:
            import numpy as np

            found.update(self.known.paths[r] for r in np.flatnonzero(self.hit).tolist())
        return found

    def has_file(self, abspath: str) -> bool:
        """Whether the file at ``abspath`` was found (under any root)."""
        if abspath in self.files:
            return True
        for root in self.roots:
            base = root.rstrip(os.sep) + os.sep
            if abspath.startswith(base):
                rel = file_id(abspath[len(base) :].replace(os.sep, "/"))
                if (root, rel) in self:
                    return True
        return False


def moved_away(missing: set[Key], seen: Found, folders: set[str]) -> set[Key]:
    """Posts of a folder that was moved (``mv arch1 arch2``, then ``index arch2``): a root
    that no longer exists, on strong evidence only: most of its posts turn up, by the same
    relative path, under a folder being indexed, or one of those folders has its name and
    holds some of them.  Its posts are replaced by what is found, and the rest of them,
    deleted before the move, go too.  A missing folder alone (an unmounted disk) deletes
    nothing, nor do a few names two sites share (``about.md``); a root that still exists is
    another folder and keeps its posts.  ``missing`` are the indexed posts not found by
    this run; ``folders`` the folders it indexes."""
    roots = {root for root, _path in missing if root != LIBRARY_ROOT}
    dead = {root for root in roots if not os.path.exists(root)}
    if not dead:
        return set()
    found_paths = seen.paths()
    names = {os.path.basename(folder.rstrip(os.sep)) for folder in folders}
    posts: dict[str, int] = {}
    turned_up: dict[str, int] = {}
    for root, path in missing:
        if root in dead:
            posts[root] = posts.get(root, 0) + 1
            turned_up[root] = turned_up.get(root, 0) + (path in found_paths)
    moved = {
        root
        for root, found in turned_up.items()
        if found and (2 * found > posts[root] or os.path.basename(root.rstrip(os.sep)) in names)
    }
    return {key for key in missing if key[0] in moved}


class Known(Mapping):
    """``(root, path) -> (size, mtime, digest)`` of every indexed post, kept as a table of rows
    per root and three lists (a tuple is made only for the posts asked about: an update of one
    post asks about 200,000 and reads few)."""

    def __init__(self) -> None:
        self.roots: dict[str, dict[str, int]] = {}  # root -> path -> row
        self.row_roots: list[str] = []
        self.paths: list[str] = []
        self.sizes: list[int] = []
        self.mtimes: list[float] = []
        self.digests: list[str] = []

    def extend(self, keys, sizes, mtimes, digests) -> None:
        """Add rows, one per ``(root, path)`` key."""
        pairs = list(keys)
        self._add([r for r, _ in pairs], [p for _, p in pairs], sizes, mtimes, digests)

    def extend_root(self, root: str, paths: list[str], sizes, mtimes, digests) -> None:
        """Add rows of posts under one root."""
        self._add([root] * len(paths), paths, sizes, mtimes, digests)

    def _add(self, roots: list[str], paths: list[str], sizes, mtimes, digests) -> None:
        start = len(self.sizes)
        if len(set(roots)) <= 1 and roots:
            table = self.roots.setdefault(roots[0], {})
            table.update(zip(paths, range(start, start + len(paths)), strict=True))
        else:
            for row, (root, path) in enumerate(zip(roots, paths, strict=True), start):
                self.roots.setdefault(root, {})[path] = row
        self.row_roots += roots
        self.paths += paths
        self.sizes += sizes
        self.mtimes += mtimes
        self.digests += digests

    def row(self, key: Key) -> int | None:
        table = self.roots.get(key[0])
        return None if table is None else table.get(key[1])

    def __getitem__(self, key: Key) -> tuple[int, float, str]:
        row = self.row(key)
        if row is None:
            raise KeyError(key)
        return self.sizes[row], self.mtimes[row], self.digests[row]

    def __setitem__(self, key: Key, value: tuple[int, float, str]) -> None:
        row = self.row(key)
        if row is None:
            self.extend([key], [value[0]], [value[1]], [value[2]])
            return
        self.sizes[row], self.mtimes[row], self.digests[row] = value

    def same(self, key: Key, size: int, mtime: float) -> bool:
        """Whether ``key`` is indexed with this size and mtime."""
        row = self.row(key)
        return row is not None and self.sizes[row] == size and self.mtimes[row] == mtime

    def digest_of(self) -> Mapping[Key, str]:
        """The indexed digest of each key, as a mapping."""
        return _Digests(self)

    def __contains__(self, key) -> bool:
        return self.row(key) is not None

    def __iter__(self):
        for root, table in self.roots.items():
            for path in table:
                yield root, path

    def __len__(self) -> int:
        return sum(len(table) for table in self.roots.values())


class _Digests(Mapping):
    def __init__(self, known: Known):
        self.known = known

    def __getitem__(self, key: Key) -> str:
        row = self.known.row(key)
        if row is None:
            raise KeyError(key)
        return self.known.digests[row]

    def __contains__(self, key) -> bool:
        return key in self.known

    def __iter__(self):
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


def signatures(ix, out: Known | None = None) -> Known:
    """What every indexed post was (:class:`Known`, added to ``out`` when given), read from
    columns.

    A segment's columns are decoded in one piece each and split at NULs (a path holds none),
    so a 200,000-post index is read in C loops rather than one call per post."""
    out = Known() if out is None else out
    with index_segments(ix) as segments:
        for segment in segments:
            live = segment.live().tolist()
            joined_sigs = segment.joined_values("sig")
            joined_paths = segment.joined_values("path") if joined_sigs else None
            if joined_sigs and joined_paths:
                _add_rows(out, joined_sigs, joined_paths, live)
                continue
            paths = segment.byte_values("path")
            sigs = segment.byte_values("sig")
            if not all(sigs):  # a post without a signature: read one by one
                for path, sig, alive in zip(paths, sigs, live, strict=True):
                    if alive and sig:
                        root, size, mtime, digest = read_signature(sig)
                        out[(root, path.decode("utf-8"))] = (size, mtime, digest)
                continue
            _add_rows(out, b"\0".join(sigs), b"\0".join(paths), live)
    return out


def _add_rows(out: Known, sigs: bytes, paths: bytes, live: list[bool]) -> None:
    """Add a segment's posts (their signatures and paths joined by NULs) to ``out``."""
    fields = sigs.decode("utf-8").split("\0")
    names = paths.decode("utf-8").split("\0")
    roots, sizes, mtimes, digests = (fields[i::4] for i in range(4))
    if not all(live):  # deleted posts left out
        roots, sizes, mtimes, digests, names = (
            list(compress(column, live)) for column in (roots, sizes, mtimes, digests, names)
        )
    sizes, mtimes = list(map(int, sizes)), list(map(float, mtimes))
    if len(set(roots)) == 1:
        out.extend_root(roots[0], names, sizes, mtimes, digests)
    else:
        out.extend(zip(roots, names, strict=True), sizes, mtimes, digests)
