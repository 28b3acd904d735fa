"""A post file to a post: decoding bytes, reading front matter, dates and titles (the files
come from :mod:`searchkit.walking`)."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date, datetime

from .bodytext import body_to_text, first_autolink
from .errors import SearchkitError

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
