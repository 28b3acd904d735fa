"""Chinese as people type it: pinyin, initials, a slip of the input method, synonyms."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import write_post

from searchkit import Index
from searchkit.cli import cli
from searchkit.indexer import index_paths
from searchkit.readings import fuzzy

POSTS = [
    ("台风登陆福建", "今年第五号台风今天在福建登陆，台风带来强降雨。"),
    ("台风过后", "台风过后，各地抓紧恢复生产。"),
    ("习近平会见外宾", "国家主席习近平在人民大会堂会见外宾。"),
    ("习近平出席会议", "习近平出席会议并发表重要讲话。"),
    ("银行降息", "多家银行下调存款利率，银行业人士表示。"),
    ("银行新规", "监管部门发布银行新规。"),
    ("美联储加息", "美联储宣布加息，美联储主席发表讲话。"),
    ("联邦储备委员会声明", "美国联邦储备委员会发表声明。"),
    ("普京访问", "俄罗斯总统普京抵达北京，普京表示。"),
    ("普京讲话", "普京发表电视讲话。"),
    ("孙中山纪念", "纪念孙中山先生诞辰。"),
    ("孙中山故居", "孙中山故居对外开放。"),
    ("泰峰公司", "泰峰公司发布年报。"),
]


@pytest.fixture(scope="module")
def typed(tmp_path_factory):
    root = tmp_path_factory.mktemp("typing")
    for i, (title, text) in enumerate(POSTS):
        write_post(root / "posts", f"p{i:02}.md", f"title: {title}\ndate: 2023-01-{i + 1:02}", text)
    folder = root / "index"
    index_paths([root / "posts"], folder, jobs=1)
    return folder


def search(index, *args):
    result = CliRunner().invoke(cli, ["search", "--index", str(index), "--json", *args])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output)


def holding(data, word):
    return data["hits"] and all(word in hit["title"] + hit["snippet"] for hit in data["hits"][:2])


@pytest.mark.parametrize(
    "typed_word, meant",
    [("taifeng", "台风"), ("xijinping", "习近平"), ("yinhang", "银行"), ("xjp", "习近平")],
)
def test_pinyin_and_initials_search_the_archive_s_word(typed, typed_word, meant):
    data = search(typed, typed_word)
    assert data["searched"] == data["suggestion"] == meant
    assert data["query"] == typed_word and holding(data, meant)


@pytest.mark.parametrize(
    "slip, meant", [("习进平", "习近平"), ("普金", "普京"), ("孙中三", "孙中山")]
)
def test_a_slip_of_the_input_method_is_searched_as_meant_and_said(typed, slip, meant):
    data = search(typed, slip)
    assert data["suggestion"] == meant and data["searched"] == meant
    assert holding(data, meant)
    text = CliRunner().invoke(cli, ["search", "--index", str(typed), slip, "--no-color"])
    assert f"showing results for {meant}; search {slip} instead" in text.output


def test_a_word_that_is_held_is_not_corrected(typed):
    """泰峰 sounds as 台风 (and is rarer), but posts hold it: it is searched as typed."""
    data = search(typed, "泰峰")
    assert "suggestion" not in data and "searched" not in data
    assert data["total"] == 1


def test_a_synonym_finds_the_other_name_both_ways(typed):
    short = search(typed, "美联储")
    long = search(typed, "联邦储备委员会")
    assert {h["path"] for h in short["hits"]} == {h["path"] for h in long["hits"]}
    assert short["total"] == 2 and "联邦储备委员会" in short["synonyms"]["美联储"]
    assert search(typed, "美联储", "--exact")["total"] == 1


def test_exact_turns_every_reading_off(typed):
    for query in ("taifeng", "习进平", "美联储"):
        data = search(typed, query, "--exact")
        assert "suggestion" not in data and "searched" not in data and "synonyms" not in data
    assert search(typed, "taifeng", "--exact")["total"] == 0
    assert Index.open(typed).search("taifeng", exact=True).total == 0
    assert Index.open(typed).search("taifeng").searched == "台风"


def test_a_user_s_synonyms_need_no_rebuild(typed, tmp_path):
    groups = tmp_path / "synonyms.txt"
    groups.write_text("台风, 热带气旋\n", "utf-8")
    assert search(typed, "热带气旋")["total"] == 0
    posts = typed.parent / "posts"
    index_paths([posts], typed, jobs=1, synonyms=str(groups))
    assert search(typed, "热带气旋")["total"] == 2
    assert search(typed, "美联储")["total"] == 1  # the shipped list is replaced
    index_paths([posts], typed, jobs=1, synonyms="none")
    assert search(typed, "热带气旋")["total"] == 0


def test_fuzzy_sounds_are_the_input_method_s_usual_mix_ups():
    assert {"jing", "jin"} <= fuzzy("jin")
    assert {"shan", "san"} <= fuzzy("san")
    assert "zong" in fuzzy("zhong") and "lan" in fuzzy("nan")
