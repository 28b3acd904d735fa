"""Files to posts: walking a tree, decoding bytes, reading front matter, dates and titles."""

from __future__ import annotations

import errno
import hashlib
import operator
import os
import re
import stat
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .bodytext import body_to_text, first_autolink
from .errors import SearchkitError

POST_SUFFIXES = (".md", ".markdown", ".html")
SKIPPED_DIRS = frozenset(
    {"_site", "_layouts", "_includes", "_sass", "_data", "_plugins", "node_modules", "vendor"}
)
_NAME_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})-")
_HAS_YEAR = re.compile(r"\d{4}")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$|<h[1-6][^>]*>(.*?)</h[1-6]>", re.M | re.I)
_TITLE_MAX = 80
#: The most characters of a post's text that are indexed and stored: about 3 MB of Chinese,
#: far beyond any news post, and a bound on the memory one post can take (a 50 MB file
#: would otherwise need gigabytes).  The rest is left out with a warning.
MAX_TEXT = 1_000_000


@dataclass(slots=True)
class SourceFile:
    """A file found by the walk: where it is and the id it gets in the index."""

    root: str
    path: str  # relative to root, with forward slashes: the document id
    abspath: str
    size: int
    mtime: float


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


@dataclass
class Post:
    """One post, read and ready to index."""

    path: str
    title: str
    body: str
    date: datetime | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    url: str | None = None
    root: str = ""
    size: int = 0
    mtime: float = 0.0
    digest: str = ""
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self):
        # what a person writes: one string is one tag or category; a date may be ISO text
        self.tags = _keyword_list(self.tags, "tags")
        self.categories = _keyword_list(self.categories, "categories")
        if self.date is not None and not isinstance(self.date, datetime):
            if not isinstance(self.date, (date, str)):
                raise SearchkitError(
                    f"a post's date is a datetime, a date or ISO text, not {self.date!r}"
                )
            try:
                self.date = parse_date(self.date)
            except ValueError as exc:
                raise SearchkitError(f"a post's date cannot be read: {self.date!r}") from exc

    @classmethod
    def from_text(cls, path: str, text: str) -> Post:
        """A post from the text of a post file (front matter, then Markdown or HTML), known
        by ``path``, read as a file would be; raises :class:`SkipFile` for an unpublished
        one."""
        data = text.encode("utf-8")
        return parse_post(data, SourceFile("", path, "", len(data), 0.0))


def _keyword_list(value, name: str) -> list[str]:
    """Tags or categories as a list of strings: one string is one keyword."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise SearchkitError(f"{name} is a string or a list of strings, not {value!r}")


@dataclass
class Problem:
    """A file that was skipped, or read with a warning, and why."""

    path: str
    reason: str
    skipped: bool = True


class SkipFile(SearchkitError):
    """Raised while reading a file that is not to be indexed; the message says why."""


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


# --- decoding -----------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str | None]:
    """Text of a file's bytes, and a warning when bytes had to be replaced.

    UTF-8 (with or without BOM) and UTF-16 with BOM first, then GB18030 and Big5 for legacy
    archives.  Raises :class:`SkipFile` for binary files.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            text = data.decode("utf-16", errors="replace")
            return text, "invalid UTF-16 bytes replaced"
    if b"\x00" in data:
        raise SkipFile("binary file (contains NUL bytes)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    if bad <= max(8, len(data) // 2000):
        return text, f"{bad} invalid UTF-8 byte sequence(s) replaced"
    for legacy in _legacy_candidates(data):
        try:
            return data.decode(legacy), None
        except UnicodeDecodeError:
            continue
    legacy = _legacy_candidates(data)[0]
    text = data.decode(legacy, errors="replace")
    return text, f"decoded as {legacy} with {text.count(chr(0xFFFD))} invalid byte(s) replaced"


def _legacy_candidates(data: bytes) -> list[str]:
    """GB18030 and Big5, the likelier first (asked of charset-normalizer)."""
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536], cp_isolation=["gb18030", "big5"]).best()
    if best is not None and best.encoding == "big5":
        return ["big5", "gb18030"]
    return ["gb18030", "big5"]


