"""The textbook peer: Whoosh + jieba's ChineseAnalyzer + python-frontmatter, one writer,
MultifieldParser over title and body with OR grouping. Measured beside searchkit."""

from __future__ import annotations

import os
import time
from pathlib import Path


def peer_schema():
    from jieba.analyse import ChineseAnalyzer
    from whoosh.fields import ID, TEXT, Schema

    analyzer = ChineseAnalyzer()
    return Schema(
        path=ID(unique=True, stored=True),
        title=TEXT(analyzer=analyzer, stored=True),
        content=TEXT(analyzer=analyzer, stored=True),
    )


def post_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".md", ".markdown", ".html"))


def build_peer(root: Path, index_dir: Path) -> float:
    """Index every post under ``root`` the textbook way; returns seconds taken."""
    import frontmatter
    from whoosh import index

    started = time.perf_counter()
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = index.create_in(str(index_dir), peer_schema())
    writer = ix.writer()
    for path in post_files(root):
        post = frontmatter.load(path)
        writer.add_document(
            path=os.path.relpath(path, root),
            title=str(post.get("title") or ""),
            content=post.content,
        )
    writer.commit()
    return time.perf_counter() - started


class PeerSearcher:
    def __init__(self, index_dir: Path):
        from whoosh import index
        from whoosh.qparser import MultifieldParser, OrGroup

        self.ix = index.open_dir(str(index_dir))
        self.searcher = self.ix.searcher()
        self.parser = MultifieldParser(["title", "content"], self.ix.schema, group=OrGroup)

    def search(self, text: str, limit: int = 10, snippets: bool = False) -> list[str]:
        from whoosh.highlight import ContextFragmenter

        results = self.searcher.search(self.parser.parse(text), limit=limit)
        if snippets:
            results.fragmenter = ContextFragmenter(maxchars=100, surround=40)
            for hit in results:
                hit.highlights("content")
        return [hit["path"] for hit in results]

    def close(self):
        self.searcher.close()
