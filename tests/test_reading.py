"""Posts read as the site publishes them, in work linear in their size, and output that
stays in its lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FINEWS, SHARED, needs_shared, write_post
from reference_engine import WhooshEngine

from searchkit import Index
from searchkit.cli import cli
from searchkit.documents import SkipFile, SourceFile, parse_post
from searchkit.indexer import index_paths

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))


def read(text: str | bytes, name: str = "_posts/2022-06-09-x.md"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_post(data, SourceFile("", name, "", len(data), 0.0))


@needs_shared
def test_front_matter_after_a_blank_line_is_read_with_a_warning():
    data = (FINEWS / "_posts" / "2021-12-08-202112082206703990.md").read_bytes()
    assert data.startswith((b"\n", b"\r\n", b" "))
    post = read(data)
    assert post.title != "layout: post" and "layout:" not in post.body[:200]
    assert post.date is not None and post.date.hour + post.date.minute > 0
    assert any("Jekyll shows it as text" in w for w in post.warnings)


def test_a_draft_after_blank_lines_stays_hidden():
    with pytest.raises(SkipFile, match="published"):
        read("\n\n---\ntitle: 草稿\npublished: false\n---\n正文")


def test_yaml_document_end_closes_front_matter():
    post = read("---\ntitle: 三点结尾\ntags: [民俗, 灯会]\n...\n正文内容")
    assert (post.title, post.tags, post.body) == ("三点结尾", ["民俗", "灯会"], "正文内容")


@pytest.mark.parametrize(
    ("written", "offset"),
    [("GMT+8", "+08:00"), ("UTC+8", "+08:00"), ("GMT-5", "-05:00"), ("UTC", "+00:00")],
)
def test_gmt_and_utc_offsets_keep_their_sign(written, offset):
    post = read(f"---\ntitle: t\ndate: 2022-06-09 10:00:00 {written}\n---\n正文")
    assert post.date.isoformat() == f"2022-06-09T10:00:00{offset}"


def test_only_a_real_false_hides_a_post_as_in_jekyll():
    assert read('---\ntitle: 字符串\npublished: "false"\n---\n正文').title == "字符串"
    with pytest.raises(SkipFile):
        read("---\ntitle: 真的\npublished: false\n---\n正文")


def test_values_are_written_as_jekyll_writes_them():
    post = read("---\ntitle: true\ntags: [true, 民俗, 2020]\n---\n正文")
    assert post.title == "true" and post.tags == ["true", "民俗", "2020"]


def test_toml_front_matter_is_read():
    post = read('+++\ntitle = "TOML 标题"\ntags = ["一", "二"]\n+++\n正文')
    assert (post.title, post.tags, post.body) == ("TOML 标题", ["一", "二"], "正文")
    assert any("TOML" in w for w in post.warnings)


def test_sorting_by_date_orders_instants(tmp_path):
    write_post(
        tmp_path / "p", "_posts/a.md", "title: 纽约\ndate: 2022-06-09 08:00:00 -05:00", "报道"
    )
    write_post(
        tmp_path / "p", "_posts/b.md", "title: 北京\ndate: 2022-06-09 09:00:00 +08:00", "报道"
    )
    index_paths([tmp_path / "p"], tmp_path / "ix", jobs=1)
    for engine in (None, WhooshEngine):
        with Index.open(tmp_path / "ix", engine=engine) as ix:
            oldest = [hit.title for hit in ix.search("报道", sort="date").hits]
            newest = [hit.title for hit in ix.search("报道", sort="-date").hits]
        assert oldest == ["北京", "纽约"] and newest == ["纽约", "北京"]  # 01:00Z, 13:00Z
        # and the day a date filter sees is still the post's own
        with Index.open(tmp_path / "ix", engine=engine) as ix:
            assert ix.search("报道", since="2022-06-09", until="2022-06-09").total == 2


@needs_shared
def test_a_jekyll_site_below_the_folder_given_keeps_its_rules(tmp_path):
    report = index_paths([SHARED / "corpora"], tmp_path / "ix", jobs=1)
    skipped = {p.path for p in report.skipped}
    assert {"seed/SOURCE.md", "finews-sample/SOURCE.md"} <= skipped
    with Index.open(tmp_path / "ix") as ix:
        assert ix.search("title:Source").total == 0


def test_an_empty_file_is_reported(tmp_path):
    write_post(tmp_path / "p", "_posts/ok.md", "title: 好", "正文")
    (tmp_path / "p" / "_posts" / "empty.md").write_bytes(b"")
    (tmp_path / "p" / "_posts" / "blank.md").write_bytes(b" \n\n")
    report = index_paths([tmp_path / "p"], tmp_path / "ix", jobs=1)
    reasons = {p.path: p.reason for p in report.skipped}
    assert reasons == {
        "_posts/empty.md": "empty file",
        "_posts/blank.md": "blank file (only white space)",
    }
    assert report.documents == 1


HOSTILE = {
    "alias bomb": "---\ntags: &a0 [x]\n"
    + "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 31))
    + "title: *a30\n---\n正文",
    "liquid": "---\ntitle: 液体\n---\n" + "{{ " * 40000,
    "links": "---\ntitle: 链接\n---\n" + "[" * 40000 + "x" + "](x)" * 40000,
    "emphasis": "---\ntitle: 强调\n---\n" + "*a " * 100000,
    "nested divs": "---\ntitle: 嵌套\n---\n" + "<div>" * 200000 + "内容" + "</div>" * 200000,
    "tags": "---\ntitle: 标签\ntags: ["
    + ", ".join(f"t{i}" for i in range(100000))
    + "]\n---\n正文",
    "title": "---\ntitle: " + "长" * 4_000_000 + "\n---\n正文",
}


def test_hostile_posts_are_read_in_bounded_work(tmp_path):
    """Each post in a process of its own, with a generous guard against a hang (minutes of
    work before) and a memory limit: read, warned about or skipped, never stuck."""
    posts = tmp_path / "p" / "_posts"
    posts.mkdir(parents=True)
    for i, text in enumerate(HOSTILE.values()):
        (posts / f"2020-01-0{i + 1}-h.md").write_text(text, "utf-8")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from searchkit.cli import main\nsys.argv = ['searchkit'] + sys.argv[1:]\nmain()\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "index",
            str(tmp_path / "p"),
            "--index",
            str(tmp_path / "ix"),
            "--json",
            "--jobs",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["added"] == len(HOSTILE) - 1
    problems = {p["path"]: p["reason"] for p in report["problems"]}
    assert "alias" in problems["_posts/2020-01-01-h.md"]
    assert "more than 1,000 tags" in problems["_posts/2020-01-06-h.md"]
    assert "a title of 4,000,000 characters" in problems["_posts/2020-01-07-h.md"]
    with Index.open(tmp_path / "ix") as ix:
        assert ix.search("内容").hits[0].title == "嵌套"


def test_a_large_user_dictionary_is_loaded_once(tmp_path, monkeypatch):
    from searchkit import analysis

    words = tmp_path / "words.txt"
    words.write_text("".join(f"词语{i} 5\n" for i in range(200_000)), "utf-8")
    for i in range(30):
        write_post(tmp_path / "p", f"_posts/2020-01-01-{i}.md", f"title: 词语{i}", f"正文词语{i}")
    hashed = []
    real = analysis.AnalyzerConfig.__hash__

    def counting(self):
        hashed.append(self.__dict__.get("_hash") is None)
        return real(self)

    monkeypatch.setattr(analysis.AnalyzerConfig, "__hash__", counting)
    index_paths([tmp_path / "p"], tmp_path / "ix", userdict=str(words), jobs=1)
    assert hashed and sum(hashed) <= 3  # the tuple of 200,000 words hashed once or so
    monkeypatch.undo()
    with Index.open(tmp_path / "ix") as ix:
        assert ix.search("词语7").hits[0].title == "词语7"


def test_a_trend_of_millions_of_days_is_refused(tmp_path):
    write_post(tmp_path / "p", "_posts/a.md", "title: 古\ndate: 1000-01-01", "报道")
    write_post(tmp_path / "p", "_posts/b.md", "title: 远\ndate: 9999-12-31", "报道")
    index_paths([tmp_path / "p"], tmp_path / "ix", jobs=1)
    runner = CliRunner()
    day = runner.invoke(cli, ["trend", "报道", "--by", "day", "--index", str(tmp_path / "ix")])
    assert day.exit_code == 2 and "at most 10,000 periods" in day.output
    year = runner.invoke(
        cli, ["trend", "报道", "--by", "year", "--index", str(tmp_path / "ix"), "--json"]
    )
    assert year.exit_code == 0


def test_json_lines_stay_lines(tmp_path):
    write_post(
        tmp_path / "p", "_posts/a.md", 'title: "一\u2028二\u2029三\u0085四"', "正文\u2028报道"
    )
    index_paths([tmp_path / "p"], tmp_path / "ix", jobs=1)
    out = CliRunner().invoke(cli, ["search", "报道", "--jsonl", "--index", str(tmp_path / "ix")])
    lines = out.output.splitlines()
    assert len(lines) == 1 and "\u2028" in json.loads(lines[0])["snippet"]


def test_the_pager_gets_less_options(tmp_path):
    write_post(tmp_path / "p", "_posts/a.md", "title: 页", "报道")
    index_paths([tmp_path / "p"], tmp_path / "ix", jobs=1)
    pager = tmp_path / "pager.sh"
    pager.write_text('#!/bin/sh\ncat > /dev/null\nprintf "LESS=%s" "$LESS"\n')
    pager.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "LESS"} | {"PAGER": str(pager)}
    import pty

    main, terminal = pty.openpty()  # a pager runs only on a terminal
    proc = subprocess.Popen(
        [SEARCHKIT, "search", "报道", "--pager", "--index", str(tmp_path / "ix")],
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(main)
    assert b"LESS=FRX" in seen


def test_the_progress_bar_counts_what_the_builders_report(monkeypatch):
    """Builders in other processes report a running count, many posts at a time."""
    import io

    from searchkit import cli as cli_module

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    progress, finish = cli_module._progress_bar()
    for done in (10, 10, 40, 60):  # as collected from the builders: running totals
        progress(done, 80)
    shown = screen.getvalue()
    finish()
    assert "75%" in shown and " 1%" not in shown
