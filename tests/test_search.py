import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import SEED_PATH, needs_shared
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_engine import to_whoosh

from searchkit.dates import parse_date_option
from searchkit.errors import QueryError
from searchkit.highlight import find_matches, make_snippet
from searchkit.query import Plan
from searchkit.ranking import Ranking, Shares, text_shares
from searchkit.results import SearchOptions
from searchkit.search import Searcher


@pytest.fixture(scope="module")
def news(news_index):
    with Searcher(news_index) as searcher:
        yield searcher


@pytest.fixture(scope="module")
def examples(examples_index):
    with Searcher(examples_index) as searcher:
        yield searcher


@needs_shared
def test_seed_post_first_with_its_words_marked(news):
    result = news.search("顶山街道")
    assert result.hits[0].path == SEED_PATH
    assert "<mark>顶山" in result.hits[0].snippet.marked()


@needs_shared
def test_since_keeps_2022_and_drops_2021(news):
    everything = news.search("人民币 OR 顶山")
    recent = news.search("人民币 OR 顶山", SearchOptions(since=date(2022, 1, 1)))
    assert any(h.date and h.date.startswith("2021") for h in everything.hits)
    assert SEED_PATH in [h.path for h in recent.hits]
    assert all(h.date >= "2022-01-01" for h in recent.hits)


def test_a_word_without_spaces_is_several_words(examples):
    result = examples.search("顶山街道执法")
    assert result.hits and result.hits[0].path.endswith("street-reform.md")


def test_traditional_query_finds_simplified_posts_and_back(examples):
    simplified = {h.path for h in examples.search("数据中心").hits}
    traditional = {h.path for h in examples.search("數據中心").hits}
    assert simplified == traditional
    assert any(p.endswith("hk-data-centre.md") for p in simplified)
    hk = next(h for h in examples.search("数据中心").hits if h.path.endswith("hk-data-centre.md"))
    assert "<mark>數據中心</mark>" in hk.snippet.marked()


def test_tag_category_and_date_filters(examples):
    tagged = examples.search("数据中心", SearchOptions(tags=("算力",)))
    assert tagged.hits and all("算力" in h.tags for h in tagged.hits)
    # tags fold like text: 數據中心 and 数据中心 are one tag, whichever script asks
    simplified = examples.search("数据中心", SearchOptions(tags=("数据中心",), facets=True))
    traditional = examples.search("数据中心", SearchOptions(tags=("數據中心",)))
    paths = {h.path for h in simplified.hits}
    assert paths == {h.path for h in traditional.hits} and len(paths) >= 2
    assert {tag for h in simplified.hits for tag in h.tags} >= {"数据中心", "數據中心"}
    assert simplified.facets["tags"]["数据中心"] == len(paths)
    assert "數據中心" not in simplified.facets["tags"]
    assert {h.path for h in examples.search("tags:數據中心").hits} == paths
    category = examples.search("交通 OR 高温", SearchOptions(categories=("city",)))
    assert category.hits and all(h.categories == ["city"] for h in category.hits)
    until = examples.search("数据中心", SearchOptions(until=date(2021, 12, 31)))
    assert until.hits and all(h.date < "2022" for h in until.hits)
    between = examples.search("date:[2023-01-01 TO 2023-12-31] 数据中心")
    assert between.hits and all(h.date.startswith("2023") for h in between.hits)


def test_sort_by_date_and_paging(examples):
    newest = examples.search("数据中心", SearchOptions(sort="-date"))
    dates = [h.date for h in newest.hits]
    assert dates == sorted(dates, reverse=True)
    oldest = examples.search("数据中心", SearchOptions(sort="date"))
    assert [h.date for h in oldest.hits] == sorted(dates)
    page1 = examples.search("数据中心 OR 交通", SearchOptions(limit=2))
    page2 = examples.search("数据中心 OR 交通", SearchOptions(limit=2, page=2))
    assert [h.rank for h in page2.hits] == [3, 4]
    assert not {h.path for h in page1.hits} & {h.path for h in page2.hits}


def test_phrases_not_and_minus(examples):
    assert examples.search('"液冷技术"').total >= 2
    with_minus = examples.search("数据中心 -香港")
    assert with_minus.hits and all("hk-" not in h.path for h in with_minus.hits)
    with_not = examples.search("数据中心 NOT 液冷")
    assert all("液冷" not in h.snippet.text for h in with_not.hits)


def test_field_queries(examples):
    result = examples.search("title:灯会")
    assert result.hits and all("灯会" in h.title or "燈會" in h.title for h in result.hits)
    assert examples.search("tags:民俗").total >= 2


