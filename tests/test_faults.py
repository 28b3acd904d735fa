"""Faults a hostile user or a bad day brings: killed writers, damaged pointers, full disks,
moved and unpublished posts, closed streams, broken batch files, huge inputs."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_post
from test_reliability import make_archive

from searchkit import Index, lock, store
from searchkit.cli import cli
from searchkit.errors import IndexDamaged, SearchkitError
from searchkit.indexer import index_paths
from searchkit.search import Searcher

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))


def run(*args, input=None, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)


def children_of(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` now."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def index_count(folder: Path) -> int:
    with Index.open(folder) as ix:
        return ix.stats().documents


# --- 1. killed writers ------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_the_indexer_alone_ends_its_builders_and_frees_the_lock(tmp_path, sig):
    posts = make_archive(tmp_path / "posts", 3000)
    folder = tmp_path / "ix"
    index_paths([posts / "_posts" / "2020-01-01-p00000.md"], folder, jobs=1)
    proc = subprocess.Popen(
        [SEARCHKIT, "index", str(posts), "--index", str(folder), "--jobs", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert wait_for(lambda: len(children_of(proc.pid)) >= 2), "the builders never started"
    builders = children_of(proc.pid)
    time.sleep(0.3)
    os.kill(proc.pid, sig)  # the parent only, not its group
    code = proc.wait()
    assert code == (-9 if sig == signal.SIGKILL else 128 + signal.SIGTERM)
    assert wait_for(lambda: not any(alive(pid) for pid in builders), timeout=10)
    if sig == signal.SIGTERM:
        assert b"Traceback" not in proc.stderr.read()
    proc.stderr.close()
    assert index_count(folder) == 1  # the last commit, untouched
    started = time.monotonic()
    result = run("index", posts, "--index", folder, "--wait", "0", "--json")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60  # it did not wait for a lock: --wait 0
    assert json.loads(result.stdout)["documents"] == 3000
    leftovers = [p.name for p in store.current_generation(folder).iterdir() if p.is_dir()]
    assert leftovers == []


def test_a_lock_whose_writer_has_ended_is_named_as_such(tmp_path):
    folder = tmp_path / "ix"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / "LOCK").write_text(
        json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "x", "command": "c"})
    )
    with lock.write_lock(folder, timeout=1):
        (folder / "LOCK").write_text(
            json.dumps({"pid": dead.pid, "host": os.uname().nodename, "since": "x", "command": "c"})
        )
        with (
            pytest.raises(SearchkitError, match=f"pid {dead.pid}, which wrote the lock, has ended"),
            lock.write_lock(folder, timeout=0),
        ):
            pass


# --- 2. folders searchkit did not make -------------------------------------------------------


def test_index_leaves_folders_it_did_not_make(tmp_path):
    posts = make_archive(tmp_path / "posts", 3)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    notes = folder / "gen-notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    foreign = folder / "gen-99"
    foreign.mkdir()
    (foreign / "data.bin").write_bytes(b"mine too")
    index_paths([posts], folder, jobs=1)
    index_paths([posts], folder, jobs=1, rebuild=True)
    assert (notes / "todo.txt").read_text() == "mine"
    assert (foreign / "data.bin").read_bytes() == b"mine too"
    generations = store.generations(folder)
    assert generations == [store.current_generation(folder)]


# --- 3. a damaged CURRENT --------------------------------------------------------------------

DAMAGE = {
    "empty": b"",
    "zero-filled": b"\0" * 4096,
    "not UTF-8": b"\xff\xfe\x80gen",
    "a folder that is gone": b"gen-41\n",
}


@pytest.mark.parametrize("damage", [*DAMAGE, "missing"])
def test_a_damaged_pointer_is_recovered_and_nothing_is_deleted(tmp_path, damage):
    posts = make_archive(tmp_path / "posts", 5)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    generation = store.current_generation(folder)
    if damage == "missing":
        (folder / "CURRENT").unlink()
    else:
        (folder / "CURRENT").write_bytes(DAMAGE[damage])
    with Index.open(folder) as searcher:  # searches adopt the one intact generation
        assert searcher.search("数据中心").total == 5
    report = index_paths([posts], folder, jobs=1)
    assert (report.added, report.unchanged, report.documents) == (0, 5, 5)
    assert any("recovered" in p.reason for p in report.warnings)
    assert store.current_generation(folder) == generation
    assert (folder / "CURRENT").read_text().strip() == generation.name
    assert index_paths([posts], folder, jobs=1, rebuild=True).documents == 5


def test_a_damaged_pointer_with_two_candidates_is_refused_in_words(tmp_path):
    posts = make_archive(tmp_path / "posts", 5)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    first = store.current_generation(folder)
    second = store.new_generation(folder)  # a rebuild that finished all but its switch
    from searchkit.engine.storage import create_whoosh_index
    from searchkit.schema import analyzer_config

    schema = store.open_index(folder).schema
    create_whoosh_index(second, schema, analyzer_config(schema).to_plain())
    (folder / "CURRENT").write_bytes(b"\0" * 16)
    for args in (["search", "数据中心"], ["stats"], ["index", posts]):
        result = run(*args, "--index", folder)
        assert result.exit_code == 2, (args, result.output)
        message = result.stderr.strip()
        assert "\n" not in message and first.name in message and second.name in message
        assert "CURRENT" in message
    assert first.is_dir() and second.is_dir()
    assert index_paths([posts], folder, jobs=1, rebuild=True).documents == 5
    assert store.generations(folder) == [store.current_generation(folder)]


def test_state_that_is_not_an_object_counts_as_empty(tmp_path):
    posts = make_archive(tmp_path / "posts", 2)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    (folder / "STATE.json").write_text("[1, 2]")
    assert store.read_state(folder) == {}
    result = run("stats", "--index", folder, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["last_indexed"] is None
    index_paths([posts], folder, jobs=1)
    assert store.read_state(folder)["last_indexed"]


def test_pointer_and_state_are_written_durably(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    posts = make_archive(tmp_path / "posts", 2)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1, rebuild=True)
    real = str(folder.resolve())
    generation = str(store.current_generation(folder).resolve())
    assert any(p.startswith(real + "/.CURRENT.") for p in synced)  # the file, before its rename
    assert any(p.startswith(real + "/.STATE.json.") for p in synced)
    assert real in synced  # the folder, after the rename
    assert generation in synced and any(p.startswith(generation + "/_MAIN_") for p in synced)


# --- 4. a full disk --------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB file system of its own (needs root and tmpfs; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small file system here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def files_of(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and p.name != "LOCK"
    }


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("rebuild", [False, True])
def test_a_full_disk_fails_in_one_line_and_keeps_the_previous_index(
    tmp_path, small_disk, jobs, rebuild
):
    posts = make_archive(tmp_path / "posts", 20)
    folder = small_disk / "ix"
    index_paths([posts], folder, jobs=1)
    before = files_of(folder)
    for i in range(4000):  # far more than 4 MB of index
        body = "".join(f"第{i}号补充稿件{k}，内容各不相同{i * 7 + k}。" for k in range(40))
        write_post(posts, f"_posts/2021-01-01-more{i:05}.md", f"title: 补充{i}", body)
    args = ["index", posts, "--index", folder, "--jobs", jobs] + (["--rebuild"] if rebuild else [])
    for _attempt in range(2):  # a retry fails the same way: nothing was stranded
        result = run(*args)
        assert result.exit_code == 2, result.output
        message = result.stderr.strip()
        assert "disk full" in message and "\n" not in message
        assert files_of(folder) == {**before, "STATE.json": before["STATE.json"]}
    with Index.open(folder) as searcher:
        assert searcher.search("数据中心").total == 20
    stats = json.loads(run("stats", "--index", folder, "--json").stdout)
    assert stats["documents"] == 20


def test_a_write_error_in_a_builder_is_reported_by_its_cause(tmp_path, monkeypatch):
    """The same path without a small disk: the builder's own write fails with ENOSPC."""
    import errno

    from searchkit import writer

    posts = make_archive(tmp_path / "posts", 100)
    folder = tmp_path / "ix"
    index_paths([posts / "_posts" / "2020-01-01-p00000.md"], folder, jobs=1)
    before = files_of(folder)
    real = writer.SegmentBuilder._flush_segment

    def flush(self):
        real(self)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer.SegmentBuilder, "_flush_segment", flush)
    for jobs in (1, 2):
        result = run("index", posts, "--index", folder, "--jobs", jobs)
        assert result.exit_code == 2 and "disk full" in result.stderr
        assert set(files_of(folder)) == set(before)
    assert index_count(folder) == 1


