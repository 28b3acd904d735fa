"""Merges: the tiered plan, and merged segments that keep every post exactly once."""

from __future__ import annotations

import shutil

import pytest
from conftest import EXAMPLES
from reference_engine import WhooshEngine
from whoosh import index as whoosh_index

from searchkit import Index
from searchkit.engine.commits import MERGE_FACTOR, merge_plan
from searchkit.indexer import index_paths
from searchkit.search import Searcher
from searchkit.store import current_generation


def test_a_full_tier_is_merged_and_a_short_one_is_not():
    assert merge_plan([(10, 10)] * (MERGE_FACTOR - 1)) == []
    assert merge_plan([(10, 10)] * MERGE_FACTOR) == [list(range(MERGE_FACTOR))]


def test_a_merge_that_fills_the_next_tier_merges_again():
    small = [(1, 1)] * MERGE_FACTOR
    middle = [(MERGE_FACTOR, MERGE_FACTOR)] * (MERGE_FACTOR - 1)
    groups = merge_plan(middle + small)
    assert groups == [list(range(len(middle) + len(small)))]


def test_a_mostly_deleted_segment_is_rewritten_and_an_empty_one_dropped():
    assert merge_plan([(1000, 1000), (40, 100), (0, 50)]) == [[1]]


def _segments(folder):
    ix = whoosh_index.open_dir(str(current_generation(folder)))
    return [(seg.doc_count(), seg.doc_count_all()) for seg in ix._segments()]


@pytest.fixture(scope="module")
def updated(tmp_path_factory):
    """The examples indexed, then changed one post at a time (a segment per run), until
    segments were merged; and the same final posts indexed in one go."""
    root = tmp_path_factory.mktemp("merge")
    posts = root / "posts"
    shutil.copytree(EXAMPLES, posts)
    folder = root / "index"
    index_paths([posts], folder, jobs=1)
    files = sorted(posts.rglob("*.md"))
    counts = []
    for i in range(MERGE_FACTOR + 3):
        changed = files[i]
        changed.write_text(changed.read_text("utf-8") + f"\n补充的内容第{i}次。\n", "utf-8")
        index_paths([posts], folder, jobs=1)
        counts.append(len(_segments(folder)))
    fresh = root / "fresh"
    index_paths([posts], fresh, jobs=1)
    return folder, fresh, counts


def test_updates_merge_their_small_segments(updated):
    folder, _, counts = updated
    assert max(counts) == MERGE_FACTOR  # the ninth segment of one post merged the tier
    assert counts[-1] < MERGE_FACTOR


def test_every_post_is_there_exactly_once(updated):
    folder, fresh, _ = updated
    with Searcher(folder) as merged, Searcher(fresh) as once:  # the segments themselves
        reader = merged.engine.whoosh_searcher.reader()
        paths = [stored["path"] for stored in merged.engine.whoosh_searcher.all_stored_fields()]
        assert len(paths) == len(set(paths)) == once.engine.whoosh_searcher.doc_count()
        assert reader.doc_count() == len(paths)
        assert sorted(paths) == sorted(
            s["path"] for s in once.engine.whoosh_searcher.all_stored_fields()
        )


@pytest.mark.parametrize("text", ["数据中心 液冷", "补充的内容", '"数据中心"', "电力 NOT 高温"])
def test_merged_index_answers_as_the_whoosh_engine_does(updated, text):
    folder, _, _ = updated
    with (
        Index.open(folder, engine=None) as arrays,
        Index.open(folder, engine=WhooshEngine) as whoosh,
    ):
        a, b = arrays.search(text, limit=20), whoosh.search(text, limit=20)
        assert a.total == b.total and [h.path for h in a.hits] == [h.path for h in b.hits]
        assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], abs=1e-4)


def test_the_changed_posts_are_found_by_their_new_words(updated):
    folder, _, _ = updated
    with Index.open(folder) as searcher:
        found = searcher.search("补充 内容", limit=50)
        assert found.total == MERGE_FACTOR + 3


def test_merged_posts_keep_their_stored_fields_lengths_and_columns(updated):
    folder, fresh, _ = updated
    with Searcher(folder) as merged, Searcher(fresh) as once:  # the segments themselves
        assert len(merged.engine.segments) < MERGE_FACTOR
        a, b = merged.engine.whoosh_searcher.reader(), once.engine.whoosh_searcher.reader()
        by_path = {s["path"]: n for n, s in enumerate(b.all_stored_fields())}
        sig_a, sig_b = a.column_reader("sig"), b.column_reader("sig")
        date_a, date_b = a.column_reader("date"), b.column_reader("date")
        for docnum in a.all_doc_ids():
            stored = a.stored_fields(docnum)
            other = by_path[stored["path"]]
            assert stored == b.stored_fields(other)
            assert sig_a[docnum] == sig_b[other] and date_a[docnum] == date_b[other]
            for field in ("title", "body", "tags", "categories"):
                assert a.doc_field_length(docnum, field) == b.doc_field_length(other, field)


@pytest.mark.parametrize(("posts", "segments"), [(13, [8, 5]), (11, [8, 1, 1, 1])])
def test_a_long_build_merges_what_it_leaves_below_its_largest_segments(tmp_path, posts, segments):
    """A post a chunk: eight segments of one are merged as a tier, and the rest of the build
    is merged into one at its end when it is half a tier or more (fewer are left alone)."""
    files = sorted((EXAMPLES / "_posts").glob("*.md"))[:posts]
    folder = tmp_path / "posts"
    folder.mkdir()
    for path in files:
        shutil.copy(path, folder / path.name)
    index_paths([folder], tmp_path / "index", jobs=1, commit_every=1)
    assert sorted(live for live, _ in _segments(tmp_path / "index"))[::-1] == segments
    with Index.open(tmp_path / "index") as ix:
        assert ix.stats().documents == posts


def test_an_update_after_a_long_build_merges_nothing_more(tmp_path):
    files = sorted((EXAMPLES / "_posts").glob("*.md"))[:14]
    folder = tmp_path / "posts"
    folder.mkdir()
    for path in files:
        shutil.copy(path, folder / path.name)
    index_paths([folder], tmp_path / "index", jobs=1, commit_every=1)
    assert sorted(live for live, _ in _segments(tmp_path / "index")) == [6, 8]
    changed = folder / files[0].name
    changed.write_text(changed.read_text("utf-8") + "\n补充的内容。\n", "utf-8")
    index_paths([folder], tmp_path / "index", jobs=1, commit_every=1)
    # the changed post left its segment for one of its own; the six stay apart from it
    assert sorted(live for live, _ in _segments(tmp_path / "index")) == [1, 6, 7]
