import os
import shutil

import pytest
from conftest import DASH_PATH, FINEWS, SEED, SEED_PATH, needs_shared, write_post

from searchkit import Index
from searchkit.errors import AnalyzerMismatch, SearchkitError
from searchkit.indexer import index_paths
from searchkit.search import Searcher
from searchkit.stats import index_stats, show_post


@needs_shared
def test_seed_plus_finews_gives_101_documents(news_index):
    stats = index_stats(news_index)
    assert stats.documents == 101
    assert stats.categories["nanjingchenbao"] == 1
    assert stats.tags["南京晨报新闻"] == 1
    assert stats.years["2022"] >= 1 and stats.years["2021"] >= 90
    assert stats.analyzer["fingerprint"]
    seed = show_post(SEED_PATH, news_index)
    assert seed.date == "2022-06-09T00:02:35+08:00"
    dash = show_post(DASH_PATH, news_index)
    assert dash.date is None and dash.title


@needs_shared
def test_report_names_warned_and_skipped_files(tmp_path):
    report = index_paths([SEED, FINEWS], tmp_path / "ix", jobs=1)
    assert report.added == 101
    # the broken date, and front matter after a blank line (read, with a warning)
    blank_first = "_posts/2021-12-08-202112082206703990.md"
    assert sorted(w.path for w in report.warnings) == sorted([DASH_PATH, blank_first])
    assert {p.path for p in report.skipped} == {"SOURCE.md"}


def test_incremental_runs(tmp_path):
    posts = tmp_path / "posts"
    for i in range(5):
        write_post(
            posts, f"_posts/2022-01-0{i + 1}-p{i}.md", f"title: 第{i}篇", f"内容{i} 数据中心"
        )
    ix = tmp_path / "ix"
    first = index_paths([posts], ix, jobs=1)
    assert (first.added, first.documents) == (5, 5)

    again = index_paths([posts], ix, jobs=1)
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 5)

    changed = posts / "_posts/2022-01-02-p1.md"
    changed.write_text(changed.read_text("utf-8") + "新的段落\n", encoding="utf-8")
    touched = index_paths([posts], ix, jobs=1)
    assert (touched.updated, touched.unchanged) == (1, 4)
    assert "新的段落" in show_post("_posts/2022-01-02-p1.md", ix).text

    os.utime(posts / "_posts/2022-01-03-p2.md")  # touched but the same bytes
    assert index_paths([posts], ix, jobs=1).updated == 0

    (posts / "_posts/2022-01-01-p0.md").unlink()
    removed = index_paths([posts], ix, jobs=1)
    assert (removed.deleted, removed.documents) == (1, 4)


def test_rebuild_and_parallel_build_agree(tmp_path):
    posts = tmp_path / "posts"
    for i in range(80):
        write_post(posts, f"p{i:03}.md", f"title: 文章{i}", f"第{i}号文章讲的是数据中心与新能源。")
    serial = index_paths([posts], tmp_path / "a", jobs=1)
    parallel = index_paths([posts], tmp_path / "b", jobs=2)
    assert serial.documents == parallel.documents == 80
    rebuilt = index_paths([posts], tmp_path / "b", rebuild=True, jobs=2)
    assert rebuilt.added == 80 and rebuilt.documents == 80
    assert len([p for p in (tmp_path / "b").iterdir() if p.name.startswith("gen-")]) == 1


def test_changed_user_dictionary_asks_for_rebuild(tmp_path):
    posts = tmp_path / "posts"
    write_post(posts, "a.md", "title: 甲", "顶山街道执法大队")
    words = tmp_path / "words.txt"
    words.write_text("顶山街道执法\n", encoding="utf-8")
    index_paths([posts], tmp_path / "ix", jobs=1)
    with pytest.raises(AnalyzerMismatch, match="--rebuild"):
        index_paths([posts], tmp_path / "ix", userdict=str(words), jobs=1)
    report = index_paths([posts], tmp_path / "ix", userdict=str(words), rebuild=True, jobs=1)
    assert report.documents == 1
    # later runs keep the stored configuration without repeating --userdict
    assert index_paths([posts], tmp_path / "ix", jobs=1).unchanged == 1
    assert index_stats(tmp_path / "ix").analyzer["userdict_words"] == 1


