"""Near-duplicates: sketches, groups, collapsed results, and the dupes command."""

from __future__ import annotations

import json

import numpy as np
import opencc
import pytest
from click.testing import CliRunner
from conftest import write_post
from hypothesis import given
from hypothesis import strategies as st

from searchkit import Index
from searchkit.cli import cli
from searchkit.dupes import _distinct, near, similarity, sketch

#: A story written for these tests, and its variants.
STORY = (
    "江北新区数据中心二期工程今天投入使用，新增机柜四千个，总规模达到七千个。"
    "数据中心采用液冷技术，设计能源使用效率低于1.2，年节电约3000万千瓦时。"
    "园区负责人表示，二期工程将重点服务人工智能训练、工业互联网和政务云，"
    "预计明年上半年上架率超过60%。"
    "当天，园区还与三家高校签订人才培养协议，共建算力实验室。"
)
REPOST = "来源：江北日报\n\n" + STORY + "\n\n（责任编辑：王明）"
TRADITIONAL = opencc.OpenCC("s2t").convert(STORY)
TRIMMED = STORY.rsplit("当天", 1)[0]
NEW_LEAD = "记者从江北新区获悉，" + STORY.split("。", 1)[1]
#: Next year's report of the same project: the same words, other figures.
TWIN = (
    STORY.replace("二期", "三期")
    .replace("四千", "五千")
    .replace("七千", "一万二千")
    .replace("1.2", "1.15")
    .replace("3000", "4500")
    .replace("60%", "75%")
)
OTHER = (
    "城东地铁五号线今天开通试运营，全长二十三公里，设车站十八座。"
    "市交通部门表示，五号线开通后，城东到市中心的通勤时间将缩短一半。"
)


def test_copies_are_near_and_twins_and_other_stories_are_not():
    base = sketch(STORY)
    for copy in (REPOST, TRADITIONAL, TRIMMED, NEW_LEAD):
        assert near(base, sketch(copy)), copy[:20]
    assert similarity(base, sketch(TWIN)) > 0.5  # alike in words...
    assert not near(base, sketch(TWIN))  # ...but not in numbers
    assert not near(base, sketch(OTHER))
    assert sketch("短讯。").text.size == 0 and not near(sketch("短讯。"), sketch("短讯。"))


def test_a_text_folded_beforehand_gives_the_sketch_of_the_text():
    from searchkit.folding import Folded, fold_text

    for text in (STORY, TRADITIONAL, "气温３８℃，湿度６０％。" * 8):
        ours = sketch(Folded(fold_text(text), "t2s"))
        again = sketch(text)
        assert (ours.text == again.text).all() and (ours.numbers == again.numbers).all()
        assert ours.shingles == again.shingles > 0
    assert (sketch(TRADITIONAL).text == sketch(STORY).text).all()


def test_a_sketch_survives_its_bytes():
    found = sketch(STORY)
    again = type(found).from_bytes(found.to_bytes())
    assert again is not None and similarity(found, again) == 1.0
    assert (again.text == found.text).all() and again.shingles == found.shingles
    assert type(found).from_bytes(b"\x01") is None


def _archive(root):
    posts = {
        "2024-03-01-dc.md": ("2024-03-01", STORY),
        "2024-03-01-dc-repost.md": ("2024-03-01", REPOST),
        "2024-03-02-dc-hk.md": ("2024-03-02", TRADITIONAL),
        "2024-03-03-dc-short.md": ("2024-03-03", TRIMMED),
        "2025-03-01-dc-three.md": ("2025-03-01", TWIN),
        "2024-03-05-metro.md": ("2024-03-05", OTHER),
    }
    for name, (day, text) in posts.items():
        write_post(root, f"_posts/{name}", f"title: {text[:12]}\ndate: {day}", text)
    return root


@pytest.fixture
def ix(tmp_path):
    index = Index.create(tmp_path / "ix")
    index.update([_archive(tmp_path / "posts")])
    yield index
    index.close()


