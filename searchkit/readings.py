"""Chinese as people type it: the readings of the archive's own words, made at index time, so
that a Latin word no post holds can be read as pinyin (``taifeng``: 台风; ``xjp``: 习近平) and
a word no post holds can be matched with a word of the same sound (``习进平``: 习近平).

The table lives beside the index (``READINGS.sqlite3``): each word of two to six Chinese
characters that at least two posts hold, its toneless pinyin (pypinyin's phrase dictionary:
银行 is ``yinhang``, 重庆 ``chongqing``), its initials and how many posts hold it; and each of
those words' characters with every reading it may have.  It is made again after each ``index``
run that changed the archive by more than a twentieth (or rebuilt it), from the words of the
index (the readings of the words it had are kept), and a query looks words up in it: pypinyin
is loaded at index time only.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from itertools import product
from pathlib import Path

TABLE = "READINGS.sqlite3"
#: A word of the table: Chinese characters only, two to six of them.
_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,6}")
#: A Latin query word that may be pinyin: letters only.
PINYIN = re.compile(r"[a-z]{2,40}")
#: The most readings of a typed word tried (each character's readings multiplied).
MAX_COMBINATIONS = 256


def is_word(text: str) -> bool:
    """Whether a term may be in the table: two to six Chinese characters."""
    return _WORD.fullmatch(text) is not None


def _pinyin():
    from pypinyin import Style, lazy_pinyin, pinyin

    def reading(word: str) -> str:
        return "".join(lazy_pinyin(word, errors="ignore"))

    def initials(word: str) -> str:
        return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER, errors="ignore"))

    def readings_of(char: str) -> list[str]:  # the commonest first
        return list(dict.fromkeys(pinyin(char, style=Style.NORMAL, heteronym=True)[0]))

    return reading, initials, readings_of


def refresh(folder: Path, generation: Path, words, posts: int = 0) -> None:
    """Write the table of ``words`` (``(word, posts holding it)``) for ``generation``,
    keeping the readings the last table had."""
    path = Path(folder) / TABLE
    known: dict[str, tuple[str, str]] = {}
    chars_known: dict[str, list[str]] = {}
    with contextlib.suppress(sqlite3.Error, OSError):
        if path.is_file() and not path.is_symlink():
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as old:
                known = {
                    w: (r, i)
                    for w, r, i in old.execute("SELECT word, reading, initials FROM words")
                }
                for char, reading in old.execute("SELECT char, reading FROM chars ORDER BY rank"):
                    chars_known.setdefault(char, []).append(reading)
    from .dictionary import known_words

    reading = initials = readings_of = None
    rows, chars = [], {}
    words = [(word, count) for word, count in words if _WORD.fullmatch(word)]
    for word, _ in words:  # the readings of every character the archive's words use
        for char in word:
            if char not in chars:
                chars[char] = chars_known.get(char)
    words = [(word, count) for word, count in words if count >= 2]
    # a word of jieba's dictionary before a run of characters the index holds as a term for
    # another reason (a character pair of a name, a part search mode found)
    in_dictionary = known_words([word for word, _ in words])
    for word, count in words:
        found = known.get(word)
        if found is None:
            if reading is None:
                reading, initials, readings_of = _pinyin()
            found = (reading(word), initials(word))
        rows.append((word, found[0], found[1], count, int(word in in_dictionary)))
    for char, found in chars.items():
        if found is None:
            if readings_of is None:
                reading, initials, readings_of = _pinyin()
            chars[char] = readings_of(char)
    temporary = path.with_name(f".{TABLE}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(temporary)) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute(
            "CREATE TABLE words (word TEXT, reading TEXT, initials TEXT, posts INTEGER, "
            "known INTEGER)"
        )
        db.execute("CREATE TABLE chars (char TEXT, reading TEXT, rank INTEGER)")
        db.executemany("INSERT INTO words VALUES (?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO chars VALUES (?, ?, ?)",
            [(char, r, n) for char, found in chars.items() for n, r in enumerate(found or ())],
        )
        db.execute("CREATE INDEX by_reading ON words (reading)")
        db.execute("CREATE INDEX by_initials ON words (initials)")
        db.execute("CREATE INDEX by_char ON chars (char)")
        db.execute("INSERT INTO meta VALUES ('generation', ?)", (_stamp(generation),))
        db.execute("INSERT INTO meta VALUES ('posts', ?)", (str(posts),))
        db.commit()
    os.replace(temporary, path)


def _stamp(generation: Path) -> str:
    """The generation a table was made for (a rebuild makes another)."""
    return Path(generation).name


#: How much the archive may grow or shrink, as a share of its posts, before its table of
#: readings is made again (an update of a few posts adds few words: the table is kept).
REMAKE_SHARE = 0.05


def stale(folder: Path, generation: Path, posts: int) -> bool:
    """Whether the table is missing, of another generation, or made when the archive held
    more than :data:`REMAKE_SHARE` more or fewer posts than ``posts``."""
    path = Path(folder) / TABLE
    try:
        if path.is_symlink() or not path.is_file():
            return True
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            meta = dict(db.execute("SELECT key, value FROM meta"))
    except (sqlite3.Error, OSError):
        return True
    if meta.get("generation") != _stamp(generation):
        return True
    try:
        made = int(meta.get("posts", "-1"))
    except ValueError:
        return True
    return made < 0 or abs(posts - made) > REMAKE_SHARE * max(made, 1)


class Readings:
    """The table of an index folder, read when a query needs it; empty when there is none or
    it was made for another generation (words added since it was made are not in it)."""

    def __init__(self, folder: Path, generation: Path):
        self.db = None
        path = Path(folder) / TABLE
        try:
            if path.is_symlink() or not path.is_file():
                return
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            stamp = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            if stamp and stamp[0] == _stamp(generation):
                self.db = db
            else:
                db.close()
        except (sqlite3.Error, OSError):
            self.db = None

    def _words(self, sql: str, *args) -> list[tuple[str, int]]:
        if self.db is None:
            return []
        try:
            return [(w, n) for w, n in self.db.execute(sql, args)]
        except sqlite3.Error:
            return []

    def pinyin(self, text: str) -> list[tuple[str, int]]:
        """The archive's words read as ``text`` (toneless pinyin, or the initials of a word of
        three characters or more), most posts first."""
        if not PINYIN.fullmatch(text):
            return []
        found = self._words(
            "SELECT word, posts FROM words WHERE reading = ? ORDER BY known DESC, posts DESC, word",
            text,
        )
        if not found and len(text) >= 3:
            found = self._words(
                "SELECT word, posts FROM words WHERE initials = ? AND length(word) = ? "
                "ORDER BY known DESC, posts DESC, word",
                text,
                len(text),
            )
        return found

    def sounding(self, word: str) -> list[tuple[str, int]]:
        """The archive's words that sound as ``word`` does (another word of its length), most
        posts first: those read as its characters' commonest readings are read, else those of
        any of their readings, else those of a sound mixed up (:func:`fuzzy`)."""
        if self.db is None or not _WORD.fullmatch(word):
            return []
        options = []
        try:
            for char in word:
                found = [
                    r
                    for (r,) in self.db.execute(
                        "SELECT reading FROM chars WHERE char = ? ORDER BY rank", (char,)
                    )
                ]
                if not found:  # a character no word of the archive uses (a rare slip)
                    found = _pinyin()[2](char)
                options.append(found)
        except sqlite3.Error:
            return []
        stages = (
            [found[:1] for found in options],
            options,
            [sorted({v for r in found for v in fuzzy(r)}) for found in options],
        )
        for stage in stages:
            readings = {"".join(parts) for parts in _limited(product(*stage), MAX_COMBINATIONS)}
            marks = ",".join("?" * len(readings))
            found = [
                (w, n)
                for w, n in self._words(
                    f"SELECT word, posts FROM words WHERE reading IN ({marks}) "
                    "AND length(word) = ? ORDER BY known DESC, posts DESC, word",
                    *readings,
                    len(word),
                )
                if w != word
            ]
            if found:
                # a slip changes a character or two: the words keeping most of the typed
                # ones first (纪毁: 击毁 before 机会), then the dictionary's, the most used
                kept = {w: sum(a == b for a, b in zip(w, word, strict=True)) for w, _ in found}
                return sorted(found, key=lambda row: -kept[row[0]])
        return []


#: The sounds an input method's user mixes up (flat and curled initials, front and back
#: nasals, n and l): a reading with one swapped sounds the same to many speakers.
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"))


def fuzzy(reading: str) -> set[str]:
    """A syllable's reading and those it is mixed up with (``jin``: ``jing``; ``san``:
    ``shan``)."""
    found = {reading}
    for one, other in _INITIALS:
        for item in list(found):
            for a, b in ((one, other), (other, one)):
                if item.startswith(a) and not (len(a) == 1 and item[1:2] == "h" and b != "l"):
                    found.add(b + item[len(a) :])
    for long, short in _FINALS:
        for item in list(found):
            if item.endswith(long):
                found.add(item[: -len(long)] + short)
            elif item.endswith(short):
                found.add(item + long[len(short) :])
    return found


def _limited(items, count: int):
    for n, item in enumerate(items):
        if n >= count:
            return
        yield item
