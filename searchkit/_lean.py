"""Whoosh's import without the two modules it pulls in for nothing searchkit uses.

``whoosh.compat`` imports ``urlretrieve`` from ``urllib.request`` (which imports http, email,
ssl and sockets), and ``whoosh.reading`` the ``cached_property`` package (which imports
asyncio, and with it concurrent.futures and logging) for one decorator the standard library
has: together about 25 ms of every command-line search.  While each of those two Whoosh
modules is imported, a stand-in takes the place of what it asks for; afterwards the real
module is imported as usual by whatever asks for it.  Nothing changes for a process that
imported them before.
"""

from __future__ import annotations

import functools
import sys
import types
from importlib.machinery import PathFinder


def _urlretrieve(*args, **kwargs):
    from urllib.request import urlretrieve

    return urlretrieve(*args, **kwargs)


def _stand_in(name: str) -> types.ModuleType:
    module = types.ModuleType(name, "a stand-in while Whoosh imports (searchkit._lean)")
    if name == "urllib.request":
        module.urlretrieve = _urlretrieve
    else:
        module.cached_property = functools.cached_property
    return module


#: Each Whoosh module, and what it asks for that a stand-in gives it.
_ASKS = {"whoosh.compat": "urllib.request", "whoosh.reading": "cached_property"}


class _Loader:
    def __init__(self, loader, asks: str):
        self.loader = loader
        self.asks = asks

    def __getattr__(self, name):  # get_source, get_code...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        stand_in = None
        if self.asks not in sys.modules:
            stand_in = sys.modules[self.asks] = _stand_in(self.asks)
        try:
            self.loader.exec_module(module)
        finally:
            if stand_in is not None and sys.modules.get(self.asks) is stand_in:
                del sys.modules[self.asks]


class LeanWhoosh:
    """A finder on ``sys.meta_path`` for the two Whoosh modules only."""

    def find_spec(self, name, path, target=None):
        asks = _ASKS.get(name)
        if asks is None:
            return None
        spec = PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, asks)
        return spec


def install() -> None:
    if not any(isinstance(finder, LeanWhoosh) for finder in sys.meta_path):
        sys.meta_path.insert(0, LeanWhoosh())