# --- front matter -------------------------------------------------------------------------


def split_front_matter(text: str) -> tuple[dict, str, str | None]:
    """Front matter, body and a warning (broken YAML, or front matter Jekyll would not read).

    YAML between ``---`` lines (closed by ``---`` or YAML's ``...``), or TOML between
    ``+++`` lines, read where the file opens; after leading blank lines too, with a warning
    that Jekyll would show it as text.  Raises :class:`SkipFile` for YAML whose aliases would
    expand past a small bound (a 2 KB alias bomb expands to gigabytes).
    """
    opening = _FRONT_OPEN.match(text)
    if opening is None:
        return {}, text, None
    toml = opening.group(1) == "+++"
    closing = (_TOML_CLOSE if toml else _YAML_CLOSE).search(text, opening.end())
    if closing is None:
        return {}, text, None  # an opening rule and no closing one: not front matter
    raw, body = text[opening.end() : closing.start()], text[closing.end() :]
    notes = []
    if opening.start(1):
        notes.append("front matter after blank lines: read, though Jekyll shows it as text")
    if toml:
        notes.append("TOML front matter (+++): read, though Jekyll reads only YAML")
    try:
        meta = _load_toml(raw) if toml else _load_yaml(raw)
    except SkipFile:
        raise
    except Exception as exc:  # YAML and TOML errors come in many classes
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        kind = "TOML" if toml else "YAML"
        notes.append(f"front matter is not valid {kind} ({reason}); read as a post without it")
        return {}, body, "; ".join(notes)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        notes.append("front matter is not a mapping; ignored")
        meta = {}
    return meta, body, "; ".join(notes) or None


_FRONT_OPEN = re.compile(r"\A(?:[ \t]*\n)*(---|\+\+\+)[ \t]*\n")
_YAML_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.MULTILINE)
_TOML_CLOSE = re.compile(r"^\+\+\+[ \t]*(?:\n|\Z)", re.MULTILINE)
#: The most YAML aliases (``*name``) one post's front matter may use: real front matter uses
#: none or a few; each one may stand for a whole tree, and trees of aliases grow as powers.
MAX_ALIASES = 64


def _load_yaml(raw: str):
    from frontmatter.default_handlers import YAMLHandler

    if "*" not in raw:  # no alias: libyaml's loader, the fast one
        import yaml

        return YAMLHandler().load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    data = YAMLHandler().load(raw, Loader=_counting_loader())
    if not _within(data, MAX_EXPANDED):
        raise SkipFile(
            f"front matter whose aliases expand past {MAX_EXPANDED:,} values or characters "
            "(an alias bomb?): skipped"
        )
    return data


#: The most values and characters front matter may stand for once its aliases are expanded
#: (what reading its title, tags and dates may walk): real front matter is a few hundred.
MAX_EXPANDED = 1_000_000


def _within(value, budget: int) -> bool:
    """Whether ``value``, with each alias expanded as often as it is used, holds at most
    ``budget`` values and characters; stops counting as soon as it is past."""
    stack = [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if isinstance(item, str | bytes):
            budget -= len(item)
        elif isinstance(item, dict):
            budget -= len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set):
            budget -= len(item)
            stack.extend(item)
        if budget < 0:
            return False
    return True


def _counting_loader():
    """A safe YAML loader that refuses front matter with more than :data:`MAX_ALIASES`."""
    import yaml

    class Loader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    raise SkipFile(
                        f"front matter uses more than {MAX_ALIASES} YAML aliases (an alias "
                        "bomb?): skipped"
                    )
            return super().compose_node(parent, index)

    return Loader


def _load_toml(raw: str):
    import tomllib

    return tomllib.loads(raw)


_OFFSET_GAP = re.compile(r"\s+([+-]\d\d:?\d\d|Z)$")
_GMT_OFFSET = re.compile(r"\s*\b(?:GMT|UTC)\s*(?:([+-])(\d{1,2})(?::?(\d\d))?)?\s*$")


