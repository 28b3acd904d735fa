"""Typed strings over zh-news, against grep over the folded posts.

Two sets, made afresh from the shared posts, the same every run (a fixed seed):

* quoted strings: a post is drawn, then a place in its folded title or text, then a run of 1,
  2, 3 or 4 characters there (no space, no quote mark); ``"run"`` is searched and every post it
  lists (walked to the end) is compared with the posts whose folded title or text holds the run:
  recall and precision, per length;
* typed strings: two or three runs of 2-4 characters of one post's folded text, typed unquoted
  with spaces between them: the share of top-10 hits lacking one, and whether ``-c`` (the posts
  holding every one) is grep's count.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

SEED = 20261206
PER_LENGTH = 100
TYPED = 200


def folded_posts(posts: Path) -> dict[str, str]:
    """Each post's title and text, folded as searchkit folds them, one after the other."""
    from searchkit.documents import read_post
    from searchkit.folding import fold_text
    from searchkit.walking import walk

    texts = {}
    for source in walk([str(posts)], []):
        post = read_post(source)
        if post is not None:
            texts[source.path] = fold_text(post.title) + "\n" + fold_text(post.body or "")
    return texts


def _run(rng: random.Random, texts: dict[str, str], paths: list[str], size: int) -> str:
    while True:
        text = texts[rng.choice(paths)]
        if len(text) <= size:
            continue
        at = rng.randrange(0, len(text) - size)
        run = text[at : at + size]
        if run.strip() and '"' not in run and not any(ch.isspace() for ch in run):
            return run


def _listed(ix, query: str, match: str = "all") -> set[str]:
    found: set[str] = set()
    page = 1
    while True:
        result = ix.search(query, match=match, limit=1000, page=page, snippets=False)
        found.update(hit.path for hit in result.hits)
        if not result.hits or len(found) >= result.total:
            return found
        page += 1


def report(posts: Path, index: Path) -> None:
    from searchkit import Index

    texts = folded_posts(posts)
    paths = sorted(texts)
    rng = random.Random(SEED)
    print(f"\ntyped strings over zh-news ({len(texts):,} posts), against grep over the folded text")
    print(f"{'quoted run':<24} {'queries':>8} {'recall':>8} {'precision':>10} {'ms a query':>11}")
    with Index.open(index) as ix:
        for size in (1, 2, 3, 4):
            runs = [_run(rng, texts, paths, size) for _ in range(PER_LENGTH)]
            hit = found_total = held_total = 0
            started = time.perf_counter()
            for run in runs:
                found = _listed(ix, f'"{run}"')
                held = {path for path, text in texts.items() if run in text}
                hit += len(found & held)
                found_total += len(found)
                held_total += len(held)
            ms = (time.perf_counter() - started) * 1000 / len(runs)
            print(
                f"{f'{size} character' + ('s' if size > 1 else ''):<24} {len(runs):>8} "
                f"{hit / max(held_total, 1):>8.4f} {hit / max(found_total, 1):>10.4f} {ms:>11.1f}"
            )
        lacking = shown = counted_right = queries = 0
        for _ in range(TYPED):
            text = texts[rng.choice(paths)]
            strings: list[str] = []
            for _ in range(rng.choice((2, 3))):
                size = rng.randint(2, 4)
                run = text[rng.randrange(0, max(1, len(text) - size)) :][:size]
                if len(run) == size and run.isalnum() and run not in strings:
                    strings.append(run)
            if len(strings) < 2:
                continue
            query = " ".join(strings)
            queries += 1
            result = ix.search(query, limit=10, snippets=False)
            for hit in result.hits:
                shown += 1
                lacking += any(s not in texts.get(hit.path, "") for s in strings)
            holding = sum(all(s in t for s in strings) for t in texts.values())
            counted_right += ix.search(query, match="all", limit=1, snippets=False).total == holding
    print(
        f"{queries} queries of 2-3 typed strings: {lacking} of {shown} top-10 hits lack one "
        f"({lacking / max(shown, 1):.2%}); the count is grep's for {counted_right} of {queries}"
    )
