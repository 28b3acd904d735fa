"""A post's stored fields read back: inflated to a bound, unpickled to plain values only, and
checked to be what searchkit writes."""

from __future__ import annotations

import zlib

from .. import safepickle


def stored_fields(data: bytes) -> dict:
    """A post's stored fields from their bytes in a segment (an empty dict for none)."""
    return checked_fields(safepickle.loads(inflated(data))) if data else {}


#: The most bytes a post's stored fields inflate to (a post keeps at most a million
#: characters of text): zlib can make a thousand times its input, and an index's bytes do not
#: choose how much is allocated.
MAX_STORED_BYTES = 32 * 1024 * 1024


def inflated(data: bytes) -> bytes:
    from ..errors import IndexDamaged

    inflate = zlib.decompressobj()
    out = inflate.decompress(data, MAX_STORED_BYTES)
    if inflate.unconsumed_tail:
        raise IndexDamaged("a post's stored fields are larger than searchkit writes")
    return out


#: The most values one post's stored fields may hold (its tags, categories...): what a post
#: read from a file can have (searchkit keeps at most 1,000 tags and 1,000 categories).
MAX_STORED_VALUES = 10_000


def checked_fields(stored) -> dict:
    """A post's stored fields as searchkit writes them: a dict of names to text, numbers,
    dates, lists of text, and the ``meta`` dict of plain values; anything else (a nested tree
    of lists, a list holding itself) is damage, said as such rather than walked."""
    from datetime import datetime

    from ..errors import IndexDamaged

    plain = (str, int, float, bool, type(None), datetime)
    if not isinstance(stored, dict) or len(stored) > 64:
        raise IndexDamaged("a post's stored fields are not what searchkit writes")
    count = 0
    for name, value in stored.items():
        if not isinstance(name, str):
            raise IndexDamaged("a post's stored fields are not what searchkit writes")
        if isinstance(value, list | tuple):
            count += len(value)
            ok = all(isinstance(item, plain) for item in value)
        elif isinstance(value, dict):
            count += len(value)
            ok = all(isinstance(k, str) and isinstance(v, plain) for k, v in value.items())
        else:
            ok = isinstance(value, plain)
        if not ok or count > MAX_STORED_VALUES:
            raise IndexDamaged(f"a post's stored field {name[:40]!r} is not what searchkit writes")
    return stored
