"""Bounded work on any index folder, any post, any request: each shape a hostile probe found
runs in time and memory linear in its size, or is refused in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import EXAMPLES, write_post

from searchkit import Index, QueryError
from searchkit.documents import MAX_BYTES, SkipFile, SourceFile, read_post
from searchkit.indexer import index_paths

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))
#: A gigabyte of address space: what a bounded run stays under (an unbounded one asked for
#: several).
MEMORY = 1 << 30


def bounded(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python under a memory limit and a timeout."""
    prelude = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY}))\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([SEARCHKIT, *args], capture_output=True, text=True, timeout=timeout)


# --- posts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["script", "style", "noscript", "template", "title"])
def test_unclosed_elements_repeated_are_read_in_linear_time(tag):
    done = bounded(
        f"""
        from searchkit.bodytext import body_to_text
        text = body_to_text(("<{tag}>x " * 100_000) + "<p>可见的文字</p>")
        print(len(text))
        """,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


def test_an_alias_bomb_under_the_alias_cap_is_skipped():
    done = bounded(
        """
        from searchkit.documents import SkipFile, SourceFile, parse_post
        lines = ["a: &a ['" + "x" * 1000 + "']"]
        for level in range(1, 8):  # 7 levels of 9 references: 63 aliases
            lines.append(f"l{level}: &l{level} [" + ", ".join([f"*{'a' if level == 1 else f'l{level - 1}'}"] * 9) + "]")
        lines.append("tags: *l7")
        data = ("---\\ntitle: bomb\\n" + "\\n".join(lines) + "\\n---\\nbody\\n").encode()
        try:
            parse_post(data, SourceFile("/tmp", "x.md", "/tmp/x.md", len(data), 0.0))
        except SkipFile as exc:
            print("skipped:", exc)
        """,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "skipped: front matter whose aliases expand past" in done.stdout


def _source(path: Path) -> SourceFile:
    return SourceFile(str(path.parent), path.name, str(path), 0, 0.0)


def test_a_huge_post_is_read_no_further_than_the_cap(tmp_path):
    path = tmp_path / "huge.md"
    with path.open("wb") as out:
        out.write("---\ntitle: 大文件\n---\n".encode())
        line = ("数据中心" * 20 + "\n").encode()
        for _ in range(MAX_BYTES // len(line) + 200_000):
            out.write(line)
    post = read_post(_source(path))
    assert any("MB are read" in warning for warning in post.warnings)
    assert len(post.body) <= 1_000_000


def test_a_post_that_became_a_pipe_or_a_link_outside_is_skipped(tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    pipe = write_post(posts, "pipe.md", "title: a", "正文")
    pipe.unlink()
    os.mkfifo(pipe)  # after the walk: reading must not wait for a writer
    with pytest.raises(SkipFile, match="not a regular file"):
        read_post(_source(pipe))
    outside = write_post(tmp_path, "secret.md", "title: secret", "机密")
    link = posts / "link.md"
    link.symlink_to(outside)
    with pytest.raises(SkipFile, match="outside"):
        read_post(SourceFile(str(posts), "link.md", str(link), 0, 0.0))
    inside = write_post(posts, "real.md", "title: real", "正文")
    (posts / "alias.md").symlink_to(inside)
    assert read_post(SourceFile(str(posts), "alias.md", str(posts / "alias.md"), 0, 0.0)).title


# --- an index folder --------------------------------------------------------------------------


@pytest.fixture
def built(tmp_path) -> Path:
    folder = tmp_path / "index"
    index_paths([EXAMPLES], folder, jobs=1)
    return folder


def _generation(folder: Path) -> Path:
    return next(folder.glob("gen-*"))


def _special(target: Path, kind: str) -> None:
    target.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize(
    "name", ["CURRENT", "STATE.json", "toc", "seg", "SEARCHKIT-GENERATION", "CHECKSUMS.json"]
)
def test_special_files_in_an_index_folder_end_in_time(built, name, kind):
    generation = _generation(built)
    target = {
        "toc": next(generation.glob("*.toc")) if name == "toc" else None,
        "seg": next(generation.glob("*.seg")) if name == "seg" else None,
        "SEARCHKIT-GENERATION": generation / "SEARCHKIT-GENERATION",
        "CHECKSUMS.json": generation / "CHECKSUMS.json",
    }.get(name) or built / name
    _special(target, kind)
    for args in (["search", "数据中心", "-c"], ["stats"]):
        done = run_cli(*args, "--index", str(built), timeout=60)
        assert done.returncode in (0, 2), done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 1
    rebuilt = run_cli("index", str(EXAMPLES), "--index", str(built), "--rebuild", timeout=120)
    if kind == "zero" and target.parent == built:
        # a link in place of a file the writer writes is refused, never written through
        assert rebuilt.returncode == 2 and "symbolic link" in rebuilt.stderr
        return
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run_cli("search", "数据中心", "-c", "--index", str(built)).stdout.strip() != "0"


@pytest.mark.parametrize("name", ["STATE.json", "MTIMES.json"])
def test_deeply_nested_json_in_an_index_folder_is_ignored(built, name):
    target = built / name if name == "STATE.json" else _generation(built) / name
    target.write_text("[" * 200_000 + "]" * 200_000)
    done = run_cli("index", str(EXAMPLES), "--index", str(built))
    assert done.returncode == 0, done.stderr
    assert run_cli("search", "数据中心", "-c", "--index", str(built)).returncode == 0


def test_an_update_that_changes_nothing_leaves_no_files(built):
    generation = _generation(built)
    before = sorted(p.name for p in generation.iterdir())
    for _ in range(2):
        assert run_cli("index", str(EXAMPLES), "--index", str(built)).returncode == 0
    after = sorted(p.name for p in generation.iterdir() if p.name != "MTIMES.json")
    assert after == [name for name in before if name != "MTIMES.json"]


# --- the library and queries ------------------------------------------------------------------


def test_an_index_removed_and_built_again_is_followed(built):
    ix = Index.open(built)
    total = ix.search("数据中心").total
    shutil.rmtree(built)
    with pytest.raises(Exception, match="no index"):
        ix.search("数据中心")
    index_paths([EXAMPLES], built, jobs=1)
    assert ix.search("数据中心").total == total
    assert ix.trend("数据中心").series[0].total == total


@pytest.mark.parametrize(
    "query",
    ["(" * 500 + "数据" + ")" * 500, "NOT " * 490 + "数据", "NOT " * 65 + "数据", None, 7],
)
def test_queries_nested_past_the_limit_or_not_text_are_query_errors(built, query):
    with pytest.raises(QueryError):
        Index.open(built).search(query)


# --- what an index folder's pickles may say -----------------------------------------------------


def test_a_stored_field_of_shared_lists_or_a_loop_is_damage_not_walked():
    from searchkit.engine.scoring import checked_fields
    from searchkit.errors import IndexDamaged

    tree: list = ["x"]
    for _ in range(40):
        tree = [tree, tree]  # 5 KB pickled, 2**40 values walked
    loop: list = []
    loop.append(loop)
    for value in (tree, loop, {"a": [1]}):
        with pytest.raises(IndexDamaged):
            checked_fields({"path": "a.md", "tags": value})
    kept = {"path": "a.md", "tags": ["数据"], "meta": {"date": None, "size": 3}}
    assert checked_fields(kept) is kept


def test_a_fold_that_names_a_file_is_refused_without_opening_it(tmp_path):
    from whoosh.index import TOC

    from searchkit import store
    from searchkit.engine import storage

    folder = tmp_path / "ix"
    index_paths([EXAMPLES], folder, jobs=1)
    pipe = tmp_path / "fold"
    os.mkfifo(pipe)
    generation = store.current_generation(folder)
    files = storage.index_storage(generation)
    toc = TOC.read(files, "MAIN")
    config = toc.schema["body"].analyzer.config
    object.__setattr__(config, "fold", str(pipe))
    object.__setattr__(config, "_hash", None)
    config.__dict__.pop("_hash", None)
    files.delete_file(f"_MAIN_{toc.generation}.toc")
    toc.write(files, "MAIN")
    for args in (["search", "数据中心"], ["stats"]):
        done = run_cli(*args, "--index", str(folder), timeout=60)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    rebuilt = run_cli("index", str(EXAMPLES), "--index", str(folder), "--rebuild", timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr  # --rebuild gets past what the old one says
