"""The output layer on its own: every result type to JSON and to text, and line breaking."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from searchkit import Index
from searchkit.cli import cli
from searchkit.documents import Problem
from searchkit.errors import QueryError
from searchkit.highlight import Snippet
from searchkit.indexer import IndexReport
from searchkit.output import (
    NO_LINE_START,
    batch_line,
    display_width,
    text_lines,
    to_data,
    wrap,
)
from searchkit.results import Hit, SearchResult, SimilarResult
from searchkit.stats import IndexStats, StoredPost


@pytest.fixture(scope="module")
def ix(tmp_path_factory):
    index = Index.create(tmp_path_factory.mktemp("out") / "ix")
    index.update([EXAMPLES])
    yield index
    index.close()


def _hit(rank=1, title="数据中心投用", text="江北数据中心投用。"):
    return Hit(
        rank=rank,
        score=1.5,
        path=f"_posts/p{rank}.md",
        title=title,
        date="2024-01-02T10:00:00+08:00",
        categories=["科技"],
        tags=[],
        url=None,
        snippet=Snippet(text, [(2, 6)]),
        title_highlights=[(0, 4)],
    )


@pytest.mark.parametrize("width", range(8, 40))
def test_no_line_opens_with_closing_punctuation(width):
    text = "年均复合增长率仍有9%至10%。下一句话，「引文」！结束？好的……完了。"
    lines = wrap(text, width)
    assert "".join(lines) == text
    assert all(display_width(line) <= width + 2 for line in lines)
    assert not any(line[0] in NO_LINE_START for line in lines[1:])


def test_a_snippet_wraps_with_its_highlights_in_place():
    result = SearchResult("数据中心", 1, 3.0, [_hit(text="甲" * 40 + "数据中心" + "。" * 3)])
    lines = list(text_lines(result, color=True, width=30))
    marked = [line for line in lines if "\x1b[1;31m" in line and "数" in line]
    assert marked and "数据中心" in marked[0].replace("\x1b[1;31m", "").replace("\x1b[0m", "")


def test_every_result_has_a_json_form():
    result = SearchResult("数据中心", 7, 3.0, [_hit()])
    data = to_data(result)
    assert data["hits"][0]["snippet"] == "江北<mark>数据中心</mark>投用。"
    assert data["hits"][0]["highlights"] == [[2, 6]] and data["total"] == 7
    similar = to_data(SimilarResult("_posts/a.md", [("数据中心", 2.5)], result))
    assert similar["terms"] == [{"term": "数据中心", "weight": 2.5}]
    assert similar["hits"] == data["hits"] and similar["path"] == "_posts/a.md"
    post = StoredPost("_posts/a.md", "标题", None, [], ["标签"], None, 10, "ab", "正文")
    assert "highlights" not in to_data(post)
    post.highlights = [(0, 2)]
    assert to_data(post)["highlights"] == [[0, 2]]
    report = IndexReport("ix", added=2, skipped=[Problem("x.md", "published: false")])
    assert to_data(report)["problems"] == [
        {"path": "x.md", "reason": "published: false", "skipped": True}
    ]
    with pytest.raises(TypeError):
        to_data(object())


def test_text_forms_of_stats_post_and_report():
    stats = IndexStats(
        "ix", 2, 2_000_000, None, "2021-01-01", "2024-01-01", {"经济": 2}, {}, {}, {}
    )
    lines = list(text_lines(stats))
    assert lines[0].startswith("2 posts in ix (2.0 MB)") and "categories: 经济 2" in lines
    post = StoredPost("_posts/a.md", "标题\x1b]0;x\x07", "2024", ["c"], ["t"], None, 1, "", "正文")
    assert list(text_lines(post))[0] == "标题\ufffd]0;x\ufffd"  # no terminal escapes
    report = IndexReport("ix", added=1, documents=1, skipped=[Problem("b.md", "binary")])
    assert list(text_lines(report)) == [
        "skipped: b.md: binary",
        "1 posts in ix: 1 added, 0 updated, 0 unchanged, 0 deleted, 1 skipped (0.0 s)",
    ]


def test_a_batch_line_carries_took_ms_or_the_error():
    line = json.loads(batch_line("q1", SearchResult("数据", 1, 2.5, [_hit()])))
    assert (line["qid"], line["total"], line["took_ms"]) == ("q1", 1, 2.5)
    assert json.loads(batch_line("q2", QueryError("empty query"))) == {
        "qid": "q2",
        "error": "empty query",
    }


def test_conflicting_output_options_are_refused(ix):
    runner = CliRunner()
    base = ["--index", str(ix.folder)]
    for args in (
        ["search", "数据中心", "--json", "--jsonl"],
        ["search", "数据中心", "--json", "--pager"],
        ["similar", "_posts/2021-07-01-data-center.md", "--jsonl", "--json"],
    ):
        result = runner.invoke(cli, [*args, *base])
        assert result.exit_code == 2 and "not" in result.output, args


def test_similar_prints_json_lines(ix):
    result = CliRunner().invoke(
        cli, ["similar", "_posts/2021-07-01-data-center.md", "--jsonl", "--index", str(ix.folder)]
    )
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows and [row["rank"] for row in rows] == list(range(1, len(rows) + 1))