def test_a_second_folder_is_added_beside_the_first(tmp_path):
    write_post(tmp_path / "one", "a.md", "title: 甲", "正文一")
    write_post(tmp_path / "two", "b.md", "title: 乙", "正文二")
    index_paths([tmp_path / "one"], tmp_path / "ix", jobs=1)
    report = index_paths([tmp_path / "two"], tmp_path / "ix", jobs=1)
    assert (report.added, report.deleted, report.documents) == (1, 0, 2)
    shutil.rmtree(tmp_path / "two")
    with pytest.raises(SearchkitError, match="no such file or folder"):
        index_paths([tmp_path / "two"], tmp_path / "ix", jobs=1)
    assert index_paths([tmp_path / "one"], tmp_path / "ix", jobs=1).documents == 2


def test_an_index_from_another_analyzer_version_asks_for_a_rebuild(tmp_path):
    from whoosh import index as whoosh_index

    from searchkit import store
    from searchkit.analysis import ANALYZER_VERSION, AnalyzerConfig
    from searchkit.errors import SearchkitError
    from searchkit.schema import build_schema

    folder = tmp_path / "ix"
    folder.mkdir()
    generation = store.new_generation(folder)
    old = AnalyzerConfig(version=ANALYZER_VERSION - 1)
    whoosh_index.create_in(str(generation), build_schema(old))
    store.make_current(folder, generation)
    with pytest.raises(SearchkitError, match="--rebuild"):
        Searcher(folder)
    posts = tmp_path / "posts"
    write_post(posts, "_posts/2023-01-01-a.md", "title: 新", "新的内容")
    with pytest.raises(SearchkitError, match="--rebuild"):
        index_paths([posts], folder)
    report = index_paths([posts], folder, rebuild=True)
    assert report.added == 1
    with Index.open(folder) as searcher:
        assert searcher.search("内容").total == 1


def test_a_failing_builder_process_fails_the_run_in_one_line(tmp_path):
    from whoosh import index as whoosh_index

    from searchkit.analysis import AnalyzerConfig
    from searchkit.errors import SearchkitError
    from searchkit.indexer import _read
    from searchkit.schema import build_schema, post_to_document
    from searchkit.walking import walk
    from searchkit.writer import Builders, shares

    def build_parallel(ix, work, to_document, read):
        with Builders(ix, len(work), to_document, read) as builders:
            builders.submit(work)
            return builders.collect()

    posts = tmp_path / "posts"
    for i in range(6):
        write_post(posts, f"_posts/2023-01-0{i + 1}-p{i}.md", f"title: 第{i}篇", "内容")
    (tmp_path / "ix").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "ix"), build_schema(AnalyzerConfig()))

    def broken(post):
        if post.path.endswith("p4.md"):
            raise OSError("disk full")
        return post_to_document(post)

    sources = list(walk([posts], []))
    with pytest.raises(SearchkitError, match="indexing failed: OSError: disk full"):
        build_parallel(ix, shares(sources, {}, 2), broken, _read)
    segments, outcomes = build_parallel(ix, shares(sources, {}, 2), post_to_document, _read)
    assert len(segments) == 2 and [o.kind for o in outcomes] == ["added"] * 6


def test_moved_mtimes_are_recorded_so_the_next_run_reads_nothing(tmp_path, monkeypatch):
    import searchkit.indexer as indexer

    posts = tmp_path / "posts"
    for i in range(5):
        write_post(posts, f"_posts/2023-01-0{i + 1}-p{i}.md", f"title: 第{i}篇", "数据中心。")
    index_paths([posts], tmp_path / "ix", jobs=1)
    for path in posts.rglob("*.md"):  # a checkout: new mtimes, the same text
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 100))
    reads = []
    real_read = indexer._read

    def counting(sources):
        for item in real_read(sources):
            reads.append(item[0].path)
            yield item

    monkeypatch.setattr(indexer, "_read", counting)
    report = index_paths([posts], tmp_path / "ix", jobs=1)
    assert report.unchanged == 5 and len(reads) == 5  # read once, to compare digests
    report = index_paths([posts], tmp_path / "ix", jobs=1)
    assert report.unchanged == 5 and len(reads) == 5  # and not again
    changed = next(posts.rglob("*.md"))
    write_post(posts, f"_posts/{changed.name}", "title: 改了", "新的内容。")
    report = index_paths([posts], tmp_path / "ix", jobs=1)
    assert report.updated == 1 and len(reads) == 6
    with Index.open(tmp_path / "ix") as searcher:
        assert searcher.search("新的内容").total == 1 and searcher.search("数据中心").total == 4