@pytest.mark.parametrize("bad", ["title:(", "(数据", "a)", "[2022", "title:", "", "   ", 'date:""'])
def test_bad_queries_raise_query_error(examples, bad):
    with pytest.raises(QueryError):
        examples.search(bad)


def test_hyphenated_names_and_stray_quotes_are_words(examples):
    assert examples.search("数据-中心").total == examples.search("数据中心").total
    assert examples.search('液冷"技术').total == examples.search("液冷技术").total


def test_a_colon_after_chinese_words_is_punctuation_not_a_field(examples):
    headline = examples.search("数据中心: 液冷")
    keywords = examples.search("数据中心 液冷")
    assert keywords.total and headline.total >= keywords.total
    with pytest.raises(QueryError, match="field title: is followed by nothing"):
        examples.search("数据中心 title: 液冷")


def test_a_word_in_no_post_finds_nothing(examples):
    assert examples.search("量子纠缠").total == 0


def test_highlight_offsets_mark_the_words_in_the_snippet(examples):
    for hit in examples.search("数据中心 液冷").hits:
        for start, end in hit.snippet.highlights:
            assert 0 <= start < end <= len(hit.snippet.text)
            marked = hit.snippet.text[start:end]
            assert marked in {"数据中心", "數據中心", "数据", "數據", "中心", "液冷"}


def test_snippets_cut_around_matches_in_long_posts():
    text = "。".join(f"第{i}句普通的内容" for i in range(200)) + "。这里提到防汛工作。"
    snippet = make_snippet(text, find_matches(text, frozenset({"防汛"})))
    assert "防汛" in snippet.text and len(snippet.text) < 120
    assert snippet.text[slice(*snippet.highlights[0])] == "防汛"


def test_date_options():
    assert parse_date_option("2022") == date(2022, 1, 1)
    assert parse_date_option("2022-02", end=True) == date(2022, 2, 28)
    with pytest.raises(QueryError):
        parse_date_option("2022-13-01")


def test_posts_of_one_day_filter_by_the_day_and_sort_to_the_second(tmp_path):
    from conftest import write_post

    from searchkit.indexer import index_paths

    posts = tmp_path / "posts"
    for name, when in (("early", "08:05:00"), ("late", "21:40:00"), ("next", "00:10:00")):
        day = "2023-05-07" if name != "next" else "2023-05-08"
        write_post(posts, f"_posts/{day}-{name}.md", f"date: {day} {when} +0800", "防汛会议")
    index_paths([posts], tmp_path / "ix", jobs=1)
    with Searcher(tmp_path / "ix") as searcher:
        newest = searcher.search("防汛", SearchOptions(sort="-date"))
        assert [h.path.split("-")[-1] for h in newest.hits] == ["next.md", "late.md", "early.md"]
        assert newest.hits[1].date == "2023-05-07T21:40:00+08:00"
        one_day = searcher.search(
            "防汛", SearchOptions(since=date(2023, 5, 7), until=date(2023, 5, 7))
        )
        assert sorted(h.path for h in one_day.hits) == [
            "_posts/2023-05-07-early.md",
            "_posts/2023-05-07-late.md",
        ]
        ranged = searcher.search("防汛 date:[2023-05-08 TO 2023-05-09]")
        assert [h.path for h in ranged.hits] == ["_posts/2023-05-08-next.md"]


def test_a_name_glued_to_its_neighbour_in_the_question_is_still_found(tmp_path):
    from conftest import write_post

    from searchkit.indexer import index_paths

    posts = tmp_path / "posts"
    write_post(
        posts, "_posts/2023-01-01-a.md", "title: 球员", "杨昊（），中国足球运动员，司职中场。"
    )
    for i, club in enumerate(("中乙", "中甲", "中超")):
        body = f"这名球员现效力于{club}联赛的球队，成绩一般。"
        write_post(posts, f"_posts/2023-01-0{i + 2}-b{i}.md", "title: 球队", body)
    index_paths([posts], tmp_path / "ix", jobs=1)
    with Searcher(tmp_path / "ix") as searcher:
        assert searcher.search("杨昊现效力于哪里？").hits[0].path == "_posts/2023-01-01-a.md"


def test_the_words_inside_a_long_query_word_weigh_less_than_it(examples):
    from searchkit.nodes import Term, leaves
    from searchkit.parser import WORD_PARTS

    parsed = examples.parse("影视作品")
    boosts = {(t.field, t.text): t.boost for t in leaves(parsed) if isinstance(t, Term)}
    assert boosts[("body", "影视作品")] == 1.0
    assert boosts[("body", "影视")] == boosts[("body", "作品")] == WORD_PARTS
    assert boosts[("title", "影视作品")] == 0.5


