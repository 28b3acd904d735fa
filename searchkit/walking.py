"""A tree to post files: walking folders (symlinks, loops, machinery folders, static pages),
looking files up as columns of names, sizes and mtimes, and each file's id in the index."""

from __future__ import annotations

import operator
import os
import stat
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from .documents import Problem, SourceFile

POST_SUFFIXES = (".md", ".markdown", ".html")
SKIPPED_DIRS = frozenset(
    {"_site", "_layouts", "_includes", "_sass", "_data", "_plugins", "node_modules", "vendor"}
)


class FolderFiles(Sequence):
    """The post files of one folder, found at once, as columns: names, sizes and mtimes.  It
    reads as a list of :class:`SourceFile`, made only for the files asked for (an update
    compares the columns and reads few)."""

    def __init__(self, root: str, folder: str, prefix: str, names, sizes, mtimes):
        self.root = root
        self.folder = folder
        self.prefix = prefix  # the folder's path relative to the root, with a slash, or ""
        self.names = names
        self.sizes = sizes
        self.mtimes = mtimes
        self._rels: list[str] | None = None

    @property
    def rels(self) -> list[str]:
        """Each file's path relative to the root: its id in the index."""
        if self._rels is None:
            prefix = self.prefix
            rels = [prefix + name for name in self.names] if prefix else list(self.names)
            if not _encodable("\n".join(rels)):
                rels = [file_id(rel) for rel in rels]
            self._rels = rels
        return self._rels

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, number):
        if isinstance(number, slice):
            return [self[n] for n in range(*number.indices(len(self)))]
        name = self.names[number]
        return SourceFile(
            self.root,
            file_id(self.prefix + name),
            os.path.join(self.folder, name),
            self.sizes[number],
            self.mtimes[number],
        )


# --- walking ------------------------------------------------------------------------------


def walk(
    roots: Iterable[str | os.PathLike],
    problems: list[Problem],
    drafts: bool = False,
    jobs: int = 1,
) -> Iterator[SourceFile]:
    """Every post file under ``roots`` (files or folders), with its document id.

    Hidden folders and Jekyll's machinery folders are not entered, nor ``_drafts/`` unless
    ``drafts`` (or unless it is the folder given); symbolic links are followed only while they
    stay inside the root, and never twice to the same place.  With ``jobs`` > 1 a folder of
    many posts has its files looked up by two processes (see `stat_columns`).
    """
    for batch in walk_batches(roots, problems, drafts, jobs):
        yield from batch


def walk_batches(
    roots: Iterable[str | os.PathLike],
    problems: list[Problem],
    drafts: bool = False,
    jobs: int = 1,
    meanwhile: Callable[[], None] | None = None,
) -> Iterator[list[SourceFile]]:
    """What :func:`walk` finds, a list per folder (or per file given): the files of one
    folder have different paths, so a caller can take a folder at once.  ``meanwhile`` is
    work of the caller's that may run while a child process looks up a large folder's files
    (the child then takes more of them)."""
    skipped_dirs = SKIPPED_DIRS if drafts else SKIPPED_DIRS | {"_drafts"}
    for given in roots:
        given_path = Path(given)
        if not given_path.exists():
            problems.append(Problem(str(given), "no such file or folder"))
            continue
        if given_path.is_file():
            real = given_path.resolve()
            st = real.stat()
            yield [SourceFile(str(real.parent), real.name, str(real), st.st_size, st.st_mtime)]
            continue
        root = given_path.resolve()
        jekyll = (root / "_posts").is_dir() or (root / "_config.yml").is_file()
        yield from _walk_folder(root, problems, skipped_dirs, jobs, jekyll, meanwhile)


_NAME = operator.attrgetter("name")


