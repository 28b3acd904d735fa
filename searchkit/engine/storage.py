"""The index folder as Whoosh sees it: storage that never writes through a link, pickles
read through the allow-list (:mod:`searchkit.safepickle`), snapshots and temporary folders."""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import stat
import sys
import threading

from whoosh.filedb.filestore import FileStorage

from .. import safepickle
from ..errors import LinkRefused

# --- an index folder is data: no pickle builds what the format does not hold ----------------

#: The Whoosh modules that read pickles from an index (the table of contents, compound
#: files' directories, term dictionaries and entries, stored fields and column pages).
_PICKLE_READERS = (
    "whoosh.compat",
    "whoosh.index",
    "whoosh.filedb.fileindex",
    "whoosh.filedb.structfile",
    "whoosh.filedb.compound",
    "whoosh.filedb.filetables",
    "whoosh.codec.whoosh3",
    "whoosh.columns",
)


_installed = False
_own = threading.local()
_everywhere = False


@contextlib.contextmanager
def own_index():
    """Within this block (in this thread), every pickle Whoosh reads is a searchkit index's:
    one naming a class the format does not hold is refused (:class:`ForeignObject`)."""
    install_safe_unpickling()
    _own.depth = getattr(_own, "depth", 0) + 1
    try:
        yield
    finally:
        _own.depth -= 1


def read_only_own_indexes() -> None:
    """Refuse foreign classes in every pickle this process reads (the command line, which
    opens only searchkit indexes)."""
    global _everywhere
    _everywhere = True
    install_safe_unpickling()


def _strict() -> bool:
    return _everywhere or getattr(_own, "depth", 0) > 0


def _loads(data, *args, **kwargs):
    """``pickle.loads`` for Whoosh: through :mod:`searchkit.safepickle` first; a pickle of a
    class searchkit's format does not hold is refused while searchkit reads its own index, and
    read by ``pickle`` itself otherwise (another program's Whoosh index in the same process)."""
    try:
        return safepickle.loads(data)
    except safepickle.ForeignObject:
        if _strict():
            raise
        return pickle.loads(data, *args, **kwargs)


def _load(file, *args, **kwargs):
    """``pickle.load`` for Whoosh, as :func:`_loads`."""
    at = file.tell()
    try:
        return safepickle.load(file)
    except safepickle.ForeignObject:
        if _strict():
            raise
        file.seek(at)
        return pickle.load(file, *args, **kwargs)


def install_safe_unpickling() -> None:
    """Have every Whoosh module that reads pickles read them through :func:`_loads` and
    :func:`_load` (each module-level reference to ``pickle``, ``pickle.loads`` or
    ``pickle.load`` is replaced: Whoosh imports them by name).  Done once, when searchkit
    first opens an index, never on import; for any index but searchkit's, reading is
    unchanged."""
    global _installed
    if _installed:
        return
    import importlib

    for name in _PICKLE_READERS:
        importlib.import_module(name)
    standin = safepickle.pickle_module()
    standin.loads, standin.load = _loads, _load
    swaps = ((pickle, standin), (pickle.loads, _loads), (pickle.load, _load))
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "whoosh" or name.startswith("whoosh.")):
            continue
        for key, value in list(vars(module).items()):
            for unsafe, safe in swaps:
                if value is unsafe:
                    setattr(module, key, safe)
    _installed = True


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
        from whoosh.filedb.structfile import StructFile

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
        return StructFile(os.fdopen(fd, mode), name=name, **kwargs)

    def open_file(self, name, **kwargs):
        """A file of the index, read only if it is a regular file: a link, a pipe or a
        device in its place is an ``OSError`` (read as damage), never followed or waited on."""
        from whoosh.filedb.structfile import StructFile

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
        return StructFile(handle, name=name, **kwargs)

    def temp_storage(self, name=None):
        from whoosh.util import random_name

        path = os.path.join(self.folder, name or f"{random_name()}.tmp")
        refuse_link(path)
        storage = IndexStorage(path)
        storage.create()
        return storage


def index_storage(generation) -> IndexStorage:
    """The storage of a generation folder, which must not itself be a link."""
    install_safe_unpickling()
    refuse_link(str(generation))
    return IndexStorage(str(generation))


def open_whoosh_index(generation):
    """The Whoosh index in a generation folder."""
    return index_storage(generation).open_index(INDEX_NAME)


def create_whoosh_index(generation, schema):
    """A new, empty Whoosh index in a generation folder."""
    return index_storage(generation).create().create_index(schema, INDEX_NAME)


INDEX_NAME = "MAIN"  # Whoosh's default index name within a folder


def committed_table(generation) -> tuple[int, tuple[str, ...]]:
    """The number of the newest table of contents of a generation and the ids of the
    segments it names; raises what Whoosh raises when none can be read."""
    from whoosh.index import TOC

    toc = TOC.read(index_storage(generation), INDEX_NAME)
    return toc.generation, tuple(segment.segment_id() for segment in toc.segments)


def remove_unnamed_files(generation) -> None:
    """Remove the segment files and older tables of a generation that its newest table of
    contents does not name (Whoosh's own clean-up)."""
    from whoosh.index import TOC, clean_files

    storage = index_storage(generation)
    toc = TOC.read(storage, INDEX_NAME)
    clean_files(storage, INDEX_NAME, toc.generation, toc.segments)


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


class _WriterIndex:
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
