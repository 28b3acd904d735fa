from datetime import timedelta

import pytest
from conftest import DASH_PATH, FINEWS, SEED, SEED_PATH, needs_shared, write_post
from hypothesis import given, settings
from hypothesis import strategies as st

from searchkit import walking
from searchkit.bodytext import body_to_text
from searchkit.documents import Problem, SkipFile, decode, parse_date, read_post
from searchkit.walking import walk


def read_all(*roots):
    problems: list[Problem] = []
    posts = {}
    for source in walk(roots, problems):
        try:
            posts[source.path] = read_post(source)
        except SkipFile as exc:
            problems.append(Problem(source.path, str(exc)))
    return posts, problems


@needs_shared
def test_seed_post_fields():
    posts, _ = read_all(SEED)
    post = posts[SEED_PATH]
    assert post.title == "创新因子持续释放 深耕基层治理“试验田”"
    assert post.date.date().isoformat() == "2022-06-09"
    assert post.date.utcoffset() == timedelta(hours=8)
    assert post.categories == ["nanjingchenbao"]
    assert post.tags == ["南京晨报新闻"]
    assert post.url.startswith("http://finews.zning.xyz/html_News/NewsShare.html")
    assert "<p>" not in post.body and "顶山街道" in post.body
    assert "finews.withounder.com" not in post.body  # Markdown link URLs dropped
    assert "返回首页" in post.body  # link text kept


@needs_shared
def test_finews_sample_quirks():
    posts, problems = read_all(FINEWS)
    assert len(posts) == 100
    dash = posts[DASH_PATH]
    assert dash.date is None
    assert dash.title.startswith("据霍尼韦尔官网消息")
    assert any("date" in w for w in dash.warnings)
    assert "EM_StockImg" not in dash.body and "quote.eastmoney" not in dash.body
    assert "<蒙特利尔议定书>" in dash.body  # entities decoded
    assert [p.path for p in problems] == ["SOURCE.md"]


def test_html_body_to_text():
    text = body_to_text(
        "<p>第一段&amp;说明</p><script>var x = '隐藏';</script><style>p{}</style>"
        "<div>第二段<br>第三行</div>{% include x.html %}{{ page.title }}"
    )
    assert text.split("\n") == ["第一段&说明", "第二段", "第三行"]


def test_markdown_body_to_text():
    text = body_to_text("## 标题\n\n**加粗**与[链接文字](https://x.org/a)\n\n- 列表项\n> 引用")
    assert text.split("\n") == ["标题", "加粗与链接文字", "列表项", "引用"]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2022-06-09 00:02:35 +0800", "2022-06-09T00:02:35+08:00"),
        ("2022-06-09T00:02:35Z", "2022-06-09T00:02:35+00:00"),
        ("2022-06-09", "2022-06-09T00:00:00"),
        ("2022/6/9 8:00", "2022-06-09T08:00:00"),
    ],
)
def test_date_forms(value, expected):
    assert parse_date(value).isoformat() == expected


@pytest.mark.parametrize("value", ["+0800", "2022-02-30", "soon", ""])
def test_unreadable_dates_raise(value):
    with pytest.raises(ValueError):
        parse_date(value)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "gb18030", "big5"])
def test_encodings(tmp_path, encoding):
    text = "臺灣新聞報導內容" if encoding == "big5" else "中文新闻正文内容"
    title = "臺灣" if encoding == "big5" else "标题"
    write_post(tmp_path, "a.md", f'title: "{title}"', text * 20, encoding=encoding)
    posts, problems = read_all(tmp_path)
    assert problems == []
    assert posts["a.md"].title == title
    assert text in posts["a.md"].body


def test_stray_bytes_are_replaced_with_a_warning(tmp_path):
    (tmp_path / "a.md").write_bytes(
        "---\ntitle: 好\n---\n正文".encode() + b"\xff\xfe!" + "内容".encode()
    )
    posts, _ = read_all(tmp_path)
    assert "正文" in posts["a.md"].body
    assert posts["a.md"].warnings and "replaced" in posts["a.md"].warnings[0]


def test_binary_and_unpublished_files_are_skipped_with_reasons(tmp_path):
    (tmp_path / "bin.md").write_bytes(b"\x00\x01\x02binary")
    write_post(tmp_path, "draft.md", "title: 草稿\npublished: false", "正文")
    posts, problems = read_all(tmp_path)
    assert posts == {}
    reasons = {p.path: p.reason for p in problems}
    assert "binary" in reasons["bin.md"]
    assert "published" in reasons["draft.md"]


