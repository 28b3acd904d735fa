"""Whoosh and numpy imported without the modules they pull in for nothing a search uses.

A one-off search pays for every module its process imports, and a few modules of Whoosh and
numpy import, at their start, whole modules for one name that only a feature searchkit never
uses calls: ``whoosh.compat`` imports ``urlretrieve`` from ``urllib.request`` (http, email,
ssl, sockets), ``whoosh.reading`` the ``cached_property`` package (asyncio), the query and
analysis modules the English stemmers and variations (dozens of regular expressions), the
storage modules ``shutil`` and ``tempfile`` (for writing); numpy's matrix and polynomial
modules import ``numpy.linalg`` (and with it numpy's typing aliases).

While each of those modules is imported, a stand-in takes the place of what it asks for: a
function that imports the real module when first called, or the standard library's equal.
Afterwards the real module is imported as usual by whatever asks for it, and nothing changes
for a process that imported it before.  Should a new release ask a stand-in for a name it
does not hold, the module is imported again the ordinary way.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from importlib.machinery import PathFinder


def _forward(module: str, name: str):
    """A function that imports ``module`` when called and calls its ``name``."""

    def forward(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = f"{module}.{name}, imported when first called (searchkit._lean)"
    return forward


#: Each module imported lean: the modules it asks for, each with the names it takes (a
#: forwarding function unless given).
_ASKS: dict[str, dict[str, dict[str, object]]] = {
    "whoosh.compat": {"urllib.request": {"urlretrieve": None}},
    "whoosh.reading": {"cached_property": {"cached_property": functools.cached_property}},
    "whoosh.query.terms": {"whoosh.lang.morph_en": {"variations": None}},
    "whoosh.analysis.morph": {
        "whoosh.lang.dmetaphone": {"double_metaphone": None},
        "whoosh.lang.porter": {"stem": None},
    },
    "whoosh.analysis.analyzers": {"whoosh.lang.porter": {"stem": None}},
    "whoosh.filedb.compound": {"shutil": {"copyfileobj": None}},  # for writing
    "whoosh.filedb.filestore": {"tempfile": {"gettempdir": None}},  # for a temporary storage
    "numpy.matrixlib.defmatrix": {"numpy.linalg": {"matrix_power": None}},
    "numpy.lib._polynomial_impl": {"numpy.linalg": {"eigvals": None, "inv": None, "lstsq": None}},
}


def _stand_in(name: str, names: dict[str, object]) -> types.ModuleType:
    module = types.ModuleType(name, "a stand-in while a module imports (searchkit._lean)")
    for attribute, value in names.items():
        setattr(module, attribute, _forward(name, attribute) if value is None else value)
    return module


class _Loader:
    def __init__(self, loader, asks: dict[str, dict[str, object]]):
        self.loader = loader
        self.asks = asks

    def __getattr__(self, name):  # get_source, get_code...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        stand_ins = {
            name: _stand_in(name, names)
            for name, names in self.asks.items()
            if name not in sys.modules
        }
        sys.modules.update(stand_ins)
        try:
            self.loader.exec_module(module)
        except ImportError:
            self._leave(stand_ins)
            self.loader.exec_module(module)  # the stand-in lacks a name: the ordinary way
        finally:
            self._leave(stand_ins)

    @staticmethod
    def _leave(stand_ins: dict[str, types.ModuleType]) -> None:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


class Lean:
    """A finder on ``sys.meta_path`` for the modules of :data:`_ASKS` only."""

    def find_spec(self, name, path, target=None):
        asks = _ASKS.get(name)
        if asks is None:
            return None
        spec = PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, asks)
        return spec


def install() -> None:
    if not any(isinstance(finder, Lean) for finder in sys.meta_path):
        sys.meta_path.insert(0, Lean())
