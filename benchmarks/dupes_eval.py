"""make eval, near-duplicates: precision and recall of ``searchkit dupes`` on a labelled set.

The archive is zh-news (10,675 news stories) with copies and twins added, all made from its
own stories with a fixed seed:

* copies, one story each (must be grouped with their original): a changed lead (the first
  sentence replaced), another source line (one before, an editor's line after), traditional
  script, paragraphs trimmed (60 to 80 per cent of the sentences kept), and all of these at
  once;
* twins (must stay apart): the same story with every number changed, as next month's
  report of the same figures would be.

Every other pair of the archive's stories counts as two stories, except stories whose bare
text is the same (the archive's own exact copies).  The index is built, ``Index.dupes`` groups
it, and every pair inside a group is a pair said to be one story: precision is the share of
those that are, recall the share of the true pairs found.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path

#: Stories that get copies, and how many of them also get a twin.
BASES = 400
TWINS = 200
SEED = 11
_SENTENCE = re.compile(r"(?<=[。！？])")
_NUMBER = re.compile(r"\d+")
_BARE = re.compile(r"[\W_]+")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def changed_lead(text: str, rng: random.Random) -> str:
    sentences = _sentences(text)
    lead = rng.choice(["记者从有关部门获悉，", "据新华社报道，", "本报讯 近日，"])
    return lead + "".join(sentences[1:] if len(sentences) > 2 else sentences)


def source_line(text: str, rng: random.Random) -> str:
    source = rng.choice(["人民网", "新华网", "中国新闻网", "光明网"])
    editor = rng.choice(["王明", "李华", "张伟"])
    return f"来源：{source}\n\n{text}\n\n（责任编辑：{editor}）"


def traditional(text: str, rng: random.Random) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(text)


def trimmed(text: str, rng: random.Random) -> str:
    sentences = _sentences(text)
    keep = max(1, round(len(sentences) * rng.uniform(0.6, 0.8)))
    return "".join(sentences[:keep])


def everything(text: str, rng: random.Random) -> str:
    return source_line(traditional(trimmed(changed_lead(text, rng), rng), rng), rng)


def numbers_changed(text: str, rng: random.Random) -> str:
    def other(match: re.Match) -> str:
        digits = match.group()
        if len(digits) > 12:
            return digits
        return str(int(digits) + rng.randint(1, 9))

    return _NUMBER.sub(other, text)


EDITS = (changed_lead, source_line, traditional, trimmed, everything)


def _front(title: str, day: str) -> str:
    return f'---\ntitle: "{title}"\ndate: {day}\ncategories: [新闻联播]\n---\n\n'


def build_archive(shared: Path, work: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The archive folder, each post's story (by path) and each added post's edit."""
    from searchkit.documents import Problem, read_post
    from searchkit.walking import walk

    posts_root = shared / "eval" / "zh-news" / "posts"
    folder = work / "dupes-posts"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(posts_root, folder)
    stories: dict[str, str] = {}
    texts: dict[str, tuple[str, str, str]] = {}
    problems: list[Problem] = []
    for source in walk([folder], problems):
        post = read_post(source)
        bare = _BARE.sub("", post.body)
        stories[source.path] = "text:" + bare if bare else "path:" + source.path
        day = post.date.isoformat(sep=" ") if post.date else "2022-01-01 19:00:00 +08:00"
        texts[source.path] = (post.title, post.body, day)
    rng = random.Random(SEED)
    candidates = sorted(p for p, (_t, body, _d) in texts.items() if len(body) >= 150)
    bases = rng.sample(candidates, BASES)
    with_numbers = [p for p in bases if len(set(_NUMBER.findall(texts[p][1]))) >= 3]
    edits: dict[str, str] = {}
    for number, path in enumerate(bases):
        title, body, day = texts[path]
        for edit in rng.sample(EDITS, 2):
            name = f"_posts/copy-{number:03d}-{edit.__name__}.md"
            (folder / name).write_text(_front(title, day) + edit(body, rng), encoding="utf-8")
            stories[name] = stories[path]
            edits[name] = edit.__name__
    for number, path in enumerate(with_numbers[:TWINS]):
        title, body, day = texts[path]
        name = f"_posts/twin-{number:03d}.md"
        (folder / name).write_text(_front(title, day) + numbers_changed(body, rng), "utf-8")
        stories[name] = "twin:" + name
        edits[name] = "twin"
    return folder, stories, edits


