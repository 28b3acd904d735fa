"""searchkit's engine: the segment format, every use of Whoosh's internals, and the query engine.

An index is a Whoosh index (schema, storage, stored fields, columns, the term dictionary and
the table of contents are Whoosh's), written with searchkit's codec, W3 with these changes
made on the format's own extension points:

* A term's postings are three typed arrays and a blob, which numpy reads from the mapped
  file without a copy (:mod:`.postings`): document numbers (``uint32``), weights
  (``float32``), the end of each posting's positions in the blob (``uint32``), then the
  positions.  The query engine (:mod:`.scoring`) scores whole arrays at a time; Whoosh's own
  matchers read the same arrays as lists (:mod:`.codec`).
* Positions are one array of deltas (1, 2 or 4 bytes each), decoded in C.
* A term found in only a few posts keeps its postings inline in the term dictionary.
* Field lengths are read from their column in one go and kept as a table (:mod:`.arrays`).
* Segment files are read through memory views of the mapped compound file (:mod:`.views`).

The modules, each with one job:

* :mod:`.storage` - the index folder as Whoosh sees it: no link written through, the index
  read from its manifest, pickles read through the allow-list, snapshots and temporary folders;
* :mod:`.postings` - how a term's postings are written and read;
* :mod:`.codec` - Whoosh's codec, segment and per-document reader over those postings;
* :mod:`.building` - turning analysed posts into a segment;
* :mod:`.commits` - committing segments and merging them in tiers;
* :mod:`.arrays` - a segment read as numpy arrays;
* :mod:`.scoring` - the query engine over those arrays;
* :mod:`.order` - the one order of results, for the engine and after the rewards;
* :mod:`.manifest` - a commit's schema and segments as plain, checked values.

Anything that names a private Whoosh attribute is in this package and marked so; a Whoosh
upgrade touches it only.  The format is versioned by :data:`searchkit.store.FORMAT`.
"""

from .order import SCORE_DECIMALS
from .scoring import K1, B, Engine, Found

__all__ = ["B", "K1", "SCORE_DECIMALS", "Engine", "Found"]
