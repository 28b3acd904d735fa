"""Crashes, concurrent readers and writers, hostile queries."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_post
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchkit import Index, lock, store
from searchkit.cli import cli
from searchkit.errors import QueryError
from searchkit.indexer import index_paths
from searchkit.search import Searcher

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))
WORDS = ["数据中心", "新能源", "基层治理", "人民币", "地铁", "防汛", "图书馆", "灯会"]


def make_archive(folder: Path, count: int) -> Path:
    for i in range(count):
        body = "".join(f"第{i}号文章，关于{WORDS[(i + k) % len(WORDS)]}的报道。" for k in range(30))
        write_post(folder, f"_posts/2020-01-01-p{i:05}.md", f"title: 文章{i}", f"<p>{body}</p>")
    return folder


def test_second_writer_waits_then_names_the_holder(tmp_path):
    posts = make_archive(tmp_path / "posts", 3)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    with lock.write_lock(folder, timeout=1):
        result = CliRunner().invoke(
            cli, ["index", str(posts), "--index", str(folder), "--wait", "0.3"]
        )
    assert result.exit_code == 2
    assert "locked by pid" in result.stderr and str(os.getpid()) in result.stderr
    assert CliRunner().invoke(cli, ["index", str(posts), "--index", str(folder)]).exit_code == 0


@pytest.mark.parametrize("delay", [0.4, 1.0, 2.0])
def test_kill_9_leaves_an_index_that_opens_and_the_next_run_converges(tmp_path, delay):
    posts = make_archive(tmp_path / "posts", 1500)
    folder = tmp_path / "ix"
    env = {**os.environ, "SEARCHKIT_COMMIT_EVERY": "300"}
    proc = subprocess.Popen(
        [SEARCHKIT, "index", str(posts), "--index", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(delay)
    with contextlib.suppress(ProcessLookupError):  # it may have finished already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if store.current_generation(folder) is not None:
        with Index.open(folder) as searcher:
            searcher.search("数据中心")  # opens and answers, whatever it holds
    report = index_paths([posts], folder)
    assert report.documents == 1500
    with Index.open(folder) as searcher:
        assert searcher.search("title:文章1499").hits[0].path == "_posts/2020-01-01-p01499.md"


@pytest.mark.parametrize("rebuild", [False, True])
def test_searches_never_fail_during_a_write(tmp_path, rebuild):
    posts = make_archive(tmp_path / "posts", 800)
    folder = tmp_path / "ix"
    index_paths([posts], folder)
    before = Searcher(folder).search("数据中心").total
    for i in range(800, 1200):
        write_post(posts, f"_posts/2020-01-02-q{i:05}.md", f"title: 新{i}", "数据中心的新报道。")
    args = [SEARCHKIT, "index", str(posts), "--index", str(folder)] + (
        ["--rebuild"] if rebuild else []
    )
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    totals = set()
    searches = 0
    while proc.poll() is None or searches < 5:
        with Index.open(folder) as searcher:
            totals.add(searcher.search("数据中心").total)
        searches += 1
    assert proc.wait() == 0, proc.stderr.read()
    with Index.open(folder) as searcher:
        after = searcher.search("数据中心").total
    assert after == before + 400
    assert totals <= set(range(before, after + 1))


QUERY_ALPHABET = st.sampled_from(
    list("()[]{}\"':-+*?^~ \t!@#$%&=<>/\\,.;")
    + [
        "AND",
        "OR",
        "NOT",
        "TO",
        "title:",
        "tags:",
        "date:",
        "body:",
        "categories:",
        "“",
        "”",
        "（",
        "）",
        "：",
        "，",
        "。",
        "数据",
        "中心",
        "a",
        "1",
    ]
)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    posts = make_archive(tmp_path_factory.mktemp("posts"), 20)
    folder = tmp_path_factory.mktemp("ix") / "ix"
    index_paths([posts], folder, jobs=1)
    with Index.open(folder) as searcher:
        yield searcher


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(max_size=80), st.lists(QUERY_ALPHABET, max_size=20).map("".join)))
def test_any_query_gives_results_or_a_query_error(small, text):
    try:
        result = small.search(text)
    except QueryError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result.total >= len(result.hits)
        for hit in result.hits:
            for start, end in hit.snippet.highlights:
                assert 0 <= start < end <= len(hit.snippet.text)


def test_a_long_query_is_answered_and_one_past_the_cap_is_refused(small):
    from searchkit.query import MAX_QUERY

    longest = ("数据中心 " * MAX_QUERY)[:MAX_QUERY]
    assert small.search(longest).total >= 1
    with pytest.raises(QueryError, match="query too long"):
        small.search(longest + "数")


def test_messy_archive_loses_nothing(tmp_path):
    from messy_corpus import build

    corpus = build(tmp_path / "site", huge_mb=20)
    result = CliRunner().invoke(
        cli, ["index", str(corpus.root), "--index", str(tmp_path / "ix"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    skipped = {p["path"] for p in report["problems"] if p["skipped"]}
    assert corpus.skipped <= skipped
    assert report["documents"] == len(corpus.expected) + len(corpus.empty)
    with Index.open(tmp_path / "ix") as searcher:
        for marker, path in corpus.expected.items():
            assert path in [h.path for h in searcher.search(marker).hits], (marker, path)
        assert searcher.search("mkhidden").total == 0


def test_a_search_that_races_a_rebuild_reopens(tmp_path, monkeypatch):
    """The searcher checked CURRENT just before a rebuild switched it and removed the old
    generation: its refresh finds the files gone and it opens the new one."""
    from searchkit import search as search_module
    from searchkit import store

    posts = make_archive(tmp_path / "posts", 20)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    searcher = Searcher(folder)
    old = searcher.generation
    write_post(posts, "_posts/2020-01-02-late.md", "title: 新", "数据中心的新报道。")
    index_paths([posts], folder, rebuild=True, jobs=1)
    assert not old.exists()
    answers = iter([old])
    real = store.current_generation
    monkeypatch.setattr(
        search_module.store, "current_generation", lambda f: next(answers, None) or real(f)
    )
    result = searcher.search("数据中心")
    assert searcher.generation != old
    assert "_posts/2020-01-02-late.md" in {hit.path for hit in searcher.search("新报道").hits}
    assert result.total >= 1


def test_an_open_searcher_sees_updates_and_deletions(tmp_path):
    """One searcher kept open across updates (``--batch``, a library user): a changed post
    is found once, by its new words only, and a deleted one is gone.  Whoosh's own refresh
    reused each segment's reader with the deletions it knew."""
    posts = tmp_path / "posts"
    for i in range(3):
        write_post(posts, f"_posts/2024-01-0{i + 1}-p{i}.md", f"title: 报道{i}", "原来的正文。")
    folder = tmp_path / "ix"
    index_paths([posts], folder)
    with Index.open(folder) as searcher:
        assert searcher.search("原来").total == 3
        write_post(posts, "_posts/2024-01-01-p0.md", "title: 报道0", "改写以后的正文。")
        (posts / "_posts" / "2024-01-02-p1.md").unlink()
        index_paths([posts], folder)
        assert searcher.search("原来").total == 1
        assert [h.path for h in searcher.search("改写").hits] == ["_posts/2024-01-01-p0.md"]
        index_paths([posts], folder, rebuild=True)
        assert searcher.search("正文").total == 2


@pytest.mark.parametrize("text", ["数据 AND OR 中心", "数据 OR ANDNOT 中心", 'NOT"AND '])
def test_operators_the_parser_cannot_read_are_a_query_error(small, text):
    with pytest.raises(QueryError, match="cannot read the operators"):
        small.search(text)
    result = CliRunner().invoke(cli, ["search", text, "--index", str(small.folder)])
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize("text", ['0("+)', "NOT NOT 数据", "数据 AND"])
def test_runs_of_operators_that_broke_whooshs_parser_are_read(small, text):
    """Whoosh's parser failed with an IndexError on the first two; ours reads them."""
    small.search(text)
    result = CliRunner().invoke(cli, ["search", text, "--index", str(small.folder)])
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
