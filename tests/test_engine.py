"""The array engine against Whoosh's matchers: the same hits, order, scores, totals, facets."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date

import pytest
from conftest import EXAMPLES, FINEWS, needs_shared
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_engine import WhooshEngine, to_whoosh
from whoosh.matching.binary import AndNotMatcher

from searchkit.indexer import index_paths
from searchkit.results import SearchOptions
from searchkit.search import Searcher

#: Words of the example posts and of the news sample, common and rare, and some in neither.
WORDS = [
    "数据", "中心", "数据中心", "液冷", "电力", "高温", "城市", "公司", "市场", "经济", "银行",
    "香港", "图书馆", "地铁", "学生", "发展", "2023", "服务", "社区", "用电", "企业", "增长",
    "政府", "科技", "网络", "人工智能", "台灣", "資料", "不存在的词", "xyz",
]  # fmt: skip
TAGS = ["电力", "高温", "数据中心", "交通", "教育", "不存在"]


def _find_first(self):
    """Whoosh's ``AndNotMatcher._find_first`` skips the excluded posts only when both lists
    start on the same post, so ``中心 NOT 数据`` keeps a post with 数据 that comes after the
    first post with 数据 and is the first with 中心; the reference is compared with this
    fixed."""
    if self.a.is_active() and self.b.is_active():
        self._find_next()


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """An index of several segments with a deleted post: the examples (copied, then one of
    them changed and indexed again) and the news sample; a searcher of each engine."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AndNotMatcher, "_find_first", _find_first)
        yield from _engines(tmp_path_factory)


def _engines(tmp_path_factory):
    root = tmp_path_factory.mktemp("engines")
    posts = root / "posts"
    shutil.copytree(EXAMPLES, posts)
    folder = root / "index"
    index_paths([posts], folder, jobs=1)
    if FINEWS.is_dir():
        index_paths([FINEWS], folder, jobs=2)
    changed = sorted(posts.rglob("*.md"))[3]
    changed.write_text(changed.read_text("utf-8").replace("。", "。数据中心的高温。", 1), "utf-8")
    index_paths([posts], folder, jobs=1)
    arrays, whoosh = Searcher(folder, engine=None), Searcher(folder, engine=WhooshEngine)
    yield arrays, whoosh
    arrays.close()
    whoosh.close()


def same(arrays, whoosh, text, options):
    """The same answer from both engines.  Facets are compared on their own: asking for them
    changes which of the posts tied at the cut Whoosh's collector keeps."""
    plain = replace(options, facets=False)
    a, b = arrays.search(text, plain), whoosh.search(text, plain)
    assert a.total == b.total, text
    assert [h.path for h in a.hits] == [h.path for h in b.hits], text
    assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], abs=1e-4)
    if options.facets:
        assert arrays.search(text, options).facets == whoosh.search(text, options).facets
    return a


def test_the_index_has_segments_and_a_deletion(engines):
    arrays, whoosh = engines
    assert len(arrays.engine.segments) >= 2
    assert whoosh.engine.whoosh_searcher.reader().has_deletions()


@pytest.mark.parametrize(
    "text",
    [
        "数据中心 液冷",
        "数据 NOT 液冷",
        "数据 -液冷",
        '"数据中心"',
        '"数据 中心"',
        "title:数据",
        "tags:电力",
        "categories:economy",
        "数据 date:[2023 to 2024]",
        "NOT 数据",
        "数据 AND 中心",
        "数据 OR 电力 OR 银行",
        "(数据 OR 电力) AND 高温",
        "資料中心",
        "香港的数据中心用电增长很快，政府推动液冷技术发展",
        "不存在的词",
        "year:2023 数据",
    ],
)
def test_fixed_queries(engines, text):
    arrays, whoosh = engines
    same(arrays, whoosh, text, SearchOptions(limit=20, facets=True))


def test_the_proximity_and_span_rewards_are_the_same(engines):
    arrays, whoosh = engines
    found = same(arrays, whoosh, "数据中心液冷技术", SearchOptions(limit=10))
    assert found.hits


