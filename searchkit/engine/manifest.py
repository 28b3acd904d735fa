"""The manifest: what a generation holds, as plain values searchkit reads itself.

Whoosh keeps an index's schema and its list of segments as one pickle (the table of
contents, ``_MAIN_N.toc``).  searchkit writes that file for Whoosh's own tools but never
reads it: every commit also writes ``MANIFEST.json`` (like tantivy's ``meta.json``), which
holds the analyzer's configuration and, for each segment, its id, its post count, its
deleted posts and its fields' total lengths.  Reading it builds no object the index names:
the schema is made by searchkit's code from the configuration's plain values
(:func:`searchkit.schema.build_schema`), every value is checked against bounds, and a
checksum of the rest is checked on every read, so a flipped byte is damage, not a score.

A segment's post count is bounded by its file: every post takes at least a byte of the
segment's length column, so a manifest cannot make a reader allocate for posts its folder
does not hold.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass

from ..folding import FOLDS

#: The manifest's file in a generation folder.
MANIFEST = "MANIFEST.json"
#: The most bytes read of a manifest (a user dictionary of a few hundred thousand words).
MAX_BYTES = 64 * 1024 * 1024
#: How a segment's id looks (Whoosh's random ids: 16 lower-case letters and digits).
SEGMENT_ID = re.compile(r"[a-z0-9]{1,32}\Z")
#: The largest count the manifest may hold (Whoosh's field lengths are 64-bit sums).
MAX_COUNT = 2**62


class ManifestError(ValueError):
    """A manifest that is not as searchkit writes one."""


@dataclass(frozen=True)
class SegmentEntry:
    """One segment as the manifest lists it."""

    id: str
    posts: int
    deleted: tuple[int, ...]
    lengths: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Manifest:
    """A generation's commit: its number, the analyzer's configuration (plain values) and
    its segments."""

    generation: int
    analyzer: dict
    segments: tuple[SegmentEntry, ...]


def segment_file(indexname: str, segment_id: str) -> str:
    """The compound file a segment's postings, columns and stored fields are in."""
    return f"{indexname}_{segment_id}.seg"


def encode(generation: int, analyzer: dict, segments) -> bytes:
    """The manifest of a commit: ``segments`` are Whoosh segment objects (their id, post
    count, deleted posts and field lengths are written)."""
    body = {
        "format": 1,
        "generation": int(generation),
        "analyzer": analyzer,
        "segments": [
            {
                "id": segment.segid,
                "posts": int(segment.doc_count_all()),
                "deleted": sorted(int(n) for n in segment.deleted_docs()),
                "lengths": {
                    name: int(total)
                    for name, total in sorted(getattr(segment, "_fieldlengths", {}).items())
                },
            }
            for segment in segments
        ],
    }
    return json.dumps({"checksum": checksum(body), **body}, ensure_ascii=False).encode("utf-8")


def checksum(body: dict) -> str:
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def decode(data: bytes, folder: str, indexname: str) -> Manifest:
    """The manifest in ``data``, every value checked; a segment's file must be a regular file
    of ``folder`` at least as large as its post count.  Raises :class:`ManifestError`."""
    try:
        found = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ManifestError("the manifest is not JSON") from exc
    if not isinstance(found, dict) or set(found) != {
        "checksum",
        "format",
        "generation",
        "analyzer",
        "segments",
    }:
        raise ManifestError("the manifest does not hold what searchkit writes")
    given = found.pop("checksum")
    if given != checksum(found):
        raise ManifestError("the manifest does not match its checksum")
    if found["format"] != 1:
        raise ManifestError(f"the manifest is in format {found['format']!r}")
    generation = _count(found["generation"], "generation")
    analyzer = check_analyzer(found["analyzer"])
    if not isinstance(found["segments"], list):
        raise ManifestError("the manifest's segments are not a list")
    segments = []
    seen: set[str] = set()
    for entry in found["segments"]:
        segments.append(_segment(entry, folder, indexname))
        if segments[-1].id in seen:
            raise ManifestError(f"the manifest lists segment {segments[-1].id} twice")
        seen.add(segments[-1].id)
    return Manifest(generation, analyzer, tuple(segments))


def _segment(entry, folder: str, indexname: str) -> SegmentEntry:
    if not isinstance(entry, dict) or set(entry) != {"id", "posts", "deleted", "lengths"}:
        raise ManifestError("a segment of the manifest is not as searchkit writes one")
    segment_id = entry["id"]
    if not isinstance(segment_id, str) or not SEGMENT_ID.match(segment_id):
        raise ManifestError("a segment of the manifest has no valid id")
    posts = _count(entry["posts"], "post count")
    name = segment_file(indexname, segment_id)
    try:
        found = os.lstat(os.path.join(folder, name))
    except FileNotFoundError as exc:
        raise ManifestError(f"the segment file {name} the manifest names is missing") from exc
    if not stat.S_ISREG(found.st_mode):
        raise ManifestError(f"the segment file {name} the manifest names is not a regular file")
    if posts > found.st_size:
        raise ManifestError(
            f"the manifest's segment {segment_id} claims more posts than its file holds"
        )
    deleted = entry["deleted"]
    if not isinstance(deleted, list) or len(deleted) > posts:
        raise ManifestError(f"the manifest's segment {segment_id} deletes more posts than it holds")
    previous = -1
    for number in deleted:
        if type(number) is not int or not previous < number < posts:
            raise ManifestError(
                f"the manifest's segment {segment_id} deletes a post it does not hold"
            )
        previous = number
    lengths = entry["lengths"]
    if not isinstance(lengths, dict) or len(lengths) > 64:
        raise ManifestError(f"the manifest's segment {segment_id} has no valid field lengths")
    for field, total in lengths.items():
        if not isinstance(field, str) or not field.isidentifier():
            raise ManifestError(f"the manifest's segment {segment_id} has no valid field lengths")
        _count(total, "field length")
    return SegmentEntry(segment_id, posts, tuple(deleted), tuple(sorted(lengths.items())))


def _count(value, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise ManifestError(f"the manifest's {what} is not a count")
    return value


def check_analyzer(value) -> dict:
    """The analyzer's configuration as plain values, checked: a user dictionary of
    ``[word, frequency or null, tag or null]``, stop words, a folding OpenCC knows, whether
    jieba's HMM guesses words, and the analyzer's version."""
    keys = {"userdict", "stopwords", "fold", "hmm", "version"}
    if not isinstance(value, dict) or set(value) != keys:
        raise ManifestError("the manifest's analyzer is not as searchkit writes it")
    userdict = value["userdict"]
    if not isinstance(userdict, list):
        raise ManifestError("the manifest's user dictionary is not a list")
    for row in userdict:
        if (
            not isinstance(row, list)
            or len(row) != 3
            or not isinstance(row[0], str)
            or not (row[1] is None or (type(row[1]) is int and 0 <= row[1] <= MAX_COUNT))
            or not (row[2] is None or isinstance(row[2], str))
        ):
            raise ManifestError("a word of the manifest's user dictionary is not valid")
    stopwords = value["stopwords"]
    if not isinstance(stopwords, list) or not all(isinstance(w, str) for w in stopwords):
        raise ManifestError("the manifest's stop words are not a list of words")
    if value["fold"] not in FOLDS:
        raise ManifestError("the manifest's folding is not one OpenCC knows")
    if type(value["hmm"]) is not bool or type(value["version"]) is not int:
        raise ManifestError("the manifest's analyzer is not as searchkit writes it")
    return value