def _iso_offset(match: re.Match) -> str:
    sign, hours, minutes = match.groups()
    if sign is None:
        return " +00:00"
    return f" {sign}{int(hours):02d}:{minutes or '00'}"


def parse_date(value) -> datetime:
    """A front-matter date in any common form; raises ValueError when it cannot be read."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    if not _HAS_YEAR.search(text):
        raise ValueError(text)
    if "GMT" in text or "UTC" in text:  # GMT+8 is eight hours ahead (not POSIX's Etc/GMT+8)
        text = _GMT_OFFSET.sub(_iso_offset, text)
    try:  # the common Jekyll form, "2022-06-09 00:02:35 +0800", without dateutil's cost
        parsed = datetime.fromisoformat(_OFFSET_GAP.sub(r"\1", text))
    except ValueError:
        pass
    else:
        if parsed.year >= 1000:
            return parsed
    from dateutil import parser

    try:
        parsed = parser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            parsed = parser.parse(text, default=datetime(1, 1, 1))
        except (ValueError, OverflowError, parser.ParserError) as exc:
            raise ValueError(text) from exc
    if parsed.year < 1000:
        raise ValueError(text)
    return parsed


def _cut(text: str, limit: int) -> str:
    """The start of ``text``, at most ``limit`` characters, ended at a line break if one is
    near."""
    cut = text.rfind("\n", limit - 10_000, limit)
    return text[: cut if cut > 0 else limit]


def _date_from_name(name: str) -> datetime | None:
    match = _NAME_DATE.match(os.path.basename(name))
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _terms(meta: dict, warnings: list[str], *keys: str) -> list[str]:
    """Categories or tags: a YAML list or a space-separated string, under any of ``keys``;
    at most :data:`MAX_TERMS` of them, each at most :data:`MAX_TERM` characters."""
    out: dict[str, None] = {}  # in order, each once
    long = 0
    for key in keys:
        value = meta.get(key)
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple, set)) else _scalar(value).split()
        for item in items:
            if item is None:
                continue
            term = _scalar(item).strip()
            if len(term) > MAX_TERM:
                long += 1
                term = term[:MAX_TERM]
            if term:
                out[term] = None
                if len(out) > MAX_TERMS:
                    break
    terms = list(out)
    name = keys[0]
    if len(terms) > MAX_TERMS:
        warnings.append(f"more than {MAX_TERMS:,} {name}: the first {MAX_TERMS:,} are kept")
        terms = terms[:MAX_TERMS]
    if long:
        warnings.append(f"{long:,} {name} over {MAX_TERM} characters: cut to {MAX_TERM}")
    return terms


def _scalar(value) -> str:
    """A front-matter value as text, as Jekyll writes it: ``true``, not ``True``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: Caps on what front matter may hold (each with a warning): titles, and tags and categories
#: in number and length.  Far beyond any real post; a bound on the work one post can make.
MAX_TITLE = 1_000
MAX_TERMS = 1_000
MAX_TERM = 100


def _title_from_body(raw_body: str, text: str) -> str:
    match = _HEADING.search(raw_body)
    if match:
        candidate = body_to_text(match.group(1) or match.group(2) or "")
        if candidate:
            return candidate[:_TITLE_MAX]
    first = text.split("\n", 1)[0].strip() if text else ""
    return first[:_TITLE_MAX] + ("…" if len(first) > _TITLE_MAX else "")


# --- posts --------------------------------------------------------------------------------


#: The most bytes of one file read: what :data:`MAX_TEXT` characters of the widest
#: encodings (and their markup) can take; the rest of a larger file is not read.
MAX_BYTES = 16 * MAX_TEXT

