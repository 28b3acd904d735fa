"""Index bytes to objects: unpickling limited to the classes a searchkit index holds.

Whoosh keeps a compound file's directory, a term dictionary's header, inline postings and
stored fields as pickles, and a pickle can name any callable in any module.  An index folder
travels (committed beside the posts, copied to a colleague, unpacked from a tarball), so
every pickle searchkit reads from one goes through :class:`IndexUnpickler`, which builds
only the plain values on :data:`ALLOWED`: a crafted index is refused before anything it
names is imported or called.  searchkit's own file objects and term reader call it
(:mod:`searchkit.engine.storage`, :mod:`searchkit.engine.codec`); Whoosh's modules are never
changed.
"""

from __future__ import annotations

import io
import pickle

#: Every ``(module, name)`` the pickles searchkit reads from an index refer to: a compound
#: file's directory, a term dictionary's header and inline postings, and stored fields (the
#: schema and the segment list are read from the manifest, never from a pickle).  Nothing
#: here runs code when called with data from a pickle, nor allocates more than its bytes.
ALLOWED = frozenset(
    {
        ("builtins", "int"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("__builtin__", "long"),  # Whoosh's protocol-2 pickles name int so
        ("_codecs", "encode"),  # protocol 2 writes bytes as a call of this (Latin-1 only)
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }
)


def _latin1(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as protocol 2 calls it for bytes: Latin-1 of a string, nothing
    else (another codec, punycode, can take time quadratic in what it is given)."""
    if encoding not in ("latin1", "latin-1") or errors != "strict" or not isinstance(text, str):
        raise ForeignObject("_codecs", f"encode(..., {str(encoding)[:20]!r})")
    return text.encode("latin-1")


class ForeignObject(pickle.UnpicklingError):
    """A pickle in an index names something no searchkit index holds."""

    def __init__(self, module: str, name: str):
        super().__init__(f"it refers to {module}.{name}, which no searchkit index holds")
        self.module = module
        self.name = name


class IndexUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that finds only the classes on :data:`ALLOWED`."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise ForeignObject(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        return super().find_class(module, name)


def loads(data, **_options):
    """``pickle.loads`` for bytes read from an index."""
    return IndexUnpickler(io.BytesIO(data)).load()


def load(file, **_options):
    """``pickle.load`` for a file of an index."""
    return IndexUnpickler(file).load()