def test_the_archive_groups_copies_oldest_first(ix):
    report = ix.dupes()
    assert report.posts == 6
    [group] = report.groups
    assert [post.path for post in group] == [
        "_posts/2024-03-01-dc-repost.md",
        "_posts/2024-03-01-dc.md",
        "_posts/2024-03-02-dc-hk.md",
        "_posts/2024-03-03-dc-short.md",
    ]


def test_collapsed_results_fold_copies_into_the_best_hit(ix):
    everything = ix.search("液冷 机柜", limit=10)
    assert len(everything.hits) == 5 and everything.collapsed is None
    folded = ix.search("液冷 机柜", limit=10, collapse=True)
    assert folded.total == 5 and folded.collapsed == 3
    assert [len(hit.duplicates) for hit in folded.hits] == [3, 0]
    assert folded.hits[0].path == everything.hits[0].path
    assert set(folded.hits[0].duplicates) == {h.path for h in everything.hits} - {
        folded.hits[0].path,
        "_posts/2025-03-01-dc-three.md",
    }
    assert folded.hits[1].path == "_posts/2025-03-01-dc-three.md"  # the twin stays apart
    assert [h.rank for h in folded.hits] == [1, 2]


def test_an_update_keeps_the_sketches_current(ix, tmp_path):
    write_post(tmp_path / "posts", "_posts/2024-03-01-dc-repost.md", "title: 更正", OTHER)
    ix.update([tmp_path / "posts"])
    story, metro = ([post.path for post in group] for group in ix.dupes().groups)
    assert story == [
        "_posts/2024-03-01-dc.md",
        "_posts/2024-03-02-dc-hk.md",
        "_posts/2024-03-03-dc-short.md",
    ]
    assert metro == ["_posts/2024-03-01-dc-repost.md", "_posts/2024-03-05-metro.md"]


def test_the_command_line(ix):
    runner = CliRunner()
    index = ["--index", str(ix.folder)]
    text = runner.invoke(cli, ["dupes", *index, "--no-color"])
    assert text.exit_code == 0
    assert "1. 4 posts:" in text.output and "* 2024-03-01" in text.output
    data = json.loads(runner.invoke(cli, ["dupes", *index, "--json"]).output)
    assert data["threshold"] == 0.8 and len(data["groups"][0]) == 4
    assert (data["group_count"], data["in_groups"], data["posts"]) == (1, 4, 6)
    strict = json.loads(runner.invoke(cli, ["dupes", *index, "--json", "--threshold", "1"]).output)
    assert strict["threshold"] == 1.0 and strict["posts"] == 6
    shown = runner.invoke(cli, ["search", "液冷", "机柜", *index, "--no-color"])
    assert "+3 similar:" in shown.output and "3 similar folded" in shown.output
    rows = json.loads(runner.invoke(cli, ["search", "液冷", "机柜", *index, "--json"]).output)
    assert len(rows["hits"]) == 5 and "duplicates" not in rows["hits"][0]
    folded = runner.invoke(cli, ["search", "液冷", "机柜", *index, "--json", "--collapse"])
    data = json.loads(folded.output)
    assert data["collapsed"] == 3 and len(data["hits"][0]["duplicates"]) == 3
    every = runner.invoke(cli, ["search", "液冷", "机柜", *index, "--no-collapse"])
    assert "similar" not in every.output


def test_pairs_compared_as_arrays_agree_with_one_by_one():
    import random

    import numpy as np

    from searchkit.dupes import K, _matrix, _similar, near_pairs

    rng = random.Random(5)
    sentences = [s + "。" for s in (STORY + OTHER + TWIN).split("。") if s]
    texts = [STORY, REPOST, TRADITIONAL, TRIMMED, NEW_LEAD, TWIN, OTHER, "短讯。"]
    texts += ["".join(rng.sample(sentences, rng.randint(1, len(sentences)))) for _ in range(40)]
    sketches = [sketch(text) for text in texts]
    pairs = np.array([(a, b) for a in range(len(texts)) for b in range(len(texts)) if a != b])
    for threshold in (0.5, 0.8, 0.95):
        expected = [near(sketches[a], sketches[b], threshold) for a, b in pairs.tolist()]
        assert near_pairs(sketches, pairs, threshold).tolist() == expected
        assert 0 < sum(expected) < len(expected)
    matrix, sizes = _matrix([s.text for s in sketches], K)
    shingles = np.array([s.shingles for s in sketches])
    a, b = pairs[:, 0], pairs[:, 1]
    values = _similar(matrix[a], matrix[b], sizes[a], sizes[b], shingles[a], shingles[b])
    assert values.tolist() == pytest.approx(
        [similarity(sketches[x], sketches[y]) for x, y in pairs.tolist()]
    )


