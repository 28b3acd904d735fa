"""Index bytes to objects: unpickling limited to the classes a searchkit index holds.

Whoosh keeps the schema, the segment list, term entries and stored fields as pickles, and
a pickle can name any callable in any module.  An index folder travels (committed beside
the posts, copied to a colleague, unpacked from a tarball), so every pickle read from one
goes through :class:`IndexUnpickler`, which builds only the classes on :data:`ALLOWED`:
a crafted index is refused before anything it names is imported or called.
:func:`searchkit.engine.storage.install_safe_unpickling` puts :func:`loads` and :func:`load` in
place of ``pickle`` wherever Whoosh reads an index.
"""

from __future__ import annotations

import io
import pickle
import types

#: Every ``(module, name)`` a searchkit index's pickles refer to: the schema (Whoosh's field,
#: format, column and analyzer classes, searchkit's own), the segment list, and values of
#: stored fields.  Nothing here runs code when called with data from a pickle.
ALLOWED = frozenset(
    {
        ("builtins", "int"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("__builtin__", "long"),  # Whoosh's protocol-2 pickles name int so
        ("_codecs", "encode"),  # protocol 2 writes bytes as a call of this
        ("collections", "defaultdict"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("re", "_compile"),  # a tokenizer's pattern
        ("searchkit.analysis", "AnalyzerConfig"),
        ("searchkit.analysis", "ChineseAnalyzer"),
        ("searchkit.analysis", "FoldFilter"),
        ("searchkit.engine.postings", "CompactPositions"),
        ("searchkit.engine.codec", "SearchkitCodec"),
        ("searchkit.engine.codec", "_Segment"),
        ("searchkit.schema", "ChineseText"),
        ("searchkit.schema", "StringPairs"),
        ("whoosh.analysis.analyzers", "CompositeAnalyzer"),
        ("whoosh.analysis.filters", "LowercaseFilter"),
        ("whoosh.analysis.filters", "StripFilter"),
        ("whoosh.analysis.tokenizers", "IDTokenizer"),
        ("whoosh.analysis.tokenizers", "RegexTokenizer"),
        ("whoosh.columns", "NumericColumn"),
        ("whoosh.columns", "VarBytesColumn"),
        ("whoosh.fields", "COLUMN"),
        ("whoosh.fields", "DATETIME"),
        ("whoosh.fields", "ID"),
        ("whoosh.fields", "KEYWORD"),
        ("whoosh.fields", "STORED"),
        ("whoosh.fields", "Schema"),
        ("whoosh.formats", "Existence"),
        ("whoosh.formats", "Frequency"),
    }
)


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
        return super().find_class(module, name)


def loads(data, **_options):
    """``pickle.loads`` for bytes read from an index."""
    return IndexUnpickler(io.BytesIO(data)).load()


def load(file, **_options):
    """``pickle.load`` for a file of an index."""
    return IndexUnpickler(file).load()


def pickle_module() -> types.ModuleType:
    """A stand-in for the ``pickle`` module whose loaders are :func:`loads` and :func:`load`
    (for code that calls ``pickle.loads``)."""
    module = types.ModuleType("searchkit.safepickle.pickle")
    module.__dict__.update(
        {key: value for key, value in vars(pickle).items() if not key.startswith("__")}
    )
    module.loads, module.load = loads, load
    module.Unpickler = module._Unpickler = IndexUnpickler
    return module
