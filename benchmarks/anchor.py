"""The fast anchor of the scale tier: what a user who wants speed would build instead.

tantivy-py (a Rust index, BM25) over the same posts, analysed as searchkit's words are:
OpenCC ``t2s`` folding, rjieba's search-mode words, and the text's character pairs, the
analysis done in two processes and handed to one tantivy writer as whitespace-separated
tokens.  A query is analysed the same way and asked of title and body (OR); each hit's snippet
is a window around the first query word in its stored text.

Run by ``make bench`` beside searchkit on the same generated archive; by hand::

    python -m benchmarks.anchor POSTS_DIR INDEX_DIR "关键词" ...
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

_CONVERTER = None


def _t2s(text: str) -> str:
    global _CONVERTER
    if _CONVERTER is None:
        import opencc

        _CONVERTER = opencc.OpenCC("t2s")
    return _CONVERTER.convert(text.lower())


def tokens(text: str) -> str:
    """Search-mode words and character pairs of the folded text, space-separated."""
    import rjieba

    folded = _t2s(text)
    words = [w for w in rjieba.cut_for_search(folded) if w.strip() and w.isalnum()]
    chars = [c for c in folded if c.isalnum()]
    pairs = [a + b for a, b in zip(chars, chars[1:], strict=False)]
    return " ".join(words + pairs)


def _analyse(path: str) -> tuple[str, str, str, str] | None:
    from searchkit.documents import SkipFile, SourceFile, read_post

    try:
        post = read_post(SourceFile("", path, path, 0, 0.0))
    except SkipFile:
        return None
    return path, post.title, post.body, tokens(f"{post.title}\n{post.body}")


def schema():
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("path", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("text", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("words", stored=False, tokenizer_name="whitespace")
    builder.add_text_field("title_words", stored=False, tokenizer_name="whitespace")
    return builder.build()


def build(posts: Path, out: Path) -> float:
    """Index every post under ``posts``; returns the seconds taken."""
    import tantivy

    started = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    index = tantivy.Index(schema(), path=str(out))
    writer = index.writer(heap_size=512_000_000, num_threads=1)
    files = sorted(str(p) for p in posts.rglob("*.md"))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for found in pool.imap(_analyse, files, chunksize=256):
            if found is None:
                continue
            path, title, body, words = found
            writer.add_document(
                tantivy.Document(
                    path=path,
                    title=title,
                    text=body,
                    words=words,
                    title_words=tokens(title),
                )
            )
    writer.commit()
    writer.wait_merging_threads()
    return time.perf_counter() - started


class Anchor:
    """An open anchor index answering queries: top 10 with a snippet each."""

    def __init__(self, out: Path):
        import tantivy

        self.index = tantivy.Index.open(str(out))
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, text: str, limit: int = 10) -> list[tuple[str, str]]:
        words = tokens(text).split()
        if not words:
            return []
        query = self.index.parse_query(" ".join(f'"{w}"' for w in words), ["words", "title_words"])
        out = []
        for _score, address in self.searcher.search(query, limit).hits:
            doc = self.searcher.doc(address)
            body = doc["text"][0]
            folded = _t2s(body)
            at = min((folded.find(w) for w in words if w in folded), default=0)
            out.append((doc["path"][0], body[max(0, at - 40) : at + 60]))
        return out


def warm(out: Path, queries: list[str]) -> list[float]:
    anchor = Anchor(out)
    for query in queries[:5]:
        anchor.search(query)
    times = []
    for query in queries:
        started = time.perf_counter()
        anchor.search(query)
        times.append((time.perf_counter() - started) * 1000)
    return times


def cold(out: Path, queries: list[str]) -> float:
    """The median time of a fresh process answering one query (as a CLI would)."""
    runs = []
    for query in queries:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "benchmarks.anchor", "--query", str(out), query],
            check=True,
            capture_output=True,
            cwd=str(Path(__file__).resolve().parent.parent),
        )
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def folder_bytes(path: Path) -> int:
    return sum(os.path.getsize(p) for p in path.rglob("*") if p.is_file())


if __name__ == "__main__":
    if sys.argv[1] == "--query":
        for path, snippet in Anchor(Path(sys.argv[2])).search(sys.argv[3]):
            print(path, snippet.replace("\n", " "))
    else:
        seconds = build(Path(sys.argv[1]), Path(sys.argv[2]))
        print(f"built in {seconds:.1f} s, {folder_bytes(Path(sys.argv[2])) / 1e6:.0f} MB")
        for query in sys.argv[3:]:
            print(query, Anchor(Path(sys.argv[2])).search(query)[:3])