@given(st.lists(st.integers(0, 2**64 - 1), max_size=300))
def test_distinct_hashes_are_the_sorted_set_of_their_high_halves(values):
    hashes = np.array(values, dtype=np.uint64)
    assert _distinct(hashes).dtype == np.uint32
    assert _distinct(hashes).tolist() == sorted({value >> 32 for value in values})


#: The chain of four stories one event makes: a short notice, the notice of its broadcast
#: (which repeats the notice's long phrases), the booklet of the speech, and the booklet's
#: other edition.  Each later one quotes the one before; none is a copy of another.
EVENT = "庆祝香港回归祖国二十五周年大会暨香港特别行政区第六届政府就职典礼"
NOTICE = f"国家主席习近平将出席{EVENT}。新华社北京电，中共中央总书记、国家主席、中央军委主席习近平将出席{EVENT}。"
BROADCAST = (
    NOTICE
    + f"中央广播电视总台将对{EVENT}进行现场直播，央视新闻频道、央视网和央视新闻客户端同步播出，"
    "欢迎广大观众届时收听收看。各地电视台转播，海外频道同时播出，并配有多种语言的字幕。"
)
BOOKLET = (
    NOTICE + f"习近平《在{EVENT}上的讲话》单行本，已由人民出版社出版，即日起在全国新华书店发行。"
    "讲话深刻阐述了一国两制的伟大实践，对香港发展提出了殷切希望，具有重大的现实意义和"
    "深远的历史意义。单行本装帧精美，定价合理，各地党委组织学习，干部群众反响热烈。"
    "出版社负责人介绍，单行本首印数十万册，已发往各地，读者可在实体书店和网上书店购买，"
    "各级图书馆也将陆续上架，供读者借阅学习，社会各界纷纷表示要认真学习领会讲话精神。"
)
EDITION = (
    BOOKLET.replace("单行本，已由人民出版社出版", "单行本繁体版和英文版，已由香港三联书店出版")
    + "繁体版和英文版的出版发行，有助于香港同胞和国际社会更好地理解一国两制的实践。"
)


def test_a_notice_does_not_chain_the_stories_that_quote_it(tmp_path):
    posts = tmp_path / "posts"
    for day, name, text in (
        ("2022-06-25", "notice", NOTICE),
        ("2022-06-30", "broadcast", BROADCAST),
        ("2022-07-04", "booklet", BOOKLET),
        ("2022-07-08", "edition", EDITION),
    ):
        write_post(posts, f"_posts/{day}-{name}.md", f"title: {name}\ndate: {day}", text)
    ix = Index.create(tmp_path / "ix")
    ix.update([posts])
    for group in ix.dupes().groups:
        names = {post.title for post in group}
        assert len(names & {"notice", "broadcast", "booklet", "edition"}) <= 2, names
        assert not ({"notice", "booklet"} <= names or {"notice", "edition"} <= names)
    hits = ix.search(f"{EVENT} 讲话 单行本", collapse=True, limit=10).hits
    assert "booklet" in {hit.title for hit in hits}  # not folded into another story


def test_copies_stay_one_group_and_a_story_copied_hundreds_of_times_is_a_group(tmp_path):
    posts = tmp_path / "posts"
    for name, text in (
        ("story", STORY),
        ("new-lead", NEW_LEAD),
        ("traditional", TRADITIONAL),
        ("trimmed", TRIMMED),
        ("repost", REPOST),
    ):
        write_post(posts, f"_posts/2021-07-01-{name}.md", f"title: {name}", text)
    for i in range(300):  # more posts than share a hash for all-pairs comparison
        write_post(posts, f"_posts/2022-01-01-wire{i:03}.md", f"title: 通稿{i}", OTHER * 3)
    ix = Index.create(tmp_path / "ix")
    ix.update([posts])
    groups = ix.dupes().groups
    titles = [sorted(post.title for post in group) for group in groups]
    assert sorted(["story", "new-lead", "traditional", "trimmed", "repost"]) in titles
    assert any(len(group) == 300 for group in groups)


