"""Facets: how many of a query's posts each category, tag and year has, counted from the
postings of those fields with one ``bincount`` per segment and field."""

from __future__ import annotations

import numpy as np

#: Each facet's name and the field it counts.
FACETS = (("categories", "categories"), ("tags", "tags"), ("years", "year"))


class Facets:
    """The facet counts of an open index's segments (each field's table of terms and
    postings made once, at its first use)."""

    def __init__(self, schema, segments):
        self.schema = schema
        self.segments = segments
        self._tables: dict[tuple[int, str], tuple[list[str], np.ndarray, np.ndarray]] = {}

    def count(self, matched: np.ndarray) -> dict[str, dict[str, int]]:
        """Each facet's counts over the posts ``matched`` (a boolean array over the index):
        years in order, the others most first, then by name."""
        counted: dict[str, dict[str, int]] = {name: {} for name, _ in FACETS}
        for n, seg in enumerate(self.segments):
            inside = matched[seg.offset : seg.offset + seg.size]
            for name, fieldname in FACETS:
                names, term_of, doc_of = self._table(n, seg, fieldname)
                if not len(doc_of):
                    continue
                hits = np.bincount(term_of[inside[doc_of]], minlength=len(names))
                bucket = counted[name]
                for index in np.flatnonzero(hits):
                    bucket[names[index]] = bucket.get(names[index], 0) + int(hits[index])
        return {
            name: dict(
                sorted(counts.items())
                if name == "years"  # a time line, in order
                else sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            for name, counts in counted.items()
        }

    def _table(self, n: int, seg, fieldname: str):
        """A field's terms in a segment, and for each posting its term and post."""
        key = (n, fieldname)
        if key not in self._tables:
            names, terms, docs = [], [], []
            field = self.schema[fieldname]
            for btext, postings in seg.arrays.terms(fieldname):
                terms.append(np.full(len(postings), len(names), dtype=np.int64))
                docs.append(postings.ids.astype(np.int64))
                names.append(str(field.from_bytes(btext)))
            self._tables[key] = (
                names,
                np.concatenate(terms) if terms else np.zeros(0, np.int64),
                np.concatenate(docs) if docs else np.zeros(0, np.int64),
            )
        return self._tables[key]
