"""What you type is what you find: a typed string matches the posts whose folded title or text
holds it, as grep over the folded posts would, whatever jieba cut around it."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FINEWS, needs_shared, write_post
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchkit import Index
from searchkit.cli import cli
from searchkit.documents import read_post
from searchkit.folding import fold_text
from searchkit.indexer import index_paths
from searchkit.strings import key_text, pair_keys, pairs_of, positions_by_pair
from searchkit.walking import walk

POSTS = {
    # a name inside a longer organisation name; a given name alone
    "who.md": ("世界卫生组织发布报告", "世界卫生组织总干事谭德塞表示，习近平主席的倡议受到欢迎。"),
    "pboc.md": ("中国人民银行降准", "中国人民银行宣布下调存款准备金率。人民币汇率保持稳定。"),
    "reserve.md": ("外汇储备规模", "截至月末，我国外汇储备规模为三万亿美元，外汇市场平稳。"),
    "bank.md": ("银行与人民", "这家银行服务人民群众，外汇业务和储备业务分开办理。"),
    # one character, inside words and alone
    "lamp.md": ("元宵灯会", "街头挂满花灯，路灯下游人如织。"),
    "snow.md": ("北方降雪", "今天北京下雪了，雪后道路湿滑。"),
    "sun.md": ("晴天", "天气晴朗，阳光明媚。"),
    # a stop word inside quotes; a run across word boundaries
    "meeting.md": ("会议在北京召开", "会议在北京召开，会议讨论了经济发展问题。"),
    "meeting2.md": ("会议召开", "会议今天召开，代表在会上发言。"),
    "macron.md": ("马克龙访华", "法国总统马克龙向记者表示，中法合作前景广阔。"),
    "marx.md": ("学习马克思主义", "深入学习马克思主义理论，龙头企业带动发展。"),
    # traditional script folds to simplified
    "hk.md": ("經濟發展報告", "香港經濟發展穩定，會議在香港舉行。"),
}


@pytest.fixture(scope="module")
def typed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("typed")
    posts = root / "posts"
    for i, (name, (title, text)) in enumerate(sorted(POSTS.items())):
        write_post(posts, name, f"title: {title}\ndate: 2023-0{1 + i % 9}-01", text)
    folder = root / "index"
    index_paths([posts], folder, jobs=1)
    return folder


def grep(posts: dict, string: str) -> set[str]:
    """The posts whose folded title or text holds ``string`` (folded)."""
    wanted = fold_text(string)
    return {
        name
        for name, (title, text) in posts.items()
        if wanted in fold_text(title) or wanted in fold_text(text)
    }


def listed(index: Path, *args: str) -> set[str]:
    """The ids of the posts ``search -l`` lists (their files, as paths that open)."""
    result = CliRunner().invoke(cli, ["search", "--index", str(index), "-l", *args])
    assert result.exit_code in (0, 1), result.output
    return {Path(path).name for path in result.output.split()}


def count(index: Path, *args: str) -> int:
    result = CliRunner().invoke(cli, ["search", "--index", str(index), "-c", *args])
    assert result.exit_code in (0, 1), result.output
    return int(result.output)


@pytest.mark.parametrize(
    "query, string",
    [
        ("卫生组织", "卫生组织"),  # inside 世界卫生组织, one token
        ("人民银行", "人民银行"),  # inside 中国人民银行
        ("外汇储备", "外汇储备"),  # not the posts holding 外汇 and 储备 apart
        ("近平", "近平"),  # a given name alone
        ("灯", "灯"),  # one character, inside 花灯 and 路灯
        ("雪", "雪"),
        ('"会议在"', "会议在"),  # a stop word inside quotes
        ('"济发"', "济发"),  # across 经济|发展
        ('"国家主"', "国家主"),
        ("马克龙", "马克龙"),  # not 马克思主义 beside a 龙
        ("经济发展", "經濟發展"),  # the other script
    ],
)
def test_a_typed_string_finds_exactly_the_posts_holding_it(typed, query, string):
    found = listed(typed, query)
    assert found == grep(POSTS, string)
    assert count(typed, query) == len(found)


def test_a_name_inside_a_longer_name_is_held_not_missing(typed):
    data = json.loads(
        CliRunner().invoke(cli, ["search", "--index", str(typed), "卫生组织", "--json"]).output
    )
    assert data["missing"] == [] and data["total"] == 1 and data["counted"] == "every"
    assert "<mark>卫生组织</mark>" in data["hits"][0]["snippet"]


def test_a_quoted_string_is_marked_exactly(typed):
    data = json.loads(
        CliRunner().invoke(cli, ["search", "--index", str(typed), '"济发"', "--json"]).output
    )
    snippets = sorted(hit["snippet"] for hit in data["hits"])
    assert len(snippets) == 2
    for snippet, marked in zip(
        snippets, ("经<mark>济发</mark>展", "經<mark>濟發</mark>展"), strict=True
    ):
        assert marked in snippet and snippet.count("<mark>") == 1


def test_counts_are_of_posts_holding_every_word(typed):
    """Trend, facets, -c and -l count what --all lists; never posts holding a part."""
    ix = Index.open(typed)
    every = ix.search("外汇储备", match="all", limit=100)
    assert every.total == len(grep(POSTS, "外汇储备")) == count(typed, "外汇储备")
    assert ix.trend("外汇储备", by="year").series[0].total == every.total
    facets = ix.search("外汇储备", facets=True).facets
    assert sum(facets["years"].values()) == every.total


def test_a_query_no_post_answers_in_full_says_so(typed):
    runner = CliRunner()
    text = runner.invoke(cli, ["search", "--index", str(typed), "外汇储备 马克龙", "--no-color"])
    assert "no post holds every word; showing posts with some of them" in text.output
    data = json.loads(
        runner.invoke(cli, ["search", "--index", str(typed), "外汇储备 马克龙", "--json"]).output
    )
    assert data["counted"] == "some" and data["total"] == len(
        grep(POSTS, "外汇储备") | grep(POSTS, "马克龙")
    )
    assert count(typed, "外汇储备 马克龙") == 0  # -c counts the posts holding every word
    result = runner.invoke(cli, ["search", "--index", str(typed), "不存在的词汇xyz", "--json"])
    assert "xyz" in json.loads(result.output)["missing"]


def test_negated_strings_leave_out_the_posts_holding_them(typed):
    assert listed(typed, "会议", "-北京") == grep(POSTS, "会议") - grep(POSTS, "北京")
    assert listed(typed, '"会议在"', "NOT", "香港") == grep(POSTS, "会议在") - grep(POSTS, "香港")


def test_pairs_are_every_character_and_the_next_at_its_offset():
    keys, offsets = pair_keys("ab c\nd")
    assert offsets.tolist() == [0, 1, 3, 5]
    assert list(positions_by_pair("ab c\nd")) == ["ab", "b ", "c ", "d "]
    assert pairs_of("会议在") == ["会议", "议在"]
    # keys order as the pairs' UTF-8 bytes (the segment builder relies on it)
    text = "数据a中心Z，é😀数据"
    keys, _ = pair_keys(text)
    pairs = [key_text(key).encode() for key in keys.tolist()]
    assert pairs[0] == "数据".encode() and pairs[-1] == "据 ".encode()
    assert [p for _, p in sorted(zip(keys.tolist(), pairs, strict=True))] == sorted(pairs)


# --- against grep over real posts -----------------------------------------------------------


def _real_posts() -> dict[str, tuple[str, str]]:
    posts = {}
    for source in walk([str(FINEWS)], []):
        post = read_post(source)
        if post is not None:
            posts[post.path] = (post.title, post.body or "")
    return posts


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    if not FINEWS.is_dir():
        pytest.skip("../shared is not beside the project")
    folder = tmp_path_factory.mktemp("real") / "index"
    index_paths([FINEWS], folder, jobs=1)
    posts = _real_posts()
    folded = {
        path: fold_text(title) + "\n" + fold_text(text) for path, (title, text) in posts.items()
    }
    return Index.open(folder), folded


def _all_paths(ix: Index, query: str) -> set[str]:
    paths, page = set(), 1
    while True:
        result = ix.search(query, match="all", limit=500, page=page, snippets=False)
        paths.update(hit.path for hit in result.hits)
        if not result.hits or len(paths) >= result.total:
            return paths
        page += 1


@needs_shared
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_quoted_string_of_a_real_post_lists_exactly_the_posts_grep_finds(real, data):
    ix, folded = real
    path = data.draw(st.sampled_from(sorted(folded)))
    text = folded[path]
    size = data.draw(st.integers(1, 4))
    start = data.draw(st.integers(0, max(0, len(text) - size)))
    string = text[start : start + size]
    if not string.strip() or '"' in string or any(ch.isspace() for ch in string):
        return
    found = _all_paths(ix, f'"{string}"')
    assert found == {p for p, t in folded.items() if string in t}, string


@needs_shared
def test_random_words_of_real_posts_are_held_by_every_hit(real):
    """Two or three strings of a post: every hit holds each one, and the count is grep's."""
    ix, folded = real
    rng = random.Random(7)
    paths = sorted(folded)
    for _ in range(25):
        text = folded[rng.choice(paths)]
        runs = [run for run in text.split() if len(run) >= 8]
        if not runs:
            continue
        run = rng.choice(runs)
        strings = []
        for _ in range(rng.randint(2, 3)):
            at = rng.randrange(0, len(run) - 2)
            piece = run[at : at + rng.randint(2, 3)]
            if piece.isalnum() and piece not in strings:
                strings.append(piece)
        query = " ".join(f'"{s}"' for s in strings)
        holding = {p for p, t in folded.items() if all(s in t for s in strings)}
        assert _all_paths(ix, query) == holding, query


def test_an_index_of_the_older_format_asks_for_a_rebuild(typed, tmp_path):
    import shutil

    from searchkit import store

    copy = tmp_path / "old"
    shutil.copytree(typed, copy)
    marker = store.current_generation(copy) / store.MARKER
    now, older = f"format {store.FORMAT}".encode(), f"format {store.FORMAT - 1}".encode()
    marker.write_bytes(marker.read_bytes().replace(now, older))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("searchkit")), "search", "会议", "--index", str(copy)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert f"format {store.FORMAT - 1}" in result.stderr and "--rebuild" in result.stderr
    assert "Traceback" not in result.stderr