#: Two stories told by one formula: the games' opening notice and its closing one (开幕式 for
#: 闭幕式, one day for another, a sentence dropped), and two delegations welcomed on one
#: day (names swapped throughout).
OPENING = (
    "江北市第十届运动会开幕式周五晚在奥体中心举行。市委书记、市长将出席开幕式并宣布运动会开幕。"
    "届时，江北广播电视台新闻频道、体育频道和江北之声等频率将进行现场直播，"
    "江北发布、江北新闻客户端等新媒体平台将同步转播，欢迎广大市民届时收看。"
)
CLOSING = OPENING.replace("开幕式周五", "闭幕式周日").replace(
    "将出席开幕式并宣布运动会开幕", "将出席闭幕式"
)
WELCOME = (
    "市长17日上午在市政府大礼堂举行仪式，欢迎新加坡经贸代表团团长陈文华一行访问江北。"
    "陈文华在市长陪同下参观了江北新区规划展览馆。"
    "双方就数据中心、港口物流和人才培养等领域的合作深入交换了意见，"
    "当天下午，代表团还考察了江北港集装箱码头和两家软件企业，并出席了投资推介会。"
    "推介会上，江北新区管委会介绍了新区的产业规划、营商环境和人才政策，"
    "十余家企业代表就跨境电商、冷链物流和工业软件等项目与新区有关部门进行了洽谈。"
    "市政府有关部门负责人陪同参加上述活动。"
)
SECOND_WELCOME = (
    WELCOME.replace("上午", "下午")
    .replace("新加坡", "马来西亚")
    .replace("陈文华", "林国强")
    .replace("当天下午", "当天晚上")
)


def test_words_swapped_by_a_formula_make_another_story_and_copies_swap_none():
    from searchkit.dupes import same_story, swapped_words
    from searchkit.folding import folded_bare

    def bare(text):
        return folded_bare(text, "t2s")

    for one, other in ((OPENING, CLOSING), (WELCOME, SECOND_WELCOME)):
        assert near(sketch(one), sketch(other))  # alike enough for the sketches...
        assert swapped_words(bare(one), bare(other))  # ...but words are swapped in place
        assert not same_story(bare(one), bare(other))
    assert ("新加坡", "马来西亚") in swapped_words(bare(WELCOME), bare(SECOND_WELCOME))
    mended = STORY.replace("签订", "签署")  # one word mended: still the story
    for copy in (REPOST, TRADITIONAL, TRIMMED, NEW_LEAD, STORY, mended):
        assert same_story(bare(STORY), bare(copy)), copy[:20]


def test_formula_stories_stay_apart_in_groups_and_in_collapsed_results(tmp_path):
    posts = tmp_path / "posts"
    for day, name, text in (
        ("2024-05-07", "opening", OPENING),
        ("2024-05-19", "closing", CLOSING),
        ("2024-05-17", "welcome", WELCOME),
        ("2024-05-17", "second-welcome", SECOND_WELCOME),
        ("2024-05-18", "welcome-repost", "来源：江北日报\n\n" + WELCOME),
    ):
        write_post(posts, f"_posts/{day}-{name}.md", f"title: {name}\ndate: {day}", text)
    ix = Index.create(tmp_path / "ix")
    ix.update([posts])
    groups = [sorted(post.title for post in group) for group in ix.dupes().groups]
    assert groups == [["welcome", "welcome-repost"]]
    hits = ix.search("运动会 直播", collapse=True).hits
    assert sorted(hit.title for hit in hits) == ["closing", "opening"]
    hits = {hit.title: hit.duplicates for hit in ix.search("代表团 江北新区", collapse=True).hits}
    assert hits["welcome-repost"] == ["_posts/2024-05-17-welcome.md"]
    assert hits["second-welcome"] == [] and "welcome" not in hits