def test_a_builder_failing_in_a_later_chunk_keeps_the_commits_before_and_strands_nothing(
    tmp_path, monkeypatch
):
    """Builders hold the chunk after next while a commit runs: when one fails on the second
    chunk, the first stays committed, whatever the builders wrote for the second and third
    is removed, and the next run indexes everything."""
    import errno

    from searchkit import indexer

    posts = make_archive(tmp_path / "posts", 300)
    folder = tmp_path / "ix"
    real = indexer.document_maker

    def maker(schema):
        make = real(schema)

        def document(post):
            if post.path.endswith("p00150.md"):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return make(post)

        return document

    monkeypatch.setattr(indexer, "document_maker", maker)
    with pytest.raises(SearchkitError, match="as its last commit left it"):
        index_paths([posts], folder, jobs=2, commit_every=100)
    monkeypatch.undo()
    assert index_count(folder) == 100
    generation = store.current_generation(folder)
    segment_files = {p.name for p in generation.iterdir() if p.name.startswith(("MAIN_", "_MAIN_"))}
    assert segment_files | {"MANIFEST.json"} == set(store._named_files(generation))
    report = index_paths([posts], folder, jobs=2, commit_every=100)
    assert report.added == 200 and index_count(folder) == 300


# --- 5 and 6. posts that leave, folders that move, folders that share names -------------------