def test_a_filter_that_matches_only_the_first_post_is_a_filter(engines):
    """Post number 0 (the oldest example) is the only one before April 2019; the reference
    read its filter as matching nothing (``any([0])`` is false)."""
    arrays, whoosh = engines
    options = SearchOptions(limit=5, until=date(2019, 4, 1))
    found = same(arrays, whoosh, "数据", options)
    assert [h.path for h in found.hits] == ["_posts/2019-03-12-city-library-night.md"]


def test_similar_is_the_same(engines):
    arrays, whoosh = engines
    path = arrays.search("数据中心", SearchOptions(limit=1)).hits[0].path
    a_similar, b_similar = arrays.similar(path), whoosh.similar(path)
    assert a_similar.terms == b_similar.terms
    a, b = a_similar.result, b_similar.result
    assert [h.path for h in a.hits] == [h.path for h in b.hits] and a.total == b.total
    assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], abs=1e-4)
    assert path not in [h.path for h in a.hits]


def test_not_excludes_a_post_before_the_first_positive_one(engines):
    arrays, _ = engines
    hits = arrays.search("中心 NOT 数据", SearchOptions(limit=50)).hits
    texts = [arrays.engine.whoosh_searcher.document(path=h.path)["text"] + h.title for h in hits]
    assert texts and all("中心" in text and "数据" not in text for text in texts)


def test_date_order_keeps_undated_posts_last_and_shows_relevance(engines):
    arrays, _ = engines
    for sort in ("date", "-date"):
        hits = arrays.search("数据 OR 电力 OR 银行", SearchOptions(limit=200, sort=sort)).hits
        dates = [h.date for h in hits if h.date]
        assert dates and [h.date for h in hits[: len(dates)]] == dates  # undated at the end
        assert dates == sorted(dates, reverse=sort == "-date")
        bm25 = arrays.engine.whoosh_searcher.search(
            to_whoosh(arrays.parse("数据 OR 电力 OR 银行")), limit=None
        )
        relevance = {
            arrays.engine.whoosh_searcher.stored_fields(h.docnum)["path"]: h.score for h in bm25
        }
        assert all(h.score == pytest.approx(relevance[h.path], abs=1e-4) for h in hits)


words = st.sampled_from(WORDS)


@st.composite
def queries(draw):
    parts = draw(st.lists(words, min_size=1, max_size=6))
    out = []
    for word in parts:
        form = draw(st.sampled_from(["plain"] * 6 + ["not", "minus", "title", "and", "phrase"]))
        if form == "plain" or not out and form in ("not", "minus", "and"):
            out.append(word)
        elif form == "not":
            out.append(f"NOT {word}")
        elif form == "minus":
            out.append(f"-{word}")
        elif form == "title":
            out.append(f"title:{word}")
        elif form == "and":
            out.append(f"AND {word}")
        else:
            out.append(f'"{word}{draw(words)}"')
    return " ".join(out)


@st.composite
def options(draw):
    since = draw(st.none() | st.dates(date(2018, 1, 1), date(2025, 12, 31)))
    until = draw(st.none() | st.dates(since or date(2018, 1, 1), date(2026, 12, 31)))
    return SearchOptions(
        limit=draw(st.integers(1, 15)),
        page=draw(st.integers(1, 2)),
        since=since,
        until=until,
        tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=1))),
        facets=draw(st.booleans()),
    )


@needs_shared
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=queries(), opts=options())
def test_made_up_queries_give_the_same_hits(engines, text, opts):
    arrays, whoosh = engines
    same(arrays, whoosh, text, opts)


@pytest.mark.parametrize("text", ["香港将军澳", "马克龙", "将军澳", "不存在的词"])
def test_a_character_beside_a_word_is_read_alike_by_both_engines(engines, text):
    """A character the segmenter left beside a word is read with it when some post holds
    the two together: both engines answer that question, and the query, alike."""
    from searchkit.nodes import Exact

    arrays, whoosh = engines
    assert arrays.engine.holds_some(Exact(text), {}) == whoosh.engine.holds_some(Exact(text), {})
    assert arrays.plan(text) == whoosh.plan(text)
    same(arrays, whoosh, text, SearchOptions(limit=10))
