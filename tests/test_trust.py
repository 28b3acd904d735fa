"""An index folder is data, never code; nothing outside it is written; no internal errors."""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_post

import searchkit
from searchkit import Index, Post, SearchkitError, schema, store
from searchkit.cli import cli
from searchkit.engine import building, postings
from searchkit.indexer import index_paths

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))


class Gadget:
    """An object whose unpickling calls ``call(*args)``: what a crafted index would hold."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def gadgets(marker: Path) -> list[Gadget]:
    """Four ways a pickle can run code, each creating ``marker`` if it runs."""
    return [
        Gadget(os.system, f"touch {marker}"),
        Gadget(subprocess.run, ["touch", str(marker)]),
        Gadget(builtins.eval, f"__import__('pathlib').Path({str(marker)!r}).touch()"),
        Gadget(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
    ]


def small_index(tmp_path: Path) -> Path:
    posts = tmp_path / "posts"
    write_post(posts, "_posts/2021-01-01-a.md", "title: 数据中心投入使用", "数据中心今天投入使用。")
    write_post(posts, "_posts/2021-01-02-b.md", "title: 地铁开通", "地铁三号线开通。")
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    return folder


def assert_refused(folder: Path, marker: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--index", str(folder)])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert "not written by searchkit or is damaged" in message
    assert "Traceback" not in message and len(message.splitlines()) == 1
    assert not marker.exists(), "a crafted index ran code"


def test_searchkit_reads_no_pickle_through_whoosh(tmp_path, monkeypatch):
    """Every pickle searchkit reads from an index (a compound file's directory, a term
    dictionary's header and entries, stored fields) goes through its own allow-list, never
    through Whoosh's ``pickle``; Whoosh's modules are not changed to make it so."""
    import types

    import whoosh.codec.whoosh3
    import whoosh.columns
    import whoosh.compat
    import whoosh.filedb.structfile
    import whoosh.index

    def refused(*args, **kwargs):
        raise AssertionError("searchkit read a pickle through Whoosh's pickle")

    for module, name in [
        (whoosh.compat, "loads"),
        (whoosh.compat, "load"),
        (whoosh.codec.whoosh3, "loads"),
        (whoosh.columns, "loads"),
        (whoosh.filedb.structfile, "load_pickle"),
    ]:
        monkeypatch.setattr(module, name, refused)
    writing_only = types.SimpleNamespace(**vars(pickle))
    writing_only.loads = writing_only.load = refused
    monkeypatch.setattr(whoosh.index, "pickle", writing_only)
    posts = tmp_path / "posts"
    for n in range(12):
        write_post(
            posts, f"_posts/2021-01-{n + 1:02d}-a.md", f"title: 数据中心{n}", f"数据中心{n}。"
        )
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1, commit_every=1)  # twelve commits: tiers merged
    (posts / "_posts/2021-01-01-a.md").unlink()
    write_post(posts, "_posts/2021-01-02-a.md", "title: 地铁", "地铁开通。")
    assert index_paths([posts], folder, jobs=1).documents == 11
    with Index.open(folder) as ix:
        found = ix.search("数据中心")
        assert found.total == 10
        assert ix.post(found.hits[0].path).title.startswith("数据中心")
        assert ix.similar(found.hits[0].path) is not None
        assert ix.stats().documents == 11
        assert ix.search('"心1"').total == 2  # 数据中心10 and 11 (1 became 地铁)
        assert ix.trend("数据").series


@pytest.mark.parametrize("where", ["schema", "segments"])
@pytest.mark.parametrize("gadget", range(4))
def test_a_crafted_table_of_contents_is_never_read(tmp_path, where, gadget):
    """Whoosh's table of contents is a pickle; searchkit reads the manifest instead, so a
    table crafted to run code runs nothing, and searches answer as before."""
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    folder = small_index(tmp_path)
    marker = tmp_path / "ran"
    files = FileStorage(str(store.current_generation(folder)))
    toc = TOC.read(files, "MAIN")  # (the test reads the file it made, with pickle)
    evil = gadgets(marker)[gadget]
    if where == "schema":
        toc.schema._evil = evil
    else:
        toc.segments.append(evil)
    files.delete_file(f"_MAIN_{toc.generation}.toc")
    toc.write(files, "MAIN")
    assert not marker.exists()
    for command in (["search", "数据中心"], ["stats"], ["show", "_posts/2021-01-01-a.md"]):
        result = CliRunner().invoke(cli, [*command, "--index", str(folder)])
        assert result.exit_code == 0, result.output
    with Index.open(folder) as ix:
        assert ix.search("数据中心").total == 1
    assert not marker.exists()


@pytest.mark.parametrize("gadget", range(4))
def test_a_crafted_term_entry_runs_nothing(tmp_path, monkeypatch, gadget):
    marker = tmp_path / "ran"
    evil = gadgets(marker)[gadget]

    plain = building.inline_entries

    def crafted_entries(*args):  # each inline entry's head, then a pickle
        gadget = pickle.dumps(((0,), (1,), evil), 2)
        return [entry[: postings.INLINE_HEAD_SIZE] + gadget for entry in plain(*args)]

    monkeypatch.setattr(building, "inline_entries", crafted_entries)
    folder = small_index(tmp_path)
    monkeypatch.undo()
    assert not marker.exists()
    assert_refused(folder, marker, "search", "地铁")
    # an update merges the crafted segment's entries: refused too, nothing run
    write_post(tmp_path / "posts", "_posts/2021-01-03-c.md", "title: 新闻", "又一篇。")
    result = CliRunner().invoke(cli, ["index", str(tmp_path / "posts"), "--index", str(folder)])
    assert result.exit_code in (0, 2) and "Traceback" not in result.output
    assert not marker.exists()


@pytest.mark.parametrize("gadget", range(4))
def test_a_crafted_stored_field_runs_nothing(tmp_path, monkeypatch, gadget):
    marker = tmp_path / "ran"
    evil = gadgets(marker)[gadget]
    plain = schema.post_to_document

    def crafted(post, fold=None):
        doc = plain(post, fold)
        doc["meta"]["x"] = evil
        return doc

    monkeypatch.setattr(schema, "post_to_document", crafted)
    folder = small_index(tmp_path)
    monkeypatch.undo()
    assert not marker.exists()
    for command in (["search", "地铁"], ["show", "_posts/2021-01-02-b.md"]):
        assert_refused(folder, marker, *command)
    # and from another process, as a colleague would open it
    run = subprocess.run(
        [SEARCHKIT, "search", "地铁", "--index", str(folder)], capture_output=True, text=True
    )
    assert run.returncode == 2 and "not written by searchkit" in run.stderr
    assert not marker.exists()


@pytest.mark.parametrize("name", ["LOCK", "CURRENT", "STATE.json"])
def test_a_link_where_the_index_writes_is_refused(tmp_path, name):
    folder = small_index(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    target = folder / name
    target.unlink(missing_ok=True)
    target.symlink_to(notes)
    result = CliRunner().invoke(
        cli, ["index", str(tmp_path / "posts"), "--index", str(folder), "--rebuild"]
    )
    assert result.exit_code == 2
    assert "symbolic link" in result.output and len(result.output.strip().splitlines()) == 1
    assert notes.read_text() == "my notes\n"


def test_a_link_in_a_generation_folder_is_not_written_through(tmp_path):
    folder = small_index(tmp_path)
    generation = store.current_generation(folder)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    (generation / "CHECKSUMS.json").unlink()
    (generation / "CHECKSUMS.json").symlink_to(notes)
    write_post(tmp_path / "posts", "_posts/2021-01-03-c.md", "title: 新闻", "又一篇。")
    result = CliRunner().invoke(cli, ["index", str(tmp_path / "posts"), "--index", str(folder)])
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert notes.read_text() == "my notes\n"


def test_a_generation_folder_that_is_a_link_is_refused(tmp_path):
    folder = small_index(tmp_path)
    generation = store.current_generation(folder)
    elsewhere = tmp_path / "elsewhere"
    generation.rename(elsewhere)
    generation.symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir())
    write_post(tmp_path / "posts", "_posts/2021-01-03-c.md", "title: 新闻", "又一篇。")
    result = CliRunner().invoke(cli, ["index", str(tmp_path / "posts"), "--index", str(folder)])
    assert result.exit_code == 2 and "symbolic link" in result.output
    assert sorted(p.name for p in elsewhere.iterdir()) == before


def test_the_library_post_with_a_gadget_free_index_still_searches(tmp_path):
    """The allow-list holds what a real index holds: every command works on one."""
    folder = small_index(tmp_path)
    with Index.open(folder) as ix:
        ix.add(Post(path="notes/x.md", title="数据中心", body="数据中心的消息"))
        assert ix.search("数据中心").total == 2
    for command in (["stats"], ["dupes"], ["trend", "数据中心"], ["show", "notes/x.md"]):
        result = CliRunner().invoke(cli, [*command, "--index", str(folder)])
        assert result.exit_code == 0, result.output


def test_any_file_name_is_indexed_and_round_trips(tmp_path):
    posts = tmp_path / "posts"
    write_post(posts, "_posts/good.md", "title: 好", "数据中心")
    raw = os.fsencode(posts / "_posts")
    for name, title in (
        (b"bad\xffname.md", "坏名字"),
        (b"new\nline.md", "换行"),
        (b"t\tab.md", "制表"),
    ):
        with open(raw + b"/" + name, "wb") as handle:
            handle.write(f"---\ntitle: {title}\n---\n数据中心 {title}\n".encode())
    (posts / "_posts" / "rtl\u202egpj.md").write_text("---\ntitle: 反向\n---\n数据中心\n")
    folder = tmp_path / "ix"
    runner = CliRunner()
    report = runner.invoke(cli, ["index", str(posts), "--index", str(folder), "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["added"] == 5
    found = runner.invoke(cli, ["search", "数据中心", "--index", str(folder), "--json"])
    paths = {hit["path"] for hit in json.loads(found.output)["hits"]}
    assert "_posts/bad\\xffname.md" in paths and "_posts/new\nline.md" in paths
    for path in paths:
        shown = runner.invoke(cli, ["show", path, "--index", str(folder), "--json"])
        assert shown.exit_code == 0 and json.loads(shown.output)["path"] == path
    text = runner.invoke(cli, ["search", "数据中心", "--index", str(folder), "--no-color"])
    assert "_posts/new\\nline.md" in text.output and "_posts/t\\tab.md" in text.output
    assert "\u202e" not in text.output and "_posts/rtl\\u202egpj.md" in text.output
    again = runner.invoke(cli, ["index", str(posts), "--index", str(folder), "--json"])
    assert json.loads(again.output)["unchanged"] == 5


def test_one_index_shared_by_threads_while_others_write(tmp_path):
    """Readers in three threads, a writer in a fourth and another process indexing: every
    call answers, and nothing but a SearchkitError could escape (none does here)."""
    posts = tmp_path / "posts"
    words = ["数据中心", "地铁", "人民币", "防汛"]
    for i in range(40):
        write_post(
            posts,
            f"_posts/2021-01-{i % 28 + 1:02}-p{i}.md",
            f"title: {words[i % 4]}{i}",
            "正文" * 50,
        )
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    other = tmp_path / "other"
    for i in range(30):
        write_post(other, f"_posts/2022-02-01-o{i}.md", f"title: 地铁{i}", "地铁新闻" * 40)
    failures: list[BaseException] = []
    ix = Index.open(folder)

    def reader(n: int) -> None:
        try:
            for i in range(60):
                word = words[(n + i) % 4]
                result = ix.search(word, limit=5)
                assert result.total >= 1
                with contextlib.suppress(SearchkitError):  # deleted since: said so
                    ix.post(result.hits[0].path)
                if i % 10 == 0:
                    ix.stats()
                    ix.trend(word, by="year")
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            failures.append(exc)

    def writer() -> None:
        try:
            for i in range(15):
                ix.add(Post(path=f"lib/{i}.md", title=f"数据中心{i}", body="数据中心 新闻"))
                if i % 3 == 2:
                    ix.delete(f"lib/{i - 1}.md")
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    import threading

    indexer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom searchkit.indexer import index_paths\n"
            "for _ in range(4): index_paths(sys.argv[1:3], sys.argv[3], rebuild=False)\n"
            "index_paths(sys.argv[1:3], sys.argv[3], rebuild=True)",
            str(posts),
            str(other),
            str(folder),
        ]
    )
    threads = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert indexer.wait() == 0
    ix.close()
    assert failures == []


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("数据中心 99999999999999999999999999\n", "bad.dict:1: frequency"),
        ("好词 3\n数据中心 3 n x\n", "bad.dict:2: expected"),
        ("数据\0中心\n", "NUL bytes"),
        (
            "好词\n".encode() + "坏词\n".encode("gb18030"),
            "bad.dict:2: user dictionary is not UTF-8",
        ),
        ("长" * 200 + "\n", "bad.dict:1: a word of 200 characters"),
    ],
)
def test_a_bad_user_dictionary_changes_nothing(tmp_path, content, said):
    folder = small_index(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")}
    bad = tmp_path / "bad.dict"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    fresh = tmp_path / "fresh"
    for index in (folder, fresh):
        result = CliRunner().invoke(
            cli,
            [
                "index",
                str(tmp_path / "posts"),
                "--index",
                str(index),
                "--rebuild",
                "--userdict",
                str(bad),
            ],
        )
        assert result.exit_code == 2 and said in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not fresh.exists()
    assert {p.name: p.stat().st_mtime_ns for p in folder.rglob("*")} == before
    assert Index.open(folder).search("数据中心").total == 1


@pytest.mark.parametrize("option", ["--userdict", "--stopwords"])
def test_an_endless_word_list_is_refused(tmp_path, option):
    result = CliRunner().invoke(
        cli, ["index", str(tmp_path), "--index", str(tmp_path / "ix"), option, "/dev/zero"]
    )
    assert result.exit_code == 2 and "/dev/zero is over" in result.output
    assert not (tmp_path / "ix").exists()


@pytest.mark.parametrize(
    "query", ["text:人民币", "meta:x", "sig:abc", "near:x", "title:数据 text:x"]
)
def test_a_field_that_cannot_be_searched_is_a_query_error(tmp_path, query):
    folder = small_index(tmp_path)
    result = CliRunner().invoke(cli, ["search", query, "--index", str(folder)])
    assert result.exit_code == 2 and "cannot be searched" in result.output
    with pytest.raises(searchkit.QueryError):
        Index.open(folder).search(query)


@pytest.mark.parametrize(
    "command", [["search", "数据中心"], ["search", "数据中心", "--json"], ["stats"]]
)
def test_a_full_disk_under_the_output_is_said(tmp_path, command):
    folder = small_index(tmp_path)
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [SEARCHKIT, *command, "--index", str(folder)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        == "Error: cannot write the results: the disk is full (No space left on device)"
    )


def test_a_bad_commit_size_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["index", str(tmp_path), "--index", str(tmp_path / "ix")],
        env={"SEARCHKIT_COMMIT_EVERY": "abc"},
    )
    assert result.exit_code == 2 and "SEARCHKIT_COMMIT_EVERY must be a positive" in result.output


def test_every_error_is_exported():
    for name in ("DiskFull", "LinkRefused", "OutputError", "IndexDamaged", "QueryError"):
        assert issubclass(getattr(searchkit, name), searchkit.SearchkitError)