def test_front_matter_forms(tmp_path):
    write_post(tmp_path, "list.md", "title: 甲\ncategories: [新闻, 财经]\ntags: [a, b]", "正文")
    write_post(tmp_path, "str.md", "title: 乙\ncategory: 新闻\ntag: a b", "正文")
    write_post(tmp_path, "2021-03-04-bad.md", "title: [unclosed", "坏的前言")
    (tmp_path / "bare.md").write_text("# 没有前言的标题\n\n正文内容", encoding="utf-8")
    posts, _ = read_all(tmp_path)
    assert posts["list.md"].categories == ["新闻", "财经"] and posts["list.md"].tags == ["a", "b"]
    assert posts["str.md"].categories == ["新闻"] and posts["str.md"].tags == ["a", "b"]
    bad = posts["2021-03-04-bad.md"]
    assert "坏的前言" in bad.body and bad.date.isoformat() == "2021-03-04T00:00:00"
    assert any("YAML" in w for w in bad.warnings)
    assert posts["bare.md"].title == "没有前言的标题"


def test_walk_skips_machinery_and_hidden_folders(tmp_path):
    for folder in ["_posts", "_site", ".git", "node_modules", "_layouts", "pages/sub"]:
        write_post(tmp_path, f"{folder}/p.md", "title: t", "正文")
    (tmp_path / "notes.txt").write_text("不是文章", encoding="utf-8")
    posts, problems = read_all(tmp_path)
    assert sorted(posts) == ["_posts/p.md", "pages/sub/p.md"]


def test_symlinks_do_not_leave_the_tree_or_loop(tmp_path):
    root = tmp_path / "root"
    write_post(root, "_posts/a.md", "title: a", "正文")
    outside = write_post(tmp_path, "outside.md", "title: o", "外部")
    (root / "_posts" / "out.md").symlink_to(outside)
    (root / "_posts" / "loop").symlink_to(root)
    (root / "_posts" / "broken.md").symlink_to(tmp_path / "missing.md")
    posts, problems = read_all(root)
    assert sorted(posts) == ["_posts/a.md"]
    reasons = {p.path: p.reason for p in problems}
    assert "out of the tree" in reasons["_posts/out.md"]
    assert "broken" in reasons["_posts/broken.md"]


def test_two_processes_find_the_same_files_as_one(tmp_path, monkeypatch):
    for number in range(40):
        write_post(
            tmp_path, f"_posts/2024-01-{number % 28 + 1:02d}-p{number}.md", "title: t", "正文"
        )
    (tmp_path / "_posts" / "same.md").hardlink_to(tmp_path / "_posts" / "2024-01-01-p0.md")
    (tmp_path / "_posts" / "dangling.md").symlink_to(tmp_path / "missing.md")
    write_post(tmp_path, "about.md", "title: about", "关于")
    (tmp_path / "static.html").write_text("<p>不是文章</p>", encoding="utf-8")
    monkeypatch.setattr(walking, "PARALLEL_STAT", 10)

    def found(jobs):
        problems: list[Problem] = []
        sources = [(s.path, s.size, s.mtime) for s in walk([tmp_path], problems, jobs=jobs)]
        return sources, sorted((p.path, p.reason) for p in problems)

    alone, together = found(1), found(2)
    assert together == alone
    assert len(alone[0]) == 41  # 40 posts (the hard link is one of them) and about.md
    assert {path for path, _reason in alone[1]} == {"_posts/dangling.md", "static.html"}


def test_a_file_that_cannot_be_looked_up_says_why():
    [info] = walking.stat_many(["/no/such/folder/post.md"])
    assert isinstance(info, FileNotFoundError)
    packed = walking._unpack(walking._pack([info, (7, 1.5, 2, 3)]))
    assert isinstance(packed[0], OSError) and packed[0].errno == info.errno
    assert packed[1] == (7, 1.5, 2, 3)


def test_decode_prefers_utf8():
    assert decode("中文".encode()) == ("中文", None)


def test_looking_up_a_folder_as_columns_in_two_processes_gives_what_one_does(tmp_path, monkeypatch):
    """A large folder's files are looked up by this process and a child (which takes two
    thirds of them while the caller's other work runs here): the same columns as one
    process, the other work done once; a file that cannot be looked up gives None."""

    for i in range(40):
        (tmp_path / f"p{i:02}.md").write_text("x" * i, encoding="utf-8")
    paths = sorted(str(p) for p in tmp_path.iterdir())
    monkeypatch.setattr(walking, "PARALLEL_STAT", 10)
    calls = []
    alone = walking.stat_columns(paths, jobs=1)
    shared = walking.stat_columns(paths, jobs=2, meanwhile=lambda: calls.append(1))
    assert shared == alone and calls == [1]
    assert alone[0] == [len("x" * i) for i in range(40)] and alone[4] == [1] * 40
    assert walking.stat_columns(paths + [str(tmp_path / "gone.md")], jobs=2) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("#>-*+_~`|=!()[]:.1 \t\nab中文")), max_size=60).map("".join))
def test_markdown_rules_skipped_for_want_of_their_marks_change_nothing(text):
    from searchkit.bodytext import _MD_RULES, markdown_to_text

    every = text
    for pattern, replacement, _marks in _MD_RULES:
        every = pattern.sub(replacement, every)
    assert markdown_to_text(text) == every
