"""Bounded work on any index folder, any post, any request: each shape a hostile probe found
runs in time and memory linear in its size, or is refused in one line."""

from __future__ import annotations

import json
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
def built(tmp_path, examples_index) -> Path:
    """An index of the example posts of this test's own (a copy of the session's)."""
    folder = tmp_path / "index"
    shutil.copytree(examples_index, folder, symlinks=True)
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
    from searchkit.engine.stored import checked_fields
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


# --- the manifest: what an index claims, checked before anything is made of it -------------


def craft_manifest(folder: Path, change) -> None:
    """Change the manifest of ``folder``'s index as an attacker would: ``change(body)``, the
    checksum made again."""
    from searchkit.engine import manifest

    path = _generation(folder) / manifest.MANIFEST
    body = json.loads(path.read_text("utf-8"))
    body.pop("checksum")
    change(body)
    data = {"checksum": manifest.checksum(body), **body}
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


def assert_damaged_and_rebuilt(folder: Path, said: str) -> None:
    """Every reading command ends in one line naming the damage, in time and memory (a
    subprocess under a gigabyte); ``--rebuild`` gets past it."""
    for args in (["search", "数据中心"], ["stats"], ["show", "x"]):
        done = bounded(
            f"""
            import sys
            from searchkit.cli import main
            sys.argv = ["searchkit", *{args!r}, "--index", {str(folder)!r}]
            main()
            """
        )
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "damaged" in done.stderr and said in done.stderr and "--rebuild" in done.stderr
    rebuilt = run_cli("index", str(EXAMPLES), "--index", str(folder), "--rebuild", timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run_cli("search", "数据中心", "-c", "--index", str(folder)).stdout.strip() != "0"


def test_a_fold_that_names_a_file_is_refused_without_opening_it(built, tmp_path):
    pipe = tmp_path / "fold"
    os.mkfifo(pipe)
    craft_manifest(built, lambda body: body["analyzer"].update(fold=str(pipe)))
    assert_damaged_and_rebuilt(built, "folding")


def test_a_pattern_or_a_callable_in_the_analyzer_is_refused(built):
    # the tags' tokenizer is searchkit's code: a manifest has no place for a pattern
    craft_manifest(built, lambda body: body["analyzer"].update(tokenizer="(x+x+)+y"))
    assert_damaged_and_rebuilt(built, "analyzer")


@pytest.mark.parametrize("claim", [300_000_000, 2**62, -1, 1.5, "32"])
def test_a_post_count_the_segment_cannot_hold_is_refused(built, claim):
    craft_manifest(built, lambda body: body["segments"][0].update(posts=claim))
    assert_damaged_and_rebuilt(built, "manifest")


def test_a_manifest_listing_thousands_of_segments_is_refused(built):
    def many(body):
        first = body["segments"][0]
        body["segments"] = [dict(first, id=f"{n:016d}") for n in range(5_000)]

    craft_manifest(built, many)
    assert_damaged_and_rebuilt(built, "is missing")


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body["segments"][0].update(deleted=[10**9]),
        lambda body: body["segments"][0].update(deleted=[0, 0]),
        lambda body: body["segments"][0]["lengths"].update(body=-5),
        lambda body: body["segments"][0].update(id="../../etc/passwd"),
        lambda body: body["segments"].append(dict(body["segments"][0])),
        lambda body: body["analyzer"].update(userdict=[["词", "many", None]]),
        lambda body: body.update(segments={"a": 1}),
    ],
)
def test_a_manifest_out_of_bounds_is_refused(built, change):
    craft_manifest(built, change)
    assert_damaged_and_rebuilt(built, "manifest")


def test_one_byte_of_the_manifest_changed_is_damage_not_a_score(built):
    from searchkit.engine import manifest

    path = _generation(built) / manifest.MANIFEST
    data = bytearray(path.read_bytes())
    at = data.index(b'"body": ') + len(b'"body": ')
    data[at] = ord("9") if data[at] != ord("9") else ord("8")  # a field's total length
    path.write_bytes(bytes(data))
    assert_damaged_and_rebuilt(built, "checksum")