def test_posts_that_become_unpublished_or_unreadable_leave_the_index(tmp_path):
    posts = make_archive(tmp_path / "posts", 4)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    write_post(posts, "_posts/2020-01-01-p00001.md", "title: 文章1\npublished: false", "草稿")
    (posts / "_posts" / "2020-01-01-p00002.md").write_bytes(b"\0\0binary")
    report = index_paths([posts], folder, jobs=1)
    assert (report.deleted, report.documents) == (2, 2)
    reasons = {p.path: p.reason for p in report.skipped}
    assert "removed from the index" in reasons["_posts/2020-01-01-p00001.md"]
    assert "removed from the index" in reasons["_posts/2020-01-01-p00002.md"]
    with Index.open(folder) as searcher:
        paths = {hit.path for hit in searcher.search("数据中心").hits}
    assert paths == {"_posts/2020-01-01-p00000.md", "_posts/2020-01-01-p00003.md"}


def test_a_moved_archive_is_followed_and_its_deletions_seen(tmp_path):
    first = make_archive(tmp_path / "arch1", 4)
    (first / "_posts" / "2020-01-01-p00003.md").unlink()
    folder = tmp_path / "ix"
    index_paths([first], folder, jobs=1)
    write_post(first, "_posts/2020-01-01-p00003.md", "title: 文章3", "迁移前删掉的报道 zzmoved")
    index_paths([first], folder, jobs=1)
    (first / "_posts" / "2020-01-01-p00003.md").unlink()  # deleted, then the folder moves
    moved = first.rename(tmp_path / "arch2")
    report = index_paths([moved], folder, jobs=1)
    assert report.documents == 3
    (moved / "_posts" / "2020-01-01-p00000.md").unlink()
    report = index_paths([moved], folder, jobs=1)
    assert (report.deleted, report.documents) == (1, 2)
    with Index.open(folder) as searcher:
        assert searcher.search("zzmoved").total == 0


