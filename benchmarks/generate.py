"""A generated archive for benchmarks: posts made of sentences of the shared real posts.

Deterministic (fixed seed): realistic lengths, HTML and Markdown bodies, dates over ten
years, a few categories and tags.
"""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

CATEGORIES = ["finance", "city", "technology", "culture", "world", "sports"]
TAGS = ["经济", "科技", "民生", "交通", "教育", "环境", "文化", "体育", "国际", "政策"]
_SENTENCE = re.compile(r"[^。！？\n]+[。！？]")
_TAGS = re.compile(r"<[^>]+>")


def harvest_sentences(roots: list[Path]) -> list[str]:
    sentences: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*.md")):
            text = path.read_text("utf-8", errors="replace")
            body = text.split("---", 2)[-1]
            sentences.extend(m.group().strip() for m in _SENTENCE.finditer(_TAGS.sub("", body)))
    return [s for s in sentences if 8 <= len(s) <= 300]


def generate(out: Path, count: int, sources: list[Path], seed: int = 20261128) -> Path:
    """Write ``count`` posts under ``out/_posts`` (skipped when already there)."""
    posts = out / "_posts"
    marker = out / f".complete-{count}"
    if marker.exists():
        return out
    rng = random.Random(seed)
    sentences = harvest_sentences(sources)
    posts.mkdir(parents=True, exist_ok=True)
    start = datetime(2015, 1, 1, 8, 0)
    for i in range(count):
        day = start + timedelta(minutes=rng.randrange(10 * 365 * 24 * 60))
        size = min(int(rng.lognormvariate(2.3, 0.7)) + 2, 120)
        picked = [rng.choice(sentences) for _ in range(size)]
        title = picked[0].rstrip("。！？")[:30]
        tags = rng.sample(TAGS, rng.randint(1, 3))
        if i % 3:
            paragraphs = [picked[j : j + 4] for j in range(0, len(picked), 4)]
            body = "".join("<p>" + "".join(p) + "</p>" for p in paragraphs)
            tag_text = "[" + ", ".join(tags) + "]"
        else:
            body = "\n\n".join("".join(picked[j : j + 4]) for j in range(0, len(picked), 4))
            tag_text = " ".join(tags)
        front = (
            f"---\nlayout: post\ntitle: {json.dumps(title, ensure_ascii=False)}\ndate: {day:%Y-%m-%d %H:%M:%S} +0800\n"
            f"categories: {rng.choice(CATEGORIES)}\ntags: {tag_text}\n---\n"
        )
        name = posts / f"{day:%Y-%m-%d}-gen{i:06d}.md"
        name.write_text(front + body + "\n", encoding="utf-8")
    marker.touch()
    return out