@pytest.mark.parametrize(
    "text, options",
    [
        ("数据中心 液冷", SearchOptions()),
        ("香港 经济", SearchOptions(since=date(2022, 1, 1))),
        ("数据", SearchOptions(tags=["科技"])),
        ('"数据中心" 液冷', SearchOptions()),
        ("数据中心 NOT 液冷", SearchOptions()),
    ],
)
def test_total_is_the_number_of_matching_posts(examples, text, options):
    """A few keywords count the posts whose folded title or text holds every one (and none
    of those negated), as grep over the folded posts would."""
    from searchkit.folding import fold_text

    found = examples.search(text, replace(options, match="all"))
    plan = examples.plan(text)
    kept = examples._filter(options)
    allowed = set(examples.engine.whoosh_searcher.docs_for_query(to_whoosh(kept))) if kept else None
    wanted = [typed.text for typed in plan.words]
    unwanted = [node.text for node in plan.excluded]
    count = 0
    for docnum, stored in enumerate(examples.engine.whoosh_searcher.all_stored_fields()):
        if allowed is not None and docnum not in allowed:
            continue
        folded = fold_text(stored.get("title", "")) + "\n" + fold_text(stored.get("text") or "")
        if all(w in folded for w in wanted) and not any(w in folded for w in unwanted):
            count += 1
    assert found.counted == "every" and found.total == count


def test_a_question_counts_the_posts_its_words_match(examples):
    """A question is ranked by relevance, and counts what its query matches (said so)."""
    text = "数据中心用了什么液冷技术？"
    found = examples.search(text)
    whoosh = examples.engine.whoosh_searcher.search(to_whoosh(examples.parse(text)), limit=None)
    assert found.counted == "query" and found.total == len(whoosh) == whoosh.scored_length()


def _shares(searcher, text: str) -> dict[str, Shares]:
    """``path -> Shares`` (each a number) of each hit of ``text``."""
    results = searcher.engine.whoosh_searcher.search(to_whoosh(searcher.parse(text)), limit=10)
    top = [(hit.docnum, hit.score) for hit in results]
    shares = searcher.reranker.shares(searcher.plan(text), top)
    return {
        hit["path"]: Shares(*(float(part[i]) for part in shares)) for i, hit in enumerate(results)
    }


def _index(tmp_path, posts: dict[str, str]) -> Path:
    """An index of one post per ``name -> text`` (its title the text's first sentence)."""
    from conftest import write_post

    from searchkit.indexer import index_paths

    folder = tmp_path / "posts"
    for name, text in posts.items():
        write_post(folder, f"_posts/{name}.md", f"title: {text.split('。')[0]}", text)
    index_paths([folder], tmp_path / "ix", jobs=1)
    return tmp_path / "ix"


def test_hits_gain_by_the_share_of_the_query_spans_weighted_by_rarity(tmp_path):
    ix = _index(
        tmp_path,
        {
            "2023-01-01-a": "动画在台湾台视播出，收视很好。",
            "2023-01-02-b": "台视的动画很多，在台湾很受欢迎，播出时间不定。",
        },
    )
    with Searcher(ix) as searcher:
        text = "在台湾台视播出"
        shares = _shares(searcher, text)
        assert shares["_posts/2023-01-01-a.md"].span == pytest.approx(1.0)  # every trigram
        # b holds 在台湾 only, which both hits hold: it weighs log(3/2.5) against log(3/1.5)
        # for each of the four trigrams only a holds
        common, rare = math.log(3 / 2.5), math.log(3 / 1.5)
        assert shares["_posts/2023-01-02-b.md"].span == pytest.approx(common / (common + 4 * rare))
        assert searcher.search(text).hits[0].path == "_posts/2023-01-01-a.md"


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.text(alphabet="台湾视播出在12ab的\0 ", max_size=40), max_size=6),
    size=st.integers(1, 3),
    data=st.data(),
)
def test_the_runs_each_text_holds_are_those_a_substring_test_finds(texts, size, data):
    """What the rewards read of the best hits' texts, in numpy passes over all of them, is
    what testing each run in each text finds (runs that span two texts are not held)."""
    from searchkit.ranking import Runs, _held

    pieces = [t[i : i + size] for t in texts for i in range(len(t) - size + 1)]
    pieces = [piece for piece in pieces if "\0" not in piece]  # parts are letters and digits
    drawn = st.text(alphabet="台湾视播出在12ab的", min_size=size, max_size=size)
    parts = sorted(set(data.draw(st.lists(drawn, max_size=8))) | set(pieces[:5]))
    expected = _held(parts, texts).reshape(len(texts), len(parts))
    assert (Runs(texts).held(parts, size) == expected).all()