def test_a_missing_folder_sharing_one_name_deletes_nothing(tmp_path):
    """Two sites share ``about.md``; one is away for a moment (an unmounted disk): indexing
    the other deletes none of the absent site's posts."""
    for site in ("siteA", "siteB"):
        for i in range(5):
            write_post(
                tmp_path / site, f"_posts/2020-01-0{i + 1}-{site}.md", f"title: {site}{i}", "新闻"
            )
        write_post(tmp_path / site, "about.md", f"title: 关于{site}", "关于本站")
    folder = tmp_path / "ix"
    index_paths([tmp_path / "siteA"], folder, jobs=1)
    report = index_paths([tmp_path / "siteB"], folder, jobs=1)
    assert report.documents == 12
    away = (tmp_path / "siteA").rename(tmp_path / "unmounted")
    report = index_paths([tmp_path / "siteB"], folder, jobs=1)
    assert (report.deleted, report.documents) == (0, 12)
    away.rename(tmp_path / "siteA")
    report = index_paths([tmp_path / "siteA"], folder, jobs=1)
    assert (report.added, report.deleted, report.unchanged) == (0, 0, 6)


def test_the_same_relative_path_in_two_folders_is_two_posts(tmp_path):
    write_post(tmp_path / "a", "_posts/x.md", "title: 甲地新闻", "甲地的消息")
    write_post(tmp_path / "b", "_posts/x.md", "title: 乙地新闻", "乙地的消息")
    folder = tmp_path / "ix"
    index_paths([tmp_path / "a"], folder, jobs=1)
    report = index_paths([tmp_path / "b"], folder, jobs=1)
    assert (report.added, report.deleted, report.documents) == (1, 0, 2)
    with Index.open(folder) as searcher:
        assert [h.title for h in searcher.search("甲地").hits] == ["甲地新闻"]
        assert [h.title for h in searcher.search("乙地").hits] == ["乙地新闻"]
    write_post(tmp_path / "b", "_posts/x.md", "title: 乙地新闻", "乙地的新消息")
    report = index_paths([tmp_path / "b"], folder, jobs=1)
    assert (report.updated, report.documents) == (1, 2)
    with Index.open(folder) as searcher:
        assert searcher.search("甲地").total == 1
    both = index_paths([tmp_path / "a", tmp_path / "b"], tmp_path / "ix2", jobs=1)
    assert both.documents == 2 and not both.skipped


# --- 7. races --------------------------------------------------------------------------------


