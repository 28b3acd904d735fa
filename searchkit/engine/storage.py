"""The index folder as Whoosh sees it: storage that never writes through a link, the index
read from its manifest (:mod:`searchkit.engine.manifest`), pickles read through the allow-list
(:mod:`searchkit.safepickle`), snapshots and temporary folders."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import defaultdict

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import FileIndex

from .. import safepickle
from ..errors import LinkRefused
from . import manifest

# --- an index folder is data: no pickle builds what the format does not hold ----------------


class _IndexFile(StructFile):
    """A file of the index whose pickles (a compound file's directory, a term dictionary's
    header) are read through :mod:`searchkit.safepickle`: a crafted index is refused before
    anything it names is imported or called.  Whoosh's own modules are left as they are."""

    def read_pickle(self):
        return safepickle.load(self.file)


# --- an index folder is written, never written through ----------------------------------------


def refuse_link(path: str) -> None:
    """Raise :class:`LinkRefused` if ``path`` is a symbolic link."""
    if os.path.islink(path):
        raise LinkRefused(
            f"{path} is a symbolic link; searchkit writes only files of its own in an index "
            "folder: remove the link"
        )


class IndexStorage(FileStorage):
    """Whoosh's file storage, creating files without following links: a link planted in a
    generation folder is refused, not written through."""

    def create_file(self, name, excl=False, mode="wb", **kwargs):
        path = self._fpath(name)
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        if excl:
            flags |= os.O_EXCL
        try:
            fd = os.open(path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                refuse_link(path)
            raise
        return _IndexFile(os.fdopen(fd, mode), name=name, **kwargs)

    def open_file(self, name, **kwargs):
        """A file of the index, read only if it is a regular file: a link, a pipe or a
        device in its place is an ``OSError`` (read as damage), never followed or waited on."""
        path = self._fpath(name)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file", path)
            os.set_blocking(fd, True)
            handle = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        return _IndexFile(handle, name=name, **kwargs)

    def temp_storage(self, name=None):
        from whoosh.util import random_name

        path = os.path.join(self.folder, name or f"{random_name()}.tmp")
        refuse_link(path)
        storage = IndexStorage(path)
        storage.create()
        return storage


def index_storage(generation) -> IndexStorage:
    """The storage of a generation folder, which must not itself be a link."""
    refuse_link(str(generation))
    return IndexStorage(str(generation))


def open_whoosh_index(generation, schema_for):
    """The Whoosh index in a generation folder, read through its manifest: ``schema_for``
    makes the schema from the analyzer's configuration (plain values)."""
    return SearchkitIndex(index_storage(generation), schema_for)


def create_whoosh_index(generation, schema, analyzer: dict):
    """A new, empty Whoosh index in a generation folder, with its manifest."""
    storage = index_storage(generation).create()
    ix = storage.create_index(schema, INDEX_NAME)
    write_manifest(storage, 0, analyzer, [])
    return ix


INDEX_NAME = "MAIN"  # Whoosh's default index name within a folder


def write_manifest(storage, generation: int, analyzer: dict, segments) -> None:
    """Write a commit's manifest (:mod:`searchkit.engine.manifest`) into ``storage``, as
    Whoosh writes its table of contents: a new file renamed over the old one."""
    data = manifest.encode(generation, analyzer, segments)
    temporary = f"{manifest.MANIFEST}.{os.getpid()}.{threading.get_ident()}.tmp"
    with storage.create_file(temporary) as handle:
        handle.write(data)
    os.replace(
        os.path.join(storage.folder, temporary), os.path.join(storage.folder, manifest.MANIFEST)
    )


def read_manifest(generation) -> manifest.Manifest:
    """The manifest of a generation folder, checked (:class:`manifest.ManifestError`)."""
    folder = str(generation)
    data = read_regular(os.path.join(folder, manifest.MANIFEST), manifest.MAX_BYTES)
    return manifest.decode(data, folder, INDEX_NAME)


def read_regular(path: str, limit: int) -> bytes:
    """The bytes of a file searchkit wrote in an index folder, read only if it is a regular
    file (not a link, a pipe or a device) of at most ``limit`` bytes; an ``OSError`` saying
    why otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if found.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(limit + 1)[:limit]
    finally:
        os.close(fd)


class SearchkitIndex(FileIndex):
    """A generation folder as a Whoosh index whose table of contents is made from the
    manifest: Whoosh's own table (a pickle) is never read.  The manifest is read again when
    its file changes (a commit renames a new one into place)."""

    def __init__(self, storage, schema_for):
        self.storage = storage
        self.indexname = INDEX_NAME
        self._schema = None
        self._schema_for = schema_for
        self._seen: tuple | None = None
        self._manifest: manifest.Manifest | None = None
        self._schema_of: tuple | None = None  # (manifest, the schema made for it)
        self._lock = threading.Lock()
        self._current()  # a missing or damaged manifest fails here

    def _current(self) -> manifest.Manifest:
        path = os.path.join(self.storage.folder, manifest.MANIFEST)
        found = os.lstat(path)
        key = (found.st_ino, found.st_size, found.st_mtime_ns)
        with self._lock:
            if key != self._seen or self._manifest is None:
                self._manifest = read_manifest(self.storage.folder)
                self._seen = key
            return self._manifest

    def latest_generation(self):
        return self._current().generation

    def open_searcher(self):
        """A Whoosh searcher of the last commit, weighting as the engine scores (BM25F with
        :data:`searchkit.engine.scoring.K1` and ``B``, for Whoosh's own matchers)."""
        from whoosh.scoring import BM25F

        from .scoring import K1, B

        return self.searcher(weighting=BM25F(B=B, K1=K1))

    def segment_ids(self) -> set[str]:
        """The committed segments, named as Whoosh's ``segment_id()`` names them."""
        return {whoosh_id(entry.id) for entry in self._current().segments}

    def analyzer_settings(self) -> dict:
        """The analyzer's configuration the index was built with, as plain values."""
        return self._current().analyzer

    def analyzer_version(self) -> int:
        """The version of the analyzer the index was built with."""
        return self.analyzer_settings()["version"]

    def _read_toc(self):
        from whoosh.index import TOC

        from .codec import SearchkitCodec, SearchkitSegment

        found = self._current()
        made = self._schema_of
        if made is None or made[0] is not found:  # made once for each manifest read
            made = self._schema_of = (found, self._schema_for(found.analyzer))
        schema = made[1]
        segments = []
        for entry in found.segments:
            segment = SearchkitSegment(
                SearchkitCodec(),
                INDEX_NAME,
                doccount=entry.posts,
                segid=entry.id,
                deleted=set(entry.deleted) or None,
            )
            segment.compound = True
            segment._fieldlengths = defaultdict(int, entry.lengths)  # private: W3's totals
            segments.append(segment)
        return TOC(schema, segments, found.generation)

    def last_modified(self):
        return os.lstat(os.path.join(self.storage.folder, manifest.MANIFEST)).st_mtime


def whoosh_id(segment_id: str) -> str:
    """A segment's id as Whoosh's ``segment_id()`` gives it (how its files' names begin)."""
    return f"{INDEX_NAME}_{segment_id}"


def committed_table(generation) -> tuple[int, tuple[str, ...]]:
    """The number of the newest commit of a generation and the segments it names (as
    :func:`whoosh_id` names them); raises :class:`manifest.ManifestError` or ``OSError`` when
    none can be read."""
    found = read_manifest(generation)
    return found.generation, tuple(whoosh_id(entry.id) for entry in found.segments)


def remove_unnamed_files(generation) -> None:
    """Remove the segment files and older tables of a generation that its manifest does not
    name (Whoosh's own clean-up)."""
    from whoosh.index import clean_files

    storage = index_storage(generation)
    number, segments = committed_table(generation)
    clean_files(storage, INDEX_NAME, number, [_Named(segment) for segment in segments])


class _Named:
    """A segment as Whoosh's clean-up asks for it: by its id."""

    def __init__(self, segment_id: str):
        self._id = segment_id

    def segment_id(self) -> str:
        return self._id


class IndexSnapshot:
    """An index as its table of contents was when this was made: what a segment builder
    reads of it (Whoosh's writer reads the table again, and a builder in another process
    would race the commit that replaces it)."""

    def __init__(self, ix):
        self.storage = ix.storage
        self.indexname = ix.indexname
        self.schema = ix.schema
        self._toc = ix._read_toc()  # private: the table of contents

    def _read_toc(self):
        return self._toc


def is_temp_folder(name: str, indexname: str) -> bool:
    """Whether ``name`` is a temporary folder of a writer of the index ``indexname``."""
    return name.startswith(indexname) and name.endswith(".tmp")


class _OwnTemporaryFolder:
    """A storage whose temporary storage is one given folder (whatever name is asked for:
    the writer's and its per-document writer's files go to the writer's own folder)."""

    def __init__(self, storage, folder):
        self._storage = storage
        self._folder = folder

    def temp_storage(self, name=None):
        return self._folder

    def __getattr__(self, name):
        return getattr(self._storage, name)


class WriterIndex:
    """An index as a Whoosh writer is given it, with a temporary folder of the writer's own.

    Whoosh gives every writer the index's one temporary folder; the second writer's
    ``makedirs`` fails on it, and the error Whoosh keeps in a local holds the frames above it,
    with all their data, until a garbage collection (an update pauses the collector: the
    posts' table and the walk's files, or a merge's arrays, outlived it)."""

    def __init__(self, ix):
        from whoosh.util import random_name

        self._ix = ix
        self.indexname = ix.indexname
        self.schema = ix.schema
        self.temp_folder = ix.storage.temp_storage(f"{ix.indexname}.{random_name()}.tmp")
        self.storage = _OwnTemporaryFolder(ix.storage, self.temp_folder)

    def _read_toc(self):
        return self._ix._read_toc()  # private: the table of contents
