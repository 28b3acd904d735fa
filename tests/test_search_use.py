"""Search as people use it: page walks, every typed word first, negation, filters alone,
grep-like output modes and the library taking what a person writes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FINEWS, needs_shared, write_post
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_engine import WhooshEngine

from searchkit import Index, Post, SearchkitError
from searchkit.cli import cli
from searchkit.indexer import index_paths

WORDS = ["数据中心", "地铁", "人民币", "防汛", "图书馆"]


@pytest.fixture(scope="module")
def tied_index(tmp_path_factory) -> Path:
    """120 posts over six days at the same hour, each a mix of a few of five words: many
    equal scores and equal dates, so that the path must break ties."""
    root = tmp_path_factory.mktemp("tied")
    posts = root / "posts"
    for i in range(120):
        words = [WORDS[(i * k) % 5] for k in (1, 2, 3)][: 1 + i % 3]
        day = 1 + i % 6
        tags = "[本地]" if i % 4 else "[本地, 交通]"
        write_post(
            posts,
            f"_posts/2021-03-0{day}-p{i:03}.md",
            f"title: 第{i % 7}篇\ndate: 2021-03-0{day} 08:00:00 +0800\ntags: {tags}",
            "。".join(words) + "。",
        )
    write_post(posts, "undated.md", "title: 无日期", "数据中心")
    folder = root / "index"
    index_paths([posts], folder, jobs=1)
    return folder


def walk_pages(ix: Index, text: str, limit: int, **options) -> list[str]:
    paths: list[str] = []
    page = 1
    while True:
        result = ix.search(text, limit=limit, page=page, snippets=False, **options)
        if not result.hits:
            return paths
        paths.extend(hit.path for hit in result.hits)
        page += 1


QUERIES = st.sampled_from(
    [
        "",
        "数据中心",
        "地铁 人民币",
        "数据中心 地铁 防汛",
        "-地铁",
        "-地铁 -人民币",
        "tags:交通",
        "date:[2021-03-02 TO 2021-03-04]",
        "图书馆 OR 防汛",
        "title:第3篇",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=QUERIES,
    sort=st.sampled_from(["relevance", "date", "-date"]),
    limit=st.integers(1, 25),
    since=st.sampled_from([None, "2021-03-02"]),
    tag=st.sampled_from([(), ("交通",)]),
    match=st.sampled_from(["auto", "all", "any"]),
)
def test_a_page_walk_yields_each_match_once(tied_index, text, sort, limit, since, tag, match):
    if not text and since is None and not tag:
        since = "2021-03-01"  # filters alone
    with Index.open(tied_index) as ix:
        whole = ix.search(text, limit=1000, sort=sort, since=since, tags=tag, match=match)
        walked = walk_pages(ix, text, limit, sort=sort, since=since, tags=tag, match=match)
    assert len(walked) == len(set(walked)) == whole.total
    assert walked == [hit.path for hit in whole.hits]


def test_equal_scores_go_newer_date_first_then_path(tied_index):
    with Index.open(tied_index) as ix:
        hits = ix.search("tags:交通", limit=1000).hits
    keys = [(hit.date or "", hit.path) for hit in hits]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    for (d1, p1), (d2, p2) in zip(keys, keys[1:], strict=False):
        assert d1 > d2 or p1 < p2


def test_pages_agree_across_json_jsonl_and_batch(tied_index, tmp_path):
    runner = CliRunner()
    base = ["search", "--index", str(tied_index), "--limit", "7", "--page", "3", "数据中心 OR 地铁"]
    as_json = json.loads(runner.invoke(cli, [*base, "--json"]).output)
    as_jsonl = [
        json.loads(line) for line in runner.invoke(cli, [*base, "--jsonl"]).output.splitlines()
    ]
    batch = tmp_path / "q.tsv"
    batch.write_text("q1\t数据中心 OR 地铁\n", "utf-8")
    line = runner.invoke(
        cli,
        [
            "search",
            "--index",
            str(tied_index),
            "--limit",
            "7",
            "--page",
            "3",
            "--batch",
            str(batch),
        ],
    ).output
    paths = [hit["path"] for hit in as_json["hits"]]
    assert (
        paths == [hit["path"] for hit in as_jsonl] == [h["path"] for h in json.loads(line)["hits"]]
    )
    assert [hit["rank"] for hit in as_json["hits"]] == list(range(15, 22))


def held_by_all(ix: Index, words: list[str]) -> set[str]:
    found = ix.search(" ".join(words), match="all", limit=1000, snippets=False)
    return {hit.path for hit in found.hits}


@needs_shared
def test_posts_holding_every_typed_word_come_first(news_index):
    """Over word pairs and triples from the finews titles: where some posts hold every word,
    the first hits are those posts, and each of them holds each word."""
    from searchkit.query import typed_words

    with Index.open(news_index) as ix:
        analyzer = ix.searcher().schema["body"].analyzer
        titles = [ix.post(hit.path).title for hit in ix.search("", since="1900", limit=200).hits]
        checked = 0
        for title in titles:
            words = [w for w in typed_words(analyzer, title) if len(w) > 1][:3]
            if len(words) < 2:
                continue
            held = held_by_all(ix, words)
            top = ix.search(" ".join(words), limit=10, snippets=False).hits
            first = [hit.path for hit in top[: min(len(held), 10)]]
            assert set(first) <= held, (words, first)
            for path in first:
                text = ix.post(path).text + ix.post(path).title
                assert all(word in text.lower() for word in words if word.isascii())
            checked += 1
        assert checked >= 30


@needs_shared
def test_a_word_no_post_holds_is_said(news_index):
    runner = CliRunner()
    exact = ["search", "COVID-19", "--index", str(news_index), "--json", "--exact"]
    data = json.loads(runner.invoke(cli, exact).output)
    assert data["missing"] == ["covid"] and data["total"] == 0  # "19" alone says nothing
    widened = json.loads(runner.invoke(cli, exact[:-1]).output)  # its synonyms: 新冠 ...
    assert widened["missing"] == [] and "新冠" in widened["synonyms"]["covid-19"]
    both = json.loads(
        runner.invoke(cli, ["search", "人民币 zzqxj", "--index", str(news_index), "--json"]).output
    )
    assert both["missing"] == ["zzqxj"] and both["total"] > 0
    text = runner.invoke(cli, ["search", "人民币 zzqxj", "--index", str(news_index), "--no-color"])
    assert "no post holds: zzqxj" in text.output
    assert (
        runner.invoke(cli, ["search", "人民币", "--index", str(news_index), "--json"]).output.count(
            '"missing": []'
        )
        == 1
    )


def test_all_and_any(tied_index):
    with Index.open(tied_index) as ix:
        every = ix.search("地铁 人民币", match="all", limit=1000)
        either = ix.search("地铁 人民币", match="any", limit=1000)
        first = ix.search("地铁 人民币", limit=1000)
        only_one = ix.search("地铁", limit=1000).total + ix.search("人民币", limit=1000).total
    assert 0 < every.total == first.total < either.total < only_one
    assert [h.path for h in first.hits] == [h.path for h in every.hits]
    assert (every.counted, first.counted, either.counted) == ("every", "every", "any")
    for hit in every.hits:
        text = Index.open(tied_index).post(hit.path).text
        assert "地铁" in text and "人民币" in text


def test_negated_words_are_each_left_out(tied_index):
    with Index.open(tied_index) as ix:
        everything = ix.search("", since="1900", limit=1000).total + 1  # the undated post
        neither = ix.search("-地铁 -人民币", limit=1000)
        holding = {h.path for h in ix.search("地铁 人民币", match="any", limit=1000).hits}
        assert neither.total == everything - len(holding)
        assert not holding & {hit.path for hit in neither.hits}
        many = " ".join(f"-{chr(0x9F8D - i)}" for i in range(666))
        assert ix.search(many, limit=1).total == everything


def test_filters_alone_list_posts_newest_first(tied_index):
    runner = CliRunner()
    args = ["search", "--index", str(tied_index), "--since", "2021-03-02", "--until", "2021-03-03"]
    result = runner.invoke(cli, [*args, "--json", "--limit", "1000", "--facets"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    dates = [hit["date"] for hit in data["hits"]]
    assert data["total"] == 40 and dates == sorted(dates, reverse=True)
    assert set(d[:10] for d in dates) == {"2021-03-02", "2021-03-03"}
    assert data["facets"]["tags"]["本地"] == 40
    for mode in (["--jsonl"], ["--no-color"], ["--collapse", "--json"], ["-l"], ["-c"]):
        assert runner.invoke(cli, [*args, *mode]).exit_code == 0, mode
    tagged = runner.invoke(cli, ["search", "--index", str(tied_index), "--tag", "交通", "-c"])
    assert tagged.output.strip() == "30"
    field_alone = runner.invoke(cli, ["search", "--index", str(tied_index), "tags:交通", "-c"])
    assert field_alone.output.strip() == "30"
    nothing = runner.invoke(cli, ["search", "--index", str(tied_index)])
    assert nothing.exit_code == 2 and "missing QUERY" in nothing.output


def test_files_and_count(tied_index):
    runner = CliRunner()
    base = ["search", "--index", str(tied_index), "数据中心"]
    count = int(runner.invoke(cli, [*base, "-c"]).output)
    listed = runner.invoke(cli, [*base, "-l"]).output.splitlines()
    assert count == len(listed) == len(set(listed)) > 10  # every match, not one page
    page = runner.invoke(cli, [*base, "-l", "--limit", "5", "--page", "2"]).output.splitlines()
    assert page == listed[5:10]
    none = runner.invoke(cli, ["search", "--index", str(tied_index), "zzqxj", "-c"])
    assert (none.exit_code, none.output.strip()) == (1, "0")


@needs_shared
def test_snippet_length(news_index):
    runner = CliRunner()
    base = ["search", "--index", str(news_index), "人民币", "--json", "--limit", "3"]
    bare = json.loads(runner.invoke(cli, [*base, "--snippet-chars", "0"]).output)
    assert all(hit["snippet"] == "" for hit in bare["hits"])
    short = json.loads(runner.invoke(cli, [*base, "--snippet-chars", "4"]).output)
    full = json.loads(runner.invoke(cli, base).output)
    assert sum(len(h["snippet"]) for h in short["hits"]) < sum(
        len(h["snippet"]) for h in full["hits"]
    )


def test_facets_in_every_output_mode(tied_index, tmp_path):
    runner = CliRunner()
    lines = runner.invoke(
        cli, ["search", "--index", str(tied_index), "数据中心", "--jsonl", "--facets"]
    ).output.splitlines()
    assert "facets" in json.loads(lines[-1]) and all("path" in json.loads(x) for x in lines[:-1])
    batch = tmp_path / "q.tsv"
    batch.write_text("q1\t数据中心\n", "utf-8")
    row = json.loads(
        runner.invoke(
            cli,
            ["search", "--index", str(tied_index), "--batch", str(batch), "--facets", "--collapse"],
        ).output
    )
    assert {"facets", "collapsed", "missing", "total", "hits"} <= set(row)


@needs_shared
def test_year_facets_are_in_year_order(tmp_path):
    for year, count in ((2019, 1), (2020, 3), (2021, 2)):
        for i in range(count):
            write_post(tmp_path / "p", f"_posts/{year}-01-0{i + 1}-a.md", "title: 新闻", "数据")
    index_paths([tmp_path / "p", FINEWS], tmp_path / "ix", jobs=1)
    for engine in (None, WhooshEngine):
        with Index.open(tmp_path / "ix", engine=engine) as ix:
            years = list(ix.search("数据", facets=True).facets["years"])
        assert years == sorted(years)


def test_the_library_takes_what_a_person_writes(tied_index, tmp_path):
    with Index.open(tied_index) as ix:
        one = ix.search("数据中心", tags="交通").total
        assert one == ix.search("数据中心", tags=["交通"]).total > 0
        assert ix.search("数据中心", categories="本地").total == 0
        for bad, name in (
            ({"limit": -1}, "limit"),
            ({"limit": 0}, "limit"),
            ({"page": 0}, "page"),
            ({"tags": 5}, "tags"),
            ({"since": 2021}, "since"),
            ({"match": "most"}, "match"),
        ):
            with pytest.raises(SearchkitError, match=name):
                ix.search("数据中心", **bad)
    post = Post(path="x.md", title="民俗", body="灯会", tags="民俗", date="2020-01-02")
    assert post.tags == ["民俗"] and post.date == datetime(2020, 1, 2)
    with pytest.raises(SearchkitError, match="date"):
        Post(path="x.md", title="t", body="b", date="someday")
    with pytest.raises(SearchkitError, match="tags"):
        Post(path="x.md", title="t", body="b", tags=[1, 2])
    ix = Index.create(tmp_path / "lib")
    ix.add(Post(path="a.md", title="民俗", body="灯会", tags="民俗", date="2020-01-02"))
    stored = ix.post("a.md")
    assert stored.tags == ["民俗"] and stored.date.startswith("2020-01-02")
