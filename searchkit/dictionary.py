"""jieba's dictionary, and how much of it a query needs.

rjieba builds its segmenter from its whole dictionary (349,046 words) when it is imported:
about 95 ms, which a one-off search from the command line would spend on a query of a few
words.  A segmenter that holds only the dictionary's words found in a text, with the
dictionary's total frequency, cuts that text exactly as the whole one does: jieba's route
through a text weighs each candidate word by ``log(freq / total)``, and only the words the
text holds are candidates (search mode's shorter words and the HMM's test of a run of
characters look up the text's own substrings too).  So a short text is cut by such a
segmenter, its words looked up in a table of the dictionary (``data/jieba-words.sqlite3``,
made from jieba's ``dict.txt``, the same words rjieba holds, by ``python -m
searchkit.dictionary``, which ``make install`` runs); without the table, or for a long
text, or once a process has cut a few texts, the whole dictionary is loaded as before.

This module is the one place that knows rjieba's internals (its default segmenter, and its
extension module loaded without the package that builds that segmenter on import).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from functools import lru_cache
from pathlib import Path

#: The table of the dictionary's words (made at install; without it, the whole dictionary).
WORDS = Path(__file__).resolve().parent / "data" / "jieba-words.sqlite3"
#: A text up to this long is cut with only its own words of the dictionary.
SHORT_TEXT = 256
#: After this many texts cut so, a process loads the whole dictionary (a server, a batch).
PARTIAL_CUTS = 32
#: A word no text holds, which carries the rest of the dictionary's total frequency.
_FILLER = "\ue000\ue0ff\ue001\ue0fe\ue002\ue0fd"

_lock = threading.Lock()
_state = {"cuts": 0}


def full():
    """rjieba's segmenter of the whole dictionary (loaded on first use)."""
    import rjieba

    return rjieba._DEFAULT_JIEBA  # private: the segmenter rjieba's functions use


def loaded() -> bool:
    """Whether the whole dictionary is loaded in this process."""
    module = sys.modules.get("rjieba")
    return module is not None and hasattr(module, "_DEFAULT_JIEBA")


def for_text(text: str):
    """A segmenter that cuts ``text`` as :func:`full` does: of only its words when the table
    is there and the text short, else the whole dictionary."""
    if loaded() or len(text) > SHORT_TEXT or _table() is None:
        return full()
    with _lock:
        _state["cuts"] += 1
        if _state["cuts"] > PARTIAL_CUTS:
            return full()
    return _partial(text)


@lru_cache(maxsize=256)
def _partial(text: str):
    table = _table()
    longest, total = table.meta
    candidates = {
        text[i:j] for i in range(len(text)) for j in range(i + 1, min(len(text), i + longest) + 1)
    }
    rows = table.find(sorted(candidates))
    jieba = _extension().Jieba.empty()
    for word, freq, tag in rows:
        jieba.add_word(word, freq, tag)
    jieba.add_word(_FILLER, total - sum(freq for _, freq, _ in rows), None)
    return jieba


@lru_cache(maxsize=65536)
def has_word(word: str) -> bool:
    """Whether ``word`` is a word of the dictionary (from the table when the whole dictionary
    is not loaded)."""
    if loaded() or _table() is None:
        return full().has_word(word)
    return bool(_table().find([word]))


def tags_of(words: list[str]) -> dict[str, str]:
    """The part-of-speech tag jieba's dictionary gives each of ``words`` it holds."""
    table = _table()
    if table is None:
        return {}
    return {word: tag or "" for word, _freq, tag in table.find(list(words))}


def known_words(words: list[str]) -> set[str]:
    """Those of ``words`` that are words of the dictionary."""
    table = _table()
    if table is None or loaded():
        segmenter = full()
        return {word for word in words if segmenter.has_word(word)}
    return {word for word, _freq, _tag in table.find(list(words))}


class _Table:
    """The table of the dictionary's words, read-only, for any thread."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(
            f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        longest, total = self.db.execute("SELECT longest, total FROM meta").fetchone()
        self.meta = (int(longest), int(total))

    def find(self, words: list[str]) -> list[tuple[str, int, str | None]]:
        found = []
        with _lock:
            for at in range(0, len(words), 900):  # sqlite's limit of parameters, kept low
                part = words[at : at + 900]
                marks = ",".join("?" * len(part))
                found += self.db.execute(
                    f"SELECT word, freq, tag FROM words WHERE word IN ({marks})", part
                ).fetchall()
        found.sort()
        return found


@lru_cache(maxsize=1)
def _table() -> _Table | None:
    if not WORDS.is_file():
        return None
    try:
        return _Table(WORDS)
    except sqlite3.Error:
        return None  # unreadable: the whole dictionary, as without it


def _extension():
    """rjieba's extension module, without its package's import (which builds the default
    segmenter from the whole dictionary)."""
    module = sys.modules.get("rjieba.rjieba")
    if module is None:
        import importlib.util

        spec = importlib.util.find_spec("rjieba")
        folder = Path(spec.origin).parent
        found = next(iter(sorted(folder.glob("rjieba*.so")) + sorted(folder.glob("rjieba*.pyd"))))
        ext = importlib.util.spec_from_file_location("rjieba.rjieba", found)
        module = importlib.util.module_from_spec(ext)
        ext.loader.exec_module(module)
        sys.modules["rjieba.rjieba"] = module  # the package's import reuses it
    return module


def build(out: Path = WORDS) -> int:
    """Write the table from jieba's ``dict.txt`` (the words rjieba holds); a table whose cut
    of a few sentences is not rjieba's own is not kept.  Returns the number of words."""
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None:
        raise SystemExit("jieba is not installed: the table is made from its dict.txt")
    source = Path(spec.origin).parent / "dict.txt"
    rows = {}
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            parts = line.split()
            if parts:
                rows[parts[0]] = (int(parts[1]), parts[2] if len(parts) > 2 else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    db = sqlite3.connect(temporary)
    with db:
        db.execute(
            "CREATE TABLE words (word TEXT PRIMARY KEY, freq INTEGER NOT NULL, tag TEXT)"
            " WITHOUT ROWID"
        )
        db.executemany(
            "INSERT INTO words VALUES (?, ?, ?)", ((w, f, t) for w, (f, t) in rows.items())
        )
        db.execute("CREATE TABLE meta (longest INTEGER, total INTEGER)")
        db.execute(
            "INSERT INTO meta VALUES (?, ?)",
            (max(map(len, rows)), sum(freq for freq, _ in rows.values())),
        )
    db.close()
    temporary.replace(out)
    _table.cache_clear()
    _partial.cache_clear()
    for sentence in _CHECKS:
        if _partial(sentence).tokenize(sentence, "search") != full().tokenize(sentence, "search"):
            out.unlink()
            _table.cache_clear()
            raise SystemExit(f"jieba's dict.txt ({source}) is not rjieba's dictionary: not kept")
    return len(rows)


#: Sentences whose cut by the table and by rjieba must agree (names the HMM makes up, long
#: words, numbers and Latin words among them).
_CHECKS = (
    "香港将军澳一座新建数据中心今日正式启用，可容纳两千个机柜",
    "杨昊现效力于哪支球队？中华人民共和国国务院新闻办公室举行发布会",
    "2023年GDP增长5.2%，iPhone销量下降；让-皮埃尔在巴黎说",
)


if __name__ == "__main__":
    print(f"{build():,} words of jieba's dictionary in {WORDS}")