@needs_shared
def test_the_runs_held_on_real_posts(news):
    from searchkit.ranking import Runs, _held

    texts = [
        news.reranker._text_of(docnum)[0]
        for docnum in range(news.engine.whoosh_searcher.doc_count_all())
    ]
    for size in (1, 2, 3):
        parts = sorted({text[i : i + size] for text in texts[:20] for i in range(0, 200, 37)})
        parts = [part for part in parts if len(part) == size and "\0" not in part]
        assert (Runs(texts).held(parts, size) == _held(parts, texts)).all()


def test_twins_a_number_decides_and_a_comma_does_not_break_the_spans(tmp_path):
    ix = _index(
        tmp_path,
        {
            "2023-07-07-a": "6月末，我国外汇储备规模为31930亿美元，较5月末上升。",
            "2023-08-07-b": "7月末，我国外汇储备规模为31041亿美元，较6月末下降。",
            "2023-09-07-c": "8月末，我国外汇储备规模为30798亿美元，较7月末下降。",
        },
    )
    with Searcher(ix) as searcher:
        text = "7月末我国外汇储备规模为31041亿美元"
        assert "月末我" in searcher.plan(text).grams
        shares = _shares(searcher, text)
        held = shares["_posts/2023-08-07-b.md"]
        assert held == pytest.approx((1.0,) * 6)  # all of it, across the comma
        # of the numbers 7 and 31041, c holds 7 (较7月末) and a neither
        assert shares["_posts/2023-09-07-c.md"].numbers == pytest.approx(0.5)
        assert shares["_posts/2023-07-07-a.md"].numbers == 0.0
        assert searcher.search(text).hits[0].path == "_posts/2023-08-07-b.md"
        assert searcher.search("8月末我国外汇储备规模").hits[0].path == "_posts/2023-09-07-c.md"


def test_twins_a_figure_in_hundreds_of_millions_is_its_leading_digits(tmp_path):
    """A headline writes 3亿845万 for the 308458509 of its story: the twin whose figure also
    holds 845 (318450233) does not count as holding it, and a story that writes the figure
    as the headline does holds it."""
    ix = _index(
        tmp_path,
        {
            "2022-01-10-a": "截至北京时间10日，全球累计新冠肺炎确诊病例已达到308458509例。",
            "2022-01-12-b": "截至北京时间12日，全球累计新冠肺炎确诊病例已达到318450233例。",
            "2022-01-11-c": "截至北京时间11日，全球累计新冠肺炎确诊病例超3亿845万例。",
        },
    )
    with Searcher(ix) as searcher:
        text = "全球累计新冠确诊病例超3亿845万例"
        assert searcher.plan(text).numbers == {("30845", "3亿845万")}
        shares = _shares(searcher, text)
        assert shares["_posts/2022-01-10-a.md"].numbers == 1.0
        assert shares["_posts/2022-01-11-c.md"].numbers == 1.0
        assert shares["_posts/2022-01-12-b.md"].numbers == 0.0
        paths = [hit.path for hit in searcher.search(text).hits]
        assert paths.index("_posts/2022-01-10-a.md") < paths.index("_posts/2022-01-12-b.md")


def test_twins_opening_against_closing(tmp_path):
    ix = _index(
        tmp_path,
        {
            "2023-03-05-open": "十四届全国人大一次会议5日在京开幕。代表们审议政府工作报告。",
            "2023-03-13-close": (
                "十四届全国人大一次会议13日在京闭幕。大会自5日开幕以来，代表们审议了"
                "政府工作报告。十四届全国人大一次会议圆满完成各项议程，全国人大会议闭幕。"
            ),
        },
    )
    with Searcher(ix) as searcher:
        opened = searcher.search("十四届全国人大一次会议在京开幕")
        assert opened.hits[0].path == "_posts/2023-03-05-open.md"
        closed = searcher.search("十四届全国人大一次会议在京闭幕")
        assert closed.hits[0].path == "_posts/2023-03-13-close.md"


