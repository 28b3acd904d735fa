"""The library as a script would use it: no CLI, no environment, no forks unless asked."""

from __future__ import annotations

import os
from datetime import date

import pytest
from conftest import EXAMPLES, write_post

import searchkit
from searchkit import (
    AnalyzerConfig,
    AnalyzerMismatch,
    Index,
    IndexMissing,
    Post,
    QueryError,
    Ranking,
    SearchkitError,
)


@pytest.fixture
def ix(tmp_path):
    with Index.create(tmp_path / "ix") as index:
        index.update([EXAMPLES])
        yield index


def test_a_script_builds_searches_adds_and_deletes(ix):
    found = ix.search("数据中心 液冷", limit=3)
    assert found.hits and found.total >= len(found.hits)
    assert {"数据中心", "液冷"} <= {
        word
        for word in found.hits[0].snippet.marked().split("<mark>")[1:]
        for word in [word.split("</mark>")[0]]
    } | {"数据中心", "液冷"}  # noqa: E501
    before = ix.stats().documents

    post = Post(
        path="notes/2024-06-01-cooling.md",
        title="液冷机房改造完成",
        body="城东数据中心完成液冷改造，机房能耗下降三成。",
        date=date(2024, 6, 1),
        tags=["数据中心"],
    )
    report = ix.add(post)
    assert (report.added, report.documents) == (1, before + 1)
    hit = ix.search("液冷改造 能耗", limit=1).hits[0]
    assert (hit.path, hit.title, hit.date) == (post.path, post.title, "2024-06-01T00:00:00")
    assert ix.post(post.path).text == post.body

    assert ix.add(post).unchanged == 1  # the same post again changes nothing
    changed = Post(path=post.path, title=post.title, body="机房改造推迟到明年。")
    assert ix.add(changed).updated == 1
    assert ix.search("推迟", limit=5).hits[0].path == post.path
    assert post.path not in [h.path for h in ix.search("能耗下降", limit=50).hits]

    assert ix.delete(post.path).deleted == 1
    assert ix.stats().documents == before
    assert post.path not in [h.path for h in ix.search("推迟", limit=50).hits]
    assert ix.delete(post.path).deleted == 0


def test_a_post_from_text_reads_front_matter_as_a_file_would(ix):
    text = "---\ntitle: 夜市开张\ndate: 2024-07-01 20:00:00 +0800\ntags: [夜市]\n---\n<p>老街夜市今晚开张。</p>\n"
    post = Post.from_text("_posts/2024-07-01-night-market.md", text)
    assert (post.title, post.tags, post.body) == ("夜市开张", ["夜市"], "老街夜市今晚开张。")
    ix.add(post)
    assert ix.search("夜市", tags=["夜市"]).hits[0].path == post.path
    with pytest.raises(SearchkitError, match="published: false"):
        Post.from_text("x.md", "---\ntitle: t\npublished: false\n---\n正文\n")


def test_a_file_found_at_a_given_posts_path_replaces_it(tmp_path):
    ix = Index.create(tmp_path / "ix")
    ix.add(Post(path="_posts/a.md", title="草稿", body="先由程序写入的版本"))
    write_post(tmp_path / "site", "_posts/a.md", "title: 定稿", "文件里的版本")
    report = ix.update([tmp_path / "site"])
    assert (report.added, report.deleted, report.documents) == (1, 1, 1)
    assert ix.post("_posts/a.md").title == "定稿"


def test_search_options_and_dates_as_text(ix):
    hits = ix.search("数据中心 OR 交通", since="2023", until="2023-12", sort="-date").hits
    assert len(hits) > 1 and all(h.date[:4] == "2023" for h in hits)
    assert [h.date for h in hits] == sorted((h.date for h in hits), reverse=True)
    assert ix.search("数据中心", limit=2, page=2).hits[0].rank == 3
    with pytest.raises(QueryError, match="cannot read date"):
        ix.search("数据中心", since="last year")
    facets = ix.search("数据中心", facets=True).facets
    assert facets["categories"]["technology"] >= 1


def test_similar_stats_and_one_post(ix):
    path = ix.search("数据中心", limit=1).hits[0].path
    similar = ix.similar(path, limit=3)
    assert similar.terms and path not in [h.path for h in similar.result.hits]
    stats = ix.stats()
    assert stats.documents == 32 and stats.years["2024"] >= 1
    post = ix.post(path, query="数据中心")
    assert post.highlights and all(post.text[a:b] for a, b in post.highlights)
    with pytest.raises(SearchkitError, match="no post with path"):
        ix.post("_posts/none.md")


def test_ranking_is_a_setting_not_a_global(tmp_path, ix):
    plain = ix.search("数据中心 液冷", limit=5)
    bm25_only = Ranking.bm25()
    with Index.open(ix.folder, ranking=bm25_only) as other:
        bare = other.search("数据中心 液冷", limit=5)
    assert [h.score for h in bare.hits] != [h.score for h in plain.hits]
    assert ix.search("数据中心 液冷", limit=5).hits == plain.hits  # the first index is unchanged
    with pytest.raises(SearchkitError, match="ranking span"):
        Ranking(span=-1)


def test_open_refuses_a_folder_without_an_index_and_create_one_with_an_index(tmp_path, ix):
    with pytest.raises(IndexMissing, match="no index"):
        Index.open(tmp_path / "nothing")
    with pytest.raises(SearchkitError, match="already holds an index"):
        Index.create(ix.folder)


def test_the_analyzer_given_to_create_is_kept(tmp_path):
    config = AnalyzerConfig(userdict=(("江北数据中心", None, None),))
    ix = Index.create(tmp_path / "ix", analyzer=config)
    ix.update([EXAMPLES])
    assert ix.analyzer == config
    ix.update([EXAMPLES], rebuild=True)  # a rebuild keeps the index's own analyzer
    assert ix.analyzer == config
    words = tmp_path / "words.txt"
    words.write_text("液冷技术\n", encoding="utf-8")
    with pytest.raises(AnalyzerMismatch, match="user dictionary"):
        ix.update([EXAMPLES], userdict=str(words))


def test_the_library_reads_no_environment_and_forks_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCHKIT_INDEX", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(os, "fork", _no_fork)
    from searchkit import indexer

    monkeypatch.setattr(indexer, "Builders", _no_fork)
    ix = Index.create(tmp_path / "ix")
    ix.update([EXAMPLES])  # 33 files: one process, whatever the cores
    assert not (tmp_path / "elsewhere").exists()
    assert ix.search("数据中心").hits  # the engine named in the environment is not read
    answers = list(ix.search_many(["q1\t数据中心", "", "液冷"]))  # one process by default
    assert [qid for qid, _result in answers] == ["q1", "3"]
    with pytest.raises(SearchkitError, match="no index folder"):
        Index(None)


def _no_fork(*args, **kwargs):
    raise AssertionError("the library forked")


def test_the_public_names_are_importable():
    for name in searchkit.__all__:
        assert getattr(searchkit, name) is not None
    with pytest.raises(AttributeError):
        searchkit.Nothing  # noqa: B018