def test_the_table_of_indexed_posts_reads_as_a_mapping():
    from searchkit.known import Known

    known = Known()
    known.extend([("/a", "x.md"), ("/a", "y.md")], [10, 20], [1.5, 2.5], ["d1", "d2"])
    assert known[("/a", "y.md")] == (20, 2.5, "d2") and len(known) == 2
    assert known.same(("/a", "x.md"), 10, 1.5) and not known.same(("/a", "x.md"), 10, 1.6)
    assert not known.same(("/b", "x.md"), 10, 1.5) and known.get(("/b", "x.md")) is None
    known[("/a", "x.md")] = (11, 3.0, "d1")  # a touched post: its new mtime, the same text
    known[("", "notes/z.md")] = (5, 0.0, "d3")
    assert known[("/a", "x.md")] == (11, 3.0, "d1") and len(known) == 3
    assert known.keys() - {("/a", "y.md")} == {("/a", "x.md"), ("", "notes/z.md")}
    assert dict(known.digest_of()) == {
        ("/a", "x.md"): "d1",
        ("/a", "y.md"): "d2",
        ("", "notes/z.md"): "d3",
    }
    known.extend_root("/b", ["m.md", "n.md"], [1, 2], [1.0, 2.0], ["d4", "d5"])
    assert known[("/b", "n.md")] == (2, 2.0, "d5") and known.row(("/b", "m.md")) == 3
    assert len(known) == 5 and ("/b", "x.md") not in known


def test_a_folder_given_twice_or_with_one_of_its_files_gives_each_post_once(tmp_path):
    posts = tmp_path / "posts"
    for number in range(3):
        write_post(
            posts, f"_posts/2024-01-0{number + 1}-p{number}.md", f"title: 第{number}篇", "正文"
        )
    one = posts / "_posts" / "2024-01-01-p0.md"
    report = index_paths([posts, posts, one], tmp_path / "ix", jobs=1)
    assert (report.added, report.documents) == (3, 3)
    again = index_paths([one, posts], tmp_path / "ix", jobs=1)
    # given first on its own, the file is known by its name; the folder's id for it goes
    assert (again.added, again.deleted, again.documents) == (1, 1, 3)


def test_a_build_of_many_commits_forks_its_builders_once_and_keeps_every_post_once(
    tmp_path, monkeypatch
):
    """Builders outlive a commit: they read the next chunk while the last one is committed.
    Chunks of 100 (the last, of 50, read in this process): each post once, as one process
    would index it, and the two builders forked once for the run."""

    posts = tmp_path / "posts"
    for i in range(350):
        body = f"第{i}号文章讲的是数据中心与新能源。" + "液冷技术。" * (i % 5)
        write_post(posts, f"_posts/2023-01-01-p{i:03}.md", f"title: 文章{i}", body)
    serial = index_paths([posts], tmp_path / "a", jobs=1)
    forks = []
    fork = os.fork

    def counted():
        pid = fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", counted)
    parallel = index_paths([posts], tmp_path / "b", jobs=2, commit_every=100)
    monkeypatch.undo()
    assert len(forks) == 2
    assert serial.documents == parallel.documents == parallel.added == 350
    options = {"limit": 400}
    with Index.open(tmp_path / "a") as a, Index.open(tmp_path / "b") as b:
        for query in ("数据中心", "液冷技术", "文章7"):
            ours, theirs = a.search(query, **options), b.search(query, **options)
            assert [(h.path, round(h.score, 4)) for h in ours.hits] == [
                (h.path, round(h.score, 4)) for h in theirs.hits
            ]
        paths = [hit.path for hit in b.search("", since="1900", limit=1000).hits]
    assert sorted(paths) == sorted(set(paths)) and len(paths) == 350


@pytest.mark.skipif(
    not hasattr(os, "posix_fadvise") or not os.path.isdir("/proc/self/fd"),
    reason="needs posix_fadvise and /proc",
)
def test_the_files_handed_to_the_builders_are_read_ahead_once_each(tmp_path, monkeypatch):
    """The kernel is asked to read ahead every file given to the builders, once, and nothing
    else; the posts are indexed as without it."""
    posts = tmp_path / "posts"
    for i in range(250):
        write_post(posts, f"_posts/2023-01-01-p{i:03}.md", f"title: 文章{i}", f"第{i}号文章。")
    advised = []
    real = os.posix_fadvise

    def advise(fd, offset, length, advice):
        advised.append((os.readlink(f"/proc/self/fd/{fd}"), offset, length, advice))
        return real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", advise)
    report = index_paths([posts], tmp_path / "ix", jobs=2, commit_every=100)
    monkeypatch.undo()
    assert report.added == 250
    files = sorted(str(p.resolve()) for p in (posts / "_posts").iterdir())
    # the last chunk, of 50 files, is read in this process: not handed out, not advised
    handed = sorted(path for path, *_ in advised)
    assert handed == files[:200]
    assert {tuple(rest) for _, *rest in advised} == {(0, 0, os.POSIX_FADV_WILLNEED)}