def test_searches_never_fail_during_back_to_back_rebuilds(tmp_path):
    posts = make_archive(tmp_path / "posts", 30)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    script = (
        "import sys\n"
        "from searchkit.indexer import index_paths\n"
        "for _ in range(25):\n"
        f"    index_paths([{str(posts)!r}], {str(folder)!r}, rebuild=True, jobs=1)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    searches = 0
    while proc.poll() is None:
        with Index.open(folder) as searcher:
            for _ in range(3):
                assert searcher.search("数据中心").total == 30
                searches += 1
    assert proc.wait() == 0, proc.stderr.read()
    assert searches > 20


def test_open_retries_when_the_named_generation_vanishes(tmp_path, monkeypatch):
    posts = make_archive(tmp_path / "posts", 3)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    real = store.current_generation
    ghost = folder / "gen-40"
    answers = iter([ghost, ghost])  # what CURRENT named a moment before a rebuild removed it
    monkeypatch.setattr(store, "current_generation", lambda f: next(answers, None) or real(f))
    with Index.open(folder) as searcher:
        assert searcher.search("数据中心").total == 3


def test_a_missing_manifest_is_damage_in_words(tmp_path):
    posts = make_archive(tmp_path / "posts", 3)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    (store.current_generation(folder) / "MANIFEST.json").unlink()
    with pytest.raises(IndexDamaged, match="a file of it is missing.*--rebuild"):
        Searcher(folder)
    result = run("search", "数据中心", "--index", folder)
    assert result.exit_code == 2 and "damaged" in result.stderr
    assert index_paths([posts], folder, jobs=1, rebuild=True).documents == 3


# --- 8. streams ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    posts = make_archive(tmp_path_factory.mktemp("posts"), 400)
    folder = tmp_path_factory.mktemp("ix") / "ix"
    index_paths([posts], folder, jobs=1)
    return posts, folder


def shell(command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, **kwargs
    )


def test_index_with_stderr_closed_indexes_everything(tmp_path, archive):
    posts, _ = archive
    folder = tmp_path / "ix"
    done = shell(f"'{SEARCHKIT}' index '{posts}' --index '{folder}' --jobs 2 2>&-")
    assert done.returncode == 0 and done.stdout == ""
    assert index_count(folder) == 400
    assert json.loads((folder / "LOCK").read_text())["command"] == "searchkit index"


@pytest.mark.parametrize("command", ["search 数据中心", "search 数据中心 --json", "stats"])
def test_a_closed_stdout_is_an_error(archive, command):
    _, folder = archive
    done = shell(f"'{SEARCHKIT}' {command} --index '{folder}' >&-")
    assert done.returncode == 2
    assert "standard output is closed" in done.stderr and "Traceback" not in done.stderr


def test_a_closed_pipe_ends_quietly(archive):
    _, folder = archive
    done = shell(
        f"'{SEARCHKIT}' search 数据中心 --index '{folder}' --limit 400 --jsonl | head -1; "
        "echo ${PIPESTATUS[0]} >&2"
    )
    assert json.loads(done.stdout)["rank"] == 1
    assert done.stderr.strip() == "0"


def test_a_search_leaving_at_once_has_written_all_its_output(archive, tmp_path):
    """A search ends without the interpreter's teardown, after flushing: every line of a
    long answer is in the file, and the exit code is the search's."""
    _, folder = archive
    out = tmp_path / "hits.jsonl"
    done = shell(f"'{SEARCHKIT}' search 数据中心 --index '{folder}' --limit 1000 --jsonl > '{out}'")
    lines = out.read_text("utf-8").splitlines()
    assert done.returncode == 0 and len(lines) > 1
    assert [json.loads(line)["rank"] for line in lines] == list(range(1, len(lines) + 1))
    total = shell(f"'{SEARCHKIT}' search 数据中心 --index '{folder}' -c").stdout.strip()
    assert len(lines) == int(total)


def test_ctrl_c_exits_130(archive):
    _, folder = archive
    proc = subprocess.Popen(
        [SEARCHKIT, "search", "--batch", "-", "--index", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write("q1\t数据中心\n".encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["qid"] == "q1"  # it answered and now waits
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert b"Traceback" not in proc.stderr.read()
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()


#: tgkill, to hand a signal to one thread of another process, where the number is known.
_TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _TGKILL, reason="Linux's tgkill")
def test_ctrl_c_that_the_system_hands_to_another_thread_still_ends_a_batch(archive):
    """The kernel hands a process's signal to any of its threads; a batch with workers has
    five, and Python acts on it only in the main thread, when that thread next wakes."""
    import ctypes

    _, folder = archive
    proc = subprocess.Popen(
        [SEARCHKIT, "search", "--batch", "-", "--jobs", "2", "--index", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write("q1\t数据中心\n".encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["qid"] == "q1"
    threads = sorted(int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid)
    assert threads  # the pool's threads and the reader's
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(_TGKILL, proc.pid, threads[-1], signal.SIGINT) == 0
    try:
        assert proc.wait(timeout=30) == 130
    finally:
        proc.kill()
    assert b"Traceback" not in proc.stderr.read()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()


# --- 9. --batch ------------------------------------------------------------------------------


def test_batch_lines_that_cannot_be_read_get_an_error_and_the_batch_goes_on(archive, tmp_path):
    _, folder = archive
    batch = tmp_path / "batch.txt"
    batch.write_bytes(
        "q1\t数据中心\n".encode()
        + b"q2\t\xff\xfe broken\n"
        + "q3\t人民币\n".encode("gb18030")
        + "\t地铁\n".encode()
        + "防汛\n".encode()
        + b"q6\t(unbalanced\n"
    )
    result = run("search", "--batch", batch, "--index", folder)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["qid"] for row in rows] == ["q1", "q2", "q3", "4", "5", "q6"]
    assert rows[0]["total"] > 0 and "took_ms" in rows[0]
    assert "not UTF-8" in rows[1]["error"] and "not UTF-8" in rows[2]["error"]
    assert rows[3]["query"] == "地铁" and rows[4]["query"] == "防汛"
    assert set(rows[5]) == {"qid", "error"}


def test_batch_from_a_closed_stdin_is_a_usage_error(archive):
    _, folder = archive
    done = shell(f"'{SEARCHKIT}' search --batch - --index '{folder}' <&-")
    assert done.returncode == 2 and "standard input is closed" in done.stderr


# --- 10. limits ------------------------------------------------------------------------------


def test_a_huge_post_is_indexed_up_to_the_cap_with_a_warning(tmp_path):
    from searchkit.documents import MAX_TEXT

    posts = tmp_path / "posts"
    line = "这是一篇很长的报道里的一句话。\n"
    lines = MAX_TEXT // len(line) + 2000
    write_post(posts, "huge.md", "title: 长文", "zzstart\n" + line * lines + "zzend\n")
    folder = tmp_path / "ix"
    report = index_paths([posts], folder, jobs=1)
    assert report.documents == 1
    assert any("only the first" in p.reason for p in report.warnings)
    with Index.open(folder) as searcher:
        assert searcher.search("zzstart").total == 1
        assert searcher.search("zzend").total == 0
        assert len(searcher.post("huge.md").text) <= MAX_TEXT


def test_indexing_a_50_mb_post_stays_under_a_gigabyte(tmp_path):

    posts = tmp_path / "posts"
    sentence = "这是一个很长的新闻报道中的一句话，用来测试大文件。" * 40 + "\n"
    count = 50 * 1024 * 1024 // len(sentence.encode())
    write_post(posts, "huge.md", "title: 巨文", sentence * count)
    script = (
        "import resource, sys\n"
        "from searchkit.indexer import index_paths\n"
        "from searchkit.search import Searcher\n"
        f"index_paths([{str(posts)!r}], {str(tmp_path / 'ix')!r}, jobs=1)\n"
        f"s = Searcher({str(tmp_path / 'ix')!r})\n"
        "s.similar('huge.md')\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,\n"
        "      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # the run's own peak, and its children's (not this test process's other children)
    peak_kib, children_kib = (int(n) for n in done.stdout.split()[-2:])
    assert peak_kib < 1024 * 1024, f"peak {peak_kib / 1024:.0f} MiB"
    assert children_kib < 1024 * 1024, f"children's peak {children_kib / 1024:.0f} MiB"


# --- 11. messages and arguments --------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_damaged_segment_files_say_rebuild(tmp_path, damage):
    posts = make_archive(tmp_path / "posts", 30)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    segment = max(store.current_generation(folder).glob("*.seg"), key=lambda p: p.stat().st_size)
    data = segment.read_bytes()
    if damage == "truncate":
        segment.write_bytes(data[: len(data) // 3])
    else:
        middle = len(data) // 2
        segment.write_bytes(data[:64] + bytes(range(256)) * ((middle - 64) // 256) + data[middle:])
    for args in (["search", "数据中心"], ["search", "title:文章3"], ["stats"]):
        result = run(*args, "--index", folder)
        message = result.stderr.strip()
        assert result.exit_code == 2, (args, result.output)
        assert "internal error" not in message and "\n" not in message
        assert "--rebuild" in message, message


def test_a_commit_syncs_and_records_only_the_files_its_table_names(tmp_path, monkeypatch):
    """A builder writes the next commit's segment in the same folder while this one is synced,
    and assembling it removes its parts: a commit takes only what its table of contents names."""
    posts = make_archive(tmp_path / "posts", 5)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    generation = store.current_generation(folder)
    named = {p.name for p in generation.iterdir() if p.name.startswith(("MAIN_", "_MAIN_"))}
    named.add("MANIFEST.json")
    (generation / "MAIN_nextsegment.pst").write_bytes(b"half written")
    listing = list(os.scandir(generation))
    (generation / "MAIN_nextsegment.pst").unlink()  # assembled while the commit looked
    (generation / "MAIN_inprogress.seg").write_bytes(b"being written")
    real_scandir = os.scandir
    monkeypatch.setattr(
        store.os,
        "scandir",
        lambda path: iter(listing) if path == generation else real_scandir(path),
    )
    store.sync_folder(generation)  # the vanished file was listed: no error
    monkeypatch.undo()
    store.sync_folder(generation)
    recorded = json.loads((generation / store.CHECKSUMS).read_text())
    assert set(recorded) == named
    (generation / "MAIN_inprogress.seg").write_bytes(b"now assembled, other bytes")
    assert store.checksums_match(generation)
    assert run("search", "数据中心", "--index", folder).exit_code == 0


def test_a_read_only_index_folder_says_so(tmp_path, small_disk):
    posts = make_archive(tmp_path / "posts", 3)
    folder = small_disk / "ix"
    index_paths([posts], folder, jobs=1)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    write_post(posts, "_posts/2020-02-02-new.md", "title: 新", "新的报道")
    result = run("index", posts, "--index", folder)
    assert result.exit_code == 2
    assert "Read-only file system" in result.stderr and "internal error" not in result.stderr
    assert run("search", "数据中心", "--index", folder).exit_code == 0


def test_missing_paths_and_a_file_for_an_index_are_errors(tmp_path):
    posts = make_archive(tmp_path / "posts", 3)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    result = run("index", tmp_path / "no-such-dir", "--index", folder)
    assert result.exit_code == 2 and "no such file or folder" in result.stderr
    assert index_count(folder) == 3
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    for args in (["search", "数据中心"], ["index", posts], ["stats"]):
        result = run(*args, env={"SEARCHKIT_INDEX": str(not_a_folder)})
        assert result.exit_code == 2 and "is a file" in result.stderr, result.output


# --- 12. bugs show -------------------------------------------------------------------------


def test_a_bug_in_our_own_query_code_is_not_a_query_error(archive, monkeypatch):
    from searchkit import parser as parser_module
    from searchkit import search as search_module

    _, folder = archive

    def broken(*args):
        raise TypeError("a bug")

    monkeypatch.setattr(parser_module, "lift_negations", broken)
    with Index.open(folder) as searcher, pytest.raises(TypeError):
        searcher.search("数据中心")
    quiet = run("search", "数据中心", "--index", folder)
    assert quiet.exit_code == 2 and "internal error: TypeError: a bug" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    monkeypatch.undo()
    monkeypatch.setattr(search_module, "reordered", broken)  # inside the reading of the index
    with Index.open(folder) as searcher, pytest.raises(TypeError):
        searcher.search("数据中心")  # the files are as written: a bug, not damage
    loud = run("search", "数据中心", "--index", folder, env={"SEARCHKIT_DEBUG": "1"})
    assert "Traceback" in loud.stderr and "lift_negations" not in loud.stderr.splitlines()[-1]


# --- minor ---------------------------------------------------------------------------------


def test_drafts_are_skipped_unless_asked(tmp_path):
    write_post(tmp_path / "site", "_posts/2020-01-01-a.md", "title: 正式", "正式稿件")
    write_post(tmp_path / "site", "_drafts/b.md", "title: 草稿", "草稿稿件")
    assert index_paths([tmp_path / "site"], tmp_path / "ix", jobs=1).documents == 1
    assert index_paths([tmp_path / "site"], tmp_path / "ix2", jobs=1, drafts=True).documents == 2
    assert index_paths([tmp_path / "site" / "_drafts"], tmp_path / "ix3", jobs=1).documents == 1


def test_terminal_escapes_in_posts_do_not_reach_the_terminal(tmp_path):
    write_post(
        tmp_path / "p",
        "a.md",
        'title: "\\e]0;owned\\a标题\\e[2J"',
        "正文\x1b[31m红色\x1b[0m内容\x07",
    )
    folder = tmp_path / "ix"
    index_paths([tmp_path / "p"], folder, jobs=1)
    for args in (["search", "内容"], ["show", "a.md"]):
        result = run(*args, "--index", folder, "--no-color")
        assert result.exit_code == 0
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "标题" in result.stdout


def test_since_after_until_is_an_error(archive):
    _, folder = archive
    result = run("search", "数据中心", "--since", "2020", "--until", "2019", "--index", folder)
    assert result.exit_code == 2 and "after --until" in result.stderr


def test_not_and_minus_agree(tmp_path):
    posts = tmp_path / "posts"
    write_post(posts, "a.md", "title: 北京新闻", "北京的地铁")
    write_post(posts, "b.md", "title: 上海新闻", "上海的地铁")
    write_post(posts, "c.md", "title: 广州新闻", "广州的公交")
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    with Index.open(folder) as searcher:
        for positive, expected in (("", {"b.md", "c.md"}), ("地铁 ", {"b.md"})):
            minus = searcher.search(positive + "-北京")
            word = searcher.search(positive + "NOT 北京")
            assert {h.path for h in minus.hits} == {h.path for h in word.hits} == expected
            assert minus.total == word.total == len(expected)
    result = run("search", "-北京", "--index", folder, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["total"] == 2


def test_an_index_of_another_format_is_refused_until_rebuilt(tmp_path):
    posts = make_archive(tmp_path / "posts", 3)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    marker = store.current_generation(folder) / store.MARKER
    for text in (f"searchkit index generation\nformat {store.FORMAT + 1}\n", "format 1\n", None):
        if text is None:
            marker.unlink()  # a generation written before formats were named
        else:
            marker.write_text(text)
        with pytest.raises(SearchkitError, match="this searchkit reads format.*--rebuild"):
            Searcher(folder)
        result = run("index", posts, "--index", folder)
        assert result.exit_code == 2 and "--rebuild" in result.stderr
    assert index_paths([posts], folder, jobs=1, rebuild=True).documents == 3
    with Index.open(folder) as searcher:
        assert searcher.search("数据中心").total == 3


def test_any_error_while_reading_a_changed_file_is_damage(tmp_path):
    """Garbled bytes can raise anything (Whoosh's FileFormatError, a KeyError): it is called
    damage when a file is not as written, and goes on as a bug when every file is."""
    posts = make_archive(tmp_path / "posts", 5)
    folder = tmp_path / "ix"
    index_paths([posts], folder, jobs=1)
    with pytest.raises(KeyError), store.reading(folder):
        raise KeyError("a bug")
    segment = next(store.current_generation(folder).glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(SearchkitError, match="damaged.*--rebuild"), store.reading(folder):
        raise KeyError("what garbled bytes gave")