@pytest.mark.parametrize("how", ["flipped", "stray", "copy"])
def test_whooshs_table_of_contents_is_never_read(built, how):
    """Whoosh's own table of contents (a pickle) stays for Whoosh's tools; searchkit reads
    the manifest, so damage to the table changes nothing searchkit answers."""
    before = run_cli("search", "数据中心", "--json", "--index", str(built)).stdout
    generation = _generation(built)
    table = next(generation.glob("_MAIN_*.toc"))
    data = bytearray(table.read_bytes())
    if how == "flipped":
        data[len(data) // 2] ^= 0xFF
        table.write_bytes(bytes(data))
    elif how == "stray":
        (generation / "_MAIN_999.toc").write_bytes(b"\x80\x02" + os.urandom(64))
    else:
        shutil.copy(table, generation / "_MAIN_2.toc")
    after = run_cli("search", "数据中心", "--json", "--index", str(built))
    assert after.returncode == 0, after.stderr
    assert _hits(after.stdout) == _hits(before)
    assert run_cli("index", str(EXAMPLES), "--index", str(built)).returncode == 0
    assert run_cli("stats", "--index", str(built)).returncode == 0


def _hits(output: str) -> list:
    return [(hit["path"], hit["score"]) for hit in json.loads(output)["hits"]]


def test_a_table_of_contents_whose_schema_would_allocate_is_never_read(built):
    """Whoosh's DATETIME makes its tables from a ``bits`` it unpickles (8e9: gigabytes); the
    table is never unpickled by searchkit, so nothing of it is computed."""
    import pickle

    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    files = FileStorage(str(_generation(built)))
    toc = TOC.read(files, "MAIN")  # (the test reads the file it made, with pickle)
    toc.schema["date"].bits = 8_000_000_000
    toc.schema["tags"].analyzer = pickle.loads(pickle.dumps(toc.schema["tags"].analyzer))
    files.delete_file(f"_MAIN_{toc.generation}.toc")
    toc.write(files, "MAIN")
    done = bounded(
        f"""
        from searchkit import Index
        with Index.open({str(built)!r}) as ix:
            print(ix.search("数据中心").total)
        """
    )
    assert done.returncode == 0 and int(done.stdout) > 0, done.stderr


def test_a_stored_pickle_naming_another_codec_is_refused_in_time(tmp_path, monkeypatch):
    """Protocol 2 writes bytes as a call of ``_codecs.encode(text, "latin1")``; the same call
    with punycode takes time quadratic in its text, and is refused."""
    import _codecs

    from searchkit import schema

    class Slow:
        def __reduce__(self):
            return _codecs.encode, ("x" * 200_000 + "字", "punycode")

    plain = schema.post_to_document

    def crafted(post, fold=None):
        doc = plain(post, fold)
        doc["meta"]["x"] = Slow()
        return doc

    monkeypatch.setattr(schema, "post_to_document", crafted)
    folder = tmp_path / "ix"
    index_paths([EXAMPLES], folder, jobs=1)
    monkeypatch.undo()
    done = run_cli("search", "数据中心", "--index", str(folder), timeout=30)
    assert done.returncode == 2 and "punycode" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_stored_fields_that_inflate_past_the_bound_are_damage(tmp_path, monkeypatch):
    """zlib makes up to a thousand times its input: a post's stored bytes (40 MB of one
    letter in under 100 KB) do not choose how much is allocated."""
    from searchkit import schema

    plain = schema.post_to_document

    def crafted(post, fold=None):
        doc = plain(post, fold)
        doc["meta"]["x"] = "x" * (40 * 1024 * 1024)
        return doc

    monkeypatch.setattr(schema, "post_to_document", crafted)
    folder = tmp_path / "ix"
    index_paths([EXAMPLES], folder, jobs=1)
    monkeypatch.undo()
    assert sum(p.stat().st_size for p in folder.rglob("*.seg")) < 10_000_000
    done = bounded(
        f"""
        import sys
        from searchkit.cli import main
        sys.argv = ["searchkit", "search", "数据中心", "--index", {str(folder)!r}]
        main()
        """
    )
    assert done.returncode == 2 and "larger than searchkit writes" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
