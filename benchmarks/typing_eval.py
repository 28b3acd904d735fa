"""Chinese as people type it, over zh-news: a title word typed through an input method.

Three sets, made afresh from the shared posts, the same every run (a fixed seed): a word of
two to four Chinese characters is drawn from a post's title (jieba's default cut; a word of
jieba's dictionary that at least five posts hold) and typed

* (a) as toneless pinyin (``taifeng``),
* (b) as its initials, for words of three characters or more (``xjp``),
* (c) with one character replaced by another of the same reading, making a string no post
  holds (``习进平``).

A query succeeds when one of its top 3 hits holds the intended word.  Beside it, ``--exact``
(what was typed, nothing read into it) on the same queries.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

SEED = 20261206
PER_SET = 150
HAN = re.compile(r"[\u4e00-\u9fff]{2,4}")


def make_sets(posts: Path, ix) -> dict[str, list[tuple[str, str]]]:
    from pypinyin import Style, lazy_pinyin

    from searchkit.dictionary import known_words
    from searchkit.documents import read_post
    from searchkit.query import typed_words
    from searchkit.walking import walk

    rng = random.Random(SEED)
    analyzer = ix.searcher().schema["body"].analyzer
    sources = sorted(walk([str(posts)], []), key=lambda source: source.path)
    rng.shuffle(sources)
    words: list[str] = []
    for source in sources[:3000]:
        post = read_post(source)
        words += [w for w in typed_words(analyzer, post.title) if HAN.fullmatch(w)]
    words = sorted(set(words) & known_words(sorted(set(words))))
    rng.shuffle(words)
    held = [w for w in words[:1500] if ix.search(f'"{w}"', limit=1, exact=True).total >= 5]
    by_sound: dict[str, list[str]] = {}
    for char in sorted({c for w in held for c in w}):
        by_sound.setdefault(lazy_pinyin(char)[0], []).append(char)
    sets: dict[str, list[tuple[str, str]]] = {"pinyin": [], "initials": [], "slip": []}
    for word in held:
        if len(sets["pinyin"]) < PER_SET:
            sets["pinyin"].append(("".join(lazy_pinyin(word)), word))
        if len(word) >= 3 and len(sets["initials"]) < PER_SET:
            initials = "".join(lazy_pinyin(word, style=Style.FIRST_LETTER))
            sets["initials"].append((initials, word))
        if len(sets["slip"]) < PER_SET:
            at = rng.randrange(len(word))
            others = [c for c in by_sound.get(lazy_pinyin(word[at])[0], []) if c != word[at]]
            if others:
                slip = word[:at] + rng.choice(others) + word[at + 1 :]
                if ix.search(f'"{slip}"', limit=1, exact=True).total == 0:
                    sets["slip"].append((slip, word))
    return sets


def _top3(ix, query: str, word: str, exact: bool) -> bool:
    from searchkit.folding import fold_text

    for hit in ix.search(query, limit=3, exact=exact, snippets=False).hits:
        post = ix.post(hit.path)
        if word in fold_text(post.title) or word in fold_text(post.text):
            return True
    return False


def report(posts: Path, index: Path) -> None:
    from searchkit import Index

    with Index.open(index) as ix:
        sets = make_sets(posts, ix)
        print("\ntyped through an input method, over zh-news titles (top 3 hits hold the word)")
        print(f"{'set':<36} {'queries':>8} {'searchkit':>10} {'--exact':>8}")
        labels = {
            "pinyin": "(a) toneless pinyin (taifeng)",
            "initials": "(b) initials, 3+ characters (xjp)",
            "slip": "(c) a character of the same sound",
        }
        for name, rows in sets.items():
            found = sum(_top3(ix, query, word, False) for query, word in rows)
            typed = sum(_top3(ix, query, word, True) for query, word in rows)
            n = max(len(rows), 1)
            print(f"{labels[name]:<36} {len(rows):>8} {found / n:>10.3f} {typed / n:>8.3f}")