def test_a_rare_name_beats_a_repeated_common_phrase(tmp_path):
    posts = {
        f"2023-0{month}-01-meet": f"习近平会见{country}总统。习近平会见时指出，双方要加强合作。"
        for month, country in ((1, "越南"), (2, "法国"), (3, "巴西"), (4, "南非"))
    }
    posts["2023-05-01-phrase"] = (
        "习近平会见老挝客人。习近平会见时说，习近平会见是友好的，习近平会见国家主席的客人。"
    )
    posts["2023-06-01-name"] = (
        "国家主席习近平20日在人民大会堂会见老挝国家主席通伦。双方签署合作文件。"
    )
    ix = _index(tmp_path, posts)
    with Searcher(ix) as searcher:
        text = "习近平会见老挝国家主席通伦"
        assert searcher.search(text).hits[0].path == "_posts/2023-06-01-name.md"
        covers = {path: shares.cover for path, shares in _shares(searcher, text).items()}
        assert covers["_posts/2023-06-01-name.md"] == pytest.approx(1.0)
        assert covers["_posts/2023-06-01-name.md"] > covers["_posts/2023-05-01-phrase.md"]


def test_a_shortened_headline_finds_its_story_by_its_characters_and_pairs():
    """A headline writes 俄 for 俄罗斯 and 澳 for 澳大利亚: the characters in a story's
    opening and the pairs in its text count, each by how rare it is among the hits."""
    texts = [
        "李强会见澳大利亚总理阿尔巴尼斯，双方表示愿加强合作。",
        "李强会见新西兰总理希普金斯，双方表示愿加强合作。",
    ]
    plan = Plan(
        text="李强会见澳总理",
        query=None,
        chars=frozenset("李强会见澳总理"),
        pairs=frozenset({"李强", "强会", "会见", "见澳", "澳总", "总理"}),
    )
    ranking = Ranking(opening_chars=12)
    shares = text_shares(plan, [], [], [(text, text) for text in texts], ranking)
    # 澳 is held by one of two texts and weighs log(3/1.5); the six others by both, log(3/2.5)
    common, rare = math.log(3 / 2.5), math.log(3 / 1.5)
    assert shares.chars.tolist() == pytest.approx([1.0, 6 * common / (6 * common + rare)])
    # the first 12 characters only: 总理 comes after them in the first text, not the second
    assert text_shares(plan, [], [], [(t, t) for t in texts], Ranking(opening_chars=8)).chars[0] < 1
    # pairs: 李强 强会 会见 总理 in both; 见澳 (会见澳大利亚) in the first only; 澳总 in neither
    half, none = math.log(3 / 1.5), math.log(3 / 0.5)
    total = 4 * common + half + none
    assert shares.pairs.tolist() == pytest.approx([(4 * common + half) / total, 4 * common / total])
    assert shares.numbers.tolist() == [0.0, 0.0]


def test_a_number_in_the_query_outweighs_its_words_repeated(tmp_path):
    """The report that holds the query's figure beats one that repeats the query's words with
    another figure; without the numbers reward the repetition wins."""
    ix = _index(
        tmp_path,
        {
            "2023-03-10-a": "居民消费价格同比上涨。居民消费价格环比上涨，核心居民消费价格同比上涨1.0%。",
            "2023-04-10-b": "统计局发布数据，4月份居民消费价格同比涨幅为0.7%，稳中有升。",
        },
    )
    text = "居民消费价格同比上涨0.7%"
    with Searcher(ix) as searcher:
        assert searcher.search(text).hits[0].path == "_posts/2023-04-10-b.md"
        assert _shares(searcher, text)["_posts/2023-04-10-b.md"].numbers == 1.0
    with Searcher(ix, ranking=Ranking(numbers=0)) as searcher:
        assert searcher.search(text).hits[0].path == "_posts/2023-03-10-a.md"


def test_bm25_ranking_is_the_engines_order_and_scores(examples_index):
    with Searcher(examples_index, ranking=Ranking.bm25()) as searcher:
        text = "数据中心，液冷"  # a headline: ranked by the query's scores alone
        hits = searcher.search(text, SearchOptions(limit=5)).hits
        whoosh = searcher.engine.whoosh_searcher.search(to_whoosh(searcher.parse(text)), limit=5)
        assert [hit.path for hit in hits] == [found["path"] for found in whoosh]
        assert [hit.score for hit in hits] == [round(found.score, 4) for found in whoosh]


def test_the_rerank_reads_each_hit_s_text_from_its_column_as_it_would_fold_it(examples):
    """The ``bare`` column holds what the rerank would make of the stored title and text."""
    from searchkit.folding import bare_text
    from searchkit.schema import bare_value, read_bare

    assert read_bare(bare_value("標題，一", "正文：二。", "t2s")) == ("标题一", "正文二")
    assert read_bare(b"") is None
    for docnum in range(examples.engine.whoosh_searcher.doc_count_all()):
        stored = examples.engine.whoosh_searcher.stored_fields(docnum)
        title, text = read_bare(examples.engine.bytes_of("bare", docnum))
        assert title == bare_text(stored["title"]) and text == bare_text(stored.get("text") or "")
