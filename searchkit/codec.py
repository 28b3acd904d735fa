"""The names under which indexes written before :mod:`searchkit.engine` pickled its classes.

Every index's table of contents names the codec, segment and positions format classes by the
module they lived in then; they are found here (and allowed by :mod:`searchkit.safepickle`
under both names), so that those indexes open as they did.
"""

from .engine.codec import SearchkitCodec, _Segment
from .engine.postings import CompactPositions

__all__ = ["CompactPositions", "SearchkitCodec", "_Segment"]