def evaluate(shared: Path, work: Path, threshold: float | None = None) -> dict:
    from searchkit import Index

    folder, stories, edits = build_archive(shared, work)
    index = work / "dupes-index"
    if index.exists():
        shutil.rmtree(index)
    started = time.perf_counter()
    ix = Index.create(index)
    ix.update([folder], jobs=2)
    built = time.perf_counter() - started
    report = ix.dupes(threshold)
    said = set()
    for posts in report.groups:
        paths = sorted(post.path for post in posts)
        said.update(itertools.combinations(paths, 2))
    by_story = defaultdict(list)
    for path, story in stories.items():
        by_story[story].append(path)
    true = set()
    for paths in by_story.values():
        true.update(itertools.combinations(sorted(paths), 2))
    right = said & true
    per_edit = {}
    for edit in [e.__name__ for e in EDITS]:
        pairs = {pair for pair in true if any(edits.get(p) == edit for p in pair)}
        per_edit[edit] = len(pairs & said) / len(pairs) if pairs else 0.0
    twins = [p for p, e in edits.items() if e == "twin"]
    apart = sum(1 for t in twins if not any(t in pair for pair in said))
    headlines = read_headlines(shared)
    both = [pair for pair in said if pair[0] in headlines and pair[1] in headlines]
    differ = sorted(pair for pair in both if headlines[pair[0]] != headlines[pair[1]])
    return {
        "headline pairs": len(both),
        "headlines differ": [(a, b, headlines[a], headlines[b]) for a, b in differ],
        "posts": report.posts,
        "groups": len(report.groups),
        "pairs said": len(said),
        "true pairs": len(true),
        "precision": len(right) / len(said) if said else 1.0,
        "recall": len(right) / len(true) if true else 1.0,
        "recall by edit": per_edit,
        "twins kept apart": apart / len(twins) if twins else 1.0,
        "threshold": report.threshold,
        "build seconds": built,
        "dupes ms": report.took_ms,
        "wrong": sorted(said - true)[:10],
    }


def read_headlines(shared: Path) -> dict[str, str]:
    """The broadcast headline of each zh-news story that has one (path -> headline)."""
    root = shared / "eval" / "zh-news" / "queries"
    text = dict(
        line.split("\t", 1) for line in (root / "headlines.tsv").read_text("utf-8").splitlines()
    )
    out = {}
    for line in (root / "headlines.qrels").read_text("utf-8").splitlines():
        qid, _, path, _grade = line.split()
        out[path] = text[qid]
    return out


def print_report(shared: Path, work: Path) -> None:
    if not (shared / "eval" / "zh-news").is_dir():
        print("\n(zh-news not found: near-duplicates skipped)")
        return
    found = evaluate(shared, work)
    print(
        f"\nnear-duplicates (zh-news + {BASES * 2} copies of {BASES} stories + twins): "
        f"{found['posts']} posts, {found['groups']} groups at similarity "
        f">= {found['threshold']:g} ({found['dupes ms'] / 1000:.1f} s)"
    )
    print(
        f"  pairs: precision {found['precision']:.4f}, recall {found['recall']:.4f} "
        f"({found['pairs said']} said, {found['true pairs']} true); "
        f"twins kept apart {found['twins kept apart']:.4f}"
    )
    print(
        "  recall by edit: " + ", ".join(f"{k} {v:.3f}" for k, v in found["recall by edit"].items())
    )
    differ = found["headlines differ"]
    print(
        f"  pairs in groups between stories with broadcast headlines: {found['headline pairs']}, "
        f"of which {len(differ)} have different headlines:"
    )
    for a, b, first, second in differ:
        print(f"    {a} | {b}\n      {first} | {second}")