def test_builders_do_not_read_the_table_of_contents_a_commit_replaces(tmp_path):
    """A commit writes a new table of contents and removes the old one while the builders
    read the next chunk: a builder starting its segment then must not look for it."""
    from whoosh import index as whoosh_index

    from searchkit.analysis import AnalyzerConfig
    from searchkit.indexer import _read
    from searchkit.schema import build_schema, post_to_document
    from searchkit.walking import walk
    from searchkit.writer import Builders, shares

    posts = tmp_path / "posts"
    for i in range(4):
        write_post(posts, f"_posts/2023-01-0{i + 1}-p{i}.md", f"title: 第{i}篇", "内容")
    (tmp_path / "ix").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "ix"), build_schema(AnalyzerConfig()))
    sources = list(walk([posts], []))
    with Builders(ix, 2, post_to_document, _read) as builders:
        builders.submit(shares(sources[:2], {}, 2))
        assert len(builders.collect()[0]) == 2
        for toc in (tmp_path / "ix").glob("_MAIN_*.toc"):  # as a commit would, in between
            toc.rename(toc.with_suffix(".old"))
        builders.submit(shares(sources[2:], {}, 2))
        segments, outcomes = builders.collect()
    assert len(segments) == 2 and [o.kind for o in outcomes] == ["added"] * 2


def test_builders_handed_two_rounds_return_each_round_whole_and_in_order(tmp_path):
    """Two rounds handed out before the first is collected (as the indexer does, so that the
    builders work on while a commit merges): each collect returns the oldest round's posts,
    a builder that finished a later round first holding it back; a third round waits."""
    from whoosh import index as whoosh_index

    from searchkit.analysis import AnalyzerConfig
    from searchkit.indexer import _read
    from searchkit.schema import build_schema, post_to_document
    from searchkit.walking import walk
    from searchkit.writer import Builders, shares

    posts = tmp_path / "posts"
    # the first round's first share is long, so its other builder takes the second round early
    write_post(posts, "_posts/2023-01-01-long.md", "title: 长文", "数据中心的液冷技术。" * 3000)
    for i in range(2, 6):
        write_post(posts, f"_posts/2023-01-0{i}-p{i}.md", f"title: 第{i}篇", f"第{i}篇的内容")
    (tmp_path / "ix").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "ix"), build_schema(AnalyzerConfig()))
    sources = sorted(walk([posts], []), key=lambda source: source.path)
    first, second = sources[:2], sources[2:4]
    with Builders(ix, 2, post_to_document, _read, depth=2) as builders:
        builders.submit([shares(first[:1], {}, 1)[0], shares(first[1:], {}, 1)[0]])
        builders.submit(shares(second, {}, 2))
        with pytest.raises(RuntimeError, match="2 rounds"):
            builders.submit(shares(sources[4:], {}, 1))
        rounds = [builders.collect(), builders.collect()]
        builders.submit(shares(sources[4:], {}, 1))
        rounds.append(builders.collect())
    paths = [[outcome.path for outcome in outcomes] for _, outcomes in rounds]
    assert paths == [[s.path for s in part] for part in (first, second, sources[4:])]
    assert [len(segments) for segments, _ in rounds] == [2, 2, 1]


def test_an_update_leaves_nothing_for_the_garbage_collector(tmp_path):
    """An update pauses the cyclic collector; nothing it made may then be held by a cycle
    (Whoosh kept an error whose traceback held the indexer's frames and all their data)."""
    import gc
    import types

    posts = tmp_path / "posts"
    for i in range(5):
        write_post(posts, f"_posts/2023-01-0{i + 1}-p{i}.md", f"title: 第{i}篇", "数据中心。")
    index_paths([posts], tmp_path / "ix", jobs=1)
    write_post(posts, "_posts/2023-01-01-p0.md", "title: 第0篇", "液冷技术。")
    gc.collect()
    gc.disable()
    try:
        report = index_paths([posts], tmp_path / "ix", jobs=1)
        frames = [
            obj.f_code.co_name
            for obj in gc.get_objects()
            if isinstance(obj, types.FrameType) and "searchkit" in obj.f_code.co_filename
        ]
    finally:
        gc.enable()
    assert report.updated == 1
    assert frames == []