def _walk_folder(
    root: Path,
    problems: list[Problem],
    skipped_dirs: frozenset[str],
    jobs: int,
    jekyll: bool,
    meanwhile: Callable[[], None] | None = None,
) -> Iterator[list[SourceFile]]:
    """The posts under ``root``; in a Jekyll site, a file outside ``_posts`` is a post only
    if it opens with front matter."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[int, set[int]] = {}  # device -> inodes of the files found
    root_str = str(root)
    prefix = root_str.rstrip(os.sep) + os.sep
    cut = len(prefix)
    stack = [(root_str, jekyll)]
    while stack:
        folder, in_site = stack.pop()
        try:
            st = os.stat(folder)
            listed = os.listdir(folder)
        except OSError as exc:
            problems.append(Problem(_rel(folder, root_str), f"cannot read folder: {exc.strerror}"))
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        # a Jekyll site found below the folder given keeps its own rules
        jekyll = in_site or "_posts" in listed or "_config.yml" in listed
        folder_rel = "/" + _rel(folder, root_str) + "/"
        plain = None
        if not (jekyll and "/_posts/" not in folder_rel):  # no page to check: maybe at once
            plain = _plain_folder(listed, folder, prefix, root_str, skipped_dirs, jobs, meanwhile)
        if plain is not None:
            files, subdirs, device, inodes = plain
            if seen_files.get(device, set()).isdisjoint(inodes):
                seen_files.setdefault(device, set()).update(inodes)
                stack.extend(
                    reversed([(path, jekyll) for path, key in subdirs if key not in seen_dirs])
                )
                if files:
                    yield files
                continue
        try:
            with os.scandir(folder) as found_entries:
                entries = list(found_entries)
        except OSError as exc:
            problems.append(Problem(_rel(folder, root_str), f"cannot read folder: {exc.strerror}"))
            continue
        subdirs = []
        found: list[tuple[str, str, os.stat_result | None]] = []  # (rel, path, stat if known)
        for entry in sorted(entries, key=_NAME):
            name = entry.name
            if entry.is_file(follow_symlinks=False):  # most entries: no link, no folder
                if name[0] == "." or not name.lower().endswith(POST_SUFFIXES):
                    continue
                path = entry.path
                rel = file_id(path[cut:] if os.sep == "/" else path[cut:].replace(os.sep, "/"))
                found.append((rel, path, None))  # looked up below, all together
                continue
            rel = entry.path[cut:]
            if os.sep != "/":
                rel = rel.replace(os.sep, "/")
            rel = file_id(rel)
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not os.path.exists(target):
                    if name.endswith(POST_SUFFIXES):
                        problems.append(Problem(rel, "broken symbolic link"))
                    continue
                if target != root_str and not target.startswith(prefix):
                    if name.endswith(POST_SUFFIXES) or os.path.isdir(target):
                        problems.append(Problem(rel, "symbolic link leads out of the tree"))
                    continue
            try:
                st = entry.stat()
            except OSError as exc:
                problems.append(Problem(rel, f"cannot read: {exc.strerror}"))
                continue
            if stat.S_ISDIR(st.st_mode):
                if name.startswith(".") or name in skipped_dirs:
                    continue
                if (st.st_dev, st.st_ino) in seen_dirs:
                    continue  # a link back up the tree
                subdirs.append(entry.path)
            elif (
                stat.S_ISREG(st.st_mode)
                and name.lower().endswith(POST_SUFFIXES)
                and not name.startswith(".")
            ):
                found.append((rel, entry.path, st))
        infos = stat_many([path for _rel, path, st in found if st is None], jobs)
        pages_only = jekyll and "/_posts/" not in folder_rel
        stack.extend(reversed([(path, jekyll) for path in subdirs]))
        yield list(_one_by_one(found, iter(infos), pages_only, root_str, seen_files, problems))


def _plain_folder(
    listed: list[str], folder: str, prefix: str, root_str: str, skipped_dirs, jobs, meanwhile=None
):
    """A folder of plain post files and subfolders (no links, nothing that cannot be looked
    up, no file twice) at once: ``(FolderFiles or None, its subfolders as (path, (device,
    inode)), the files' device, their inodes)``; None for any other folder."""
    suffixes = POST_SUFFIXES
    names = [
        name
        for name in listed
        if (name.endswith(suffixes) or name.lower().endswith(suffixes)) and name[0] != "."
    ]
    base = folder.rstrip(os.sep) + os.sep
    kept = []
    if len(names) < len(listed):  # the rest: folders to enter, links, other files
        others = set(listed).difference(names)
        for name in sorted(others):
            try:
                st = os.lstat(base + name)
            except OSError:
                return None
            if stat.S_ISDIR(st.st_mode):
                if name[0] != "." and name not in skipped_dirs:
                    kept.append((base + name, (st.st_dev, st.st_ino)))
            elif not stat.S_ISREG(st.st_mode):
                return None  # a link, or something stranger: one by one
    if not names:
        return None, kept, 0, set()
    names.sort()
    columns = stat_columns([base + name for name in names], jobs, meanwhile)
    if columns is None:
        return None
    sizes, mtimes, devices, numbers, regular = columns
    inodes = set(numbers)
    if not all(regular) or len(inodes) != len(names) or len(set(devices)) != 1:
        return None  # a link or a folder, hard links to one file, a mount inside
    rel = "" if folder == root_str else folder[len(prefix) :]
    if os.sep != "/":
        rel = rel.replace(os.sep, "/")
    files = FolderFiles(root_str, folder, rel + "/" if rel else "", names, sizes, mtimes)
    return files, kept, devices[0], inodes


def _one_by_one(found, looked_up, pages_only, root_str, seen_files, problems):
    """The files of a folder one at a time: pages to check, errors, links to the same file."""
    for rel, path, st in found:
        if pages_only and not _starts_with_front_matter(path):
            problems.append(Problem(rel, _STATIC))
            if st is None:
                next(looked_up)
            continue
        info = (st.st_size, st.st_mtime, st.st_dev, st.st_ino) if st else next(looked_up)
        if isinstance(info, OSError):
            problems.append(Problem(rel, f"cannot read: {info.strerror}"))
            continue
        inodes = seen_files.setdefault(info[2], set())
        if info[3] not in inodes:  # else the same file, reached through a link
            inodes.add(info[3])
            yield SourceFile(root_str, rel, path, info[0], info[1])


#: A folder with at least this many post files has them looked up (``stat``) by two
#: processes when ``jobs`` allows: at 200,000 posts the kernel's lookups alone take 0.9 s on a
#: 2-core machine, about half of a one-post update.
PARALLEL_STAT = 20_000

FileInfo = tuple[int, float, int, int]  # size, mtime, device, inode


def stat_many(paths: list[str], jobs: int = 1) -> list[FileInfo | OSError]:
    """``(size, mtime, device, inode)`` of each file, or the error that stopped its lookup.

    With ``jobs`` > 1 and many paths, a forked child looks up the second half while this
    process does the first; the child sends its answers back as packed arrays."""
    if jobs < 2 or len(paths) < PARALLEL_STAT or not hasattr(os, "fork"):
        return [_stat(path) for path in paths]
    half = len(paths) // 2
    first, data = _with_child(paths, half, _stat_all, _pack)
    second = _unpack(data)
    if len(second) != len(paths) - half:  # the child died: look up here
        second = _stat_all(paths[half:])
    return first + second


def _stat_all(paths: list[str]) -> list[FileInfo | OSError]:
    return [_stat(path) for path in paths]


def stat_columns(paths: list[str], jobs: int = 1, meanwhile: Callable[[], None] | None = None):
    """Each file's size, mtime, device, inode and whether it is a regular file (not
    following links), as five lists, or None when any could not be looked up.  With two
    processes, ``meanwhile`` runs here while the child looks up two thirds of the files
    (else half)."""
    if jobs < 2 or len(paths) < PARALLEL_STAT or not hasattr(os, "fork"):
        return _columns(paths)
    half = len(paths) // 3 if meanwhile else len(paths) // 2
    first, data = _with_child(paths, half, _columns, _pack_columns, meanwhile)
    count = len(paths) - half
    if first is None or len(data) != 8 * len(_CODES) * count:  # an error, or the child died
        return None if first is None else _columns(paths)
    second = []
    for number, code in enumerate(_CODES):
        column = array(code)
        column.frombytes(data[number * 8 * count : (number + 1) * 8 * count])
        second.append(column.tolist())
    return tuple(a + b for a, b in zip(first, second, strict=True))


def _with_child(paths: list[str], at: int, look_up, pack, meanwhile=None):
    """``look_up(paths[:at])`` here (after ``meanwhile``) and ``look_up(paths[at:])`` in a
    forked child, which sends ``pack`` of its answer back; returns this process's answer and
    the child's bytes (short or empty if it died)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: look up, send, leave without running any cleanup
        try:
            os.close(read_end)
            data = pack(look_up(paths[at:]))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    if meanwhile:
        meanwhile()
    here = look_up(paths[:at])
    with os.fdopen(read_end, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    return here, data


def _pack_columns(found) -> bytes:
    """The columns of :func:`_columns` as arrays one after the other (nothing for None)."""
    if found is None:
        return b""
    return b"".join(
        array(code, column).tobytes() for code, column in zip(_CODES, found, strict=True)
    )


_CODES = "qdQQq"  # the columns' array types


def _columns(paths: list[str]):
    try:
        found = [os.lstat(path) for path in paths]
    except OSError:
        return None
    regular = stat.S_ISREG
    return (
        [st.st_size for st in found],
        [st.st_mtime for st in found],
        [st.st_dev for st in found],
        [st.st_ino for st in found],
        [int(regular(st.st_mode)) for st in found],
    )


def _stat(path: str) -> FileInfo | OSError:
    try:
        st = os.stat(path)
    except OSError as exc:
        return exc
    return st.st_size, st.st_mtime, st.st_dev, st.st_ino


def _pack(infos: list[FileInfo | OSError]) -> bytes:
    """Sizes (or minus the error number), mtimes, devices and inodes as four arrays."""
    sizes, mtimes, devices, inodes = array("q"), array("d"), array("Q"), array("Q")
    for info in infos:
        if isinstance(info, OSError):
            info = (-(info.errno or 1), 0.0, 0, 0)
        sizes.append(info[0])
        mtimes.append(info[1])
        devices.append(info[2])
        inodes.append(info[3])
    return b"".join(a.tobytes() for a in (sizes, mtimes, devices, inodes))


def _unpack(data: bytes) -> list[FileInfo | OSError]:
    count = len(data) // 32
    if count * 32 != len(data):
        return []
    sizes, mtimes, devices, inodes = array("q"), array("d"), array("Q"), array("Q")
    for number, column in enumerate((sizes, mtimes, devices, inodes)):
        column.frombytes(data[number * 8 * count : (number + 1) * 8 * count])
    return [
        (size, mtime, device, inode) if size >= 0 else OSError(-size, os.strerror(-size))
        for size, mtime, device, inode in zip(sizes, mtimes, devices, inodes, strict=True)
    ]


_STATIC = "no front matter outside _posts: a static file of the site, not a post"


def _starts_with_front_matter(path: str) -> bool:
    """In a Jekyll site only files that open with front matter are pages."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return True  # let the reader report it
    return head.removeprefix(b"\xef\xbb\xbf").startswith(b"---")


def _rel(path: str, root: str) -> str:
    return file_id(os.path.relpath(path, root).replace(os.sep, "/"))


def file_id(rel: str) -> str:
    """A file's path relative to its root as its id in the index: text, with each byte of
    the name that is not UTF-8 written as ``\\xNN`` (ids are stored, printed and typed as
    text; such a byte reaches Python as a lone surrogate, which no text encoding takes)."""
    if _encodable(rel):
        return rel
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