_OPEN_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def open_post(source: SourceFile) -> int:
    """A descriptor of the post's file, opened without blocking and without following a
    link it became since the walk (a link inside the tree is read where it leads), checked
    to be a regular file; raises :class:`SkipFile` otherwise."""
    path = source.abspath
    for attempt in (0, 1):
        try:
            fd = os.open(path, _OPEN_FLAGS)
            break
        except OSError as exc:
            if exc.errno != errno.ELOOP or attempt:
                raise SkipFile(f"cannot read: {exc.strerror}") from exc
            path = os.path.realpath(path)  # a link: only to a file inside the tree
            root = os.path.realpath(source.root) if source.root else ""
            if not root or os.path.commonpath([root, path]) != root:
                raise SkipFile("a link to a file outside the folders indexed: skipped") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SkipFile("not a regular file (a pipe or a device): skipped")
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_post(source: SourceFile) -> Post:
    """Read one file into a :class:`Post`; raises :class:`SkipFile` when it is not indexed.
    At most :data:`MAX_BYTES` are read, whatever the file's size."""
    fd = open_post(source)
    try:
        size = os.fstat(fd).st_size
        chunks, left = [], MAX_BYTES
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise SkipFile(f"cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    cut = len(data) >= MAX_BYTES and size > MAX_BYTES
    if cut:
        end = data.rfind(b"\n", len(data) - 65536)
        data = data[: end + 1] if end > 0 else data
    post = parse_post(data, source)
    if cut:
        post.warnings.append(
            f"a file of {size / 1e6:,.0f} MB: the first {MAX_BYTES / 1e6:,.0f} MB are read"
        )
    return post


def parse_post(data: bytes, source: SourceFile) -> Post:
    """A :class:`Post` from a file's bytes."""
    if not data.strip():
        raise SkipFile("empty file" if not data else "blank file (only white space)")
    warnings: list[str] = []
    text, warning = decode(data)
    if warning:
        warnings.append(warning)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    meta, raw_body, warning = split_front_matter(text)
    if warning:
        warnings.append(warning)
    if meta.get("published", True) is False:  # only a real false hides a post, as in Jekyll
        raise SkipFile("published: false")
    if len(raw_body) > 4 * MAX_TEXT:  # markup and all: no need to convert what is cut
        raw_body = _cut(raw_body, 4 * MAX_TEXT)
    body = body_to_text(raw_body)
    if len(body) > MAX_TEXT:
        body = _cut(body, MAX_TEXT)
    if len(text) > MAX_TEXT and len(body) >= MAX_TEXT - 10_000:
        warnings.append(
            f"a very long post: only the first {len(body):,} characters of its text are "
            f"indexed (the file has {len(text):,})"
        )
    title_value = meta.get("title")
    raw_title = "" if title_value is None else _scalar(title_value)
    title = " ".join(raw_title[: 4 * MAX_TITLE].split())
    if len(title) > MAX_TITLE:
        warnings.append(
            f"a title of {len(raw_title):,} characters: the first {MAX_TITLE:,} are kept"
        )
        title = title[:MAX_TITLE]
    if not title:
        title = _title_from_body(raw_body, body)
    post_date = None
    if meta.get("date") not in (None, ""):
        try:
            post_date = parse_date(meta["date"])
        except ValueError:
            post_date = _date_from_name(source.path)
            fallback = "the file name's date" if post_date else "no date"
            warnings.append(f"date {str(meta['date']).strip()!r} cannot be read; using {fallback}")
    else:
        post_date = _date_from_name(source.path)
    url = None
    for key in ("url", "source", "source_url", "link"):
        if isinstance(meta.get(key), str) and meta[key].strip().startswith(("http:", "https:")):
            url = meta[key].strip()
            break
    url = url or first_autolink(raw_body)
    return Post(
        path=source.path,
        title=title,
        body=body,
        date=post_date,
        categories=_terms(meta, warnings, "categories", "category"),
        tags=_terms(meta, warnings, "tags", "tag"),
        url=url,
        root=source.root,
        size=source.size,
        mtime=source.mtime,
        digest=hashlib.blake2b(data, digest_size=16).hexdigest(),
        warnings=warnings,
    )
