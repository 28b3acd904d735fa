"""The lean codec: compact positions, inline short posting lists, lengths read as a table."""

from __future__ import annotations

import pytest
from conftest import write_post
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from searchkit.engine.codec import SearchkitCodec
from searchkit.engine.postings import INLINE, INLINE_LIMIT, CompactPositions
from searchkit.indexer import index_paths
from searchkit.results import SearchOptions
from searchkit.search import Searcher
from searchkit.store import current_generation


@pytest.mark.parametrize(
    "positions",
    [[0], [7], [255], [256], [3, 4, 300], [70000], [1, 65535, 65536, 200000], list(range(500))],
)
def test_positions_round_trip(positions):
    fmt = CompactPositions()
    encoded = fmt.encode(positions)
    assert fmt.decode_positions(encoded) == positions
    assert fmt.decode_frequency(encoded) == len(positions)
    assert fmt.decode_weight(encoded) == len(positions)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.just([]),
            st.lists(st.integers(0, 300), min_size=1, max_size=6, unique=True),
            st.lists(st.integers(0, 5_000_000), min_size=1, max_size=6, unique=True),
        ),
        max_size=12,
    ),
    st.binary(max_size=5),
)
def test_many_postings_decoded_at_once_are_each_decoded_alone(positions, padding):
    """The proximity reward decodes the positions of many postings in one numpy pass; each
    is what decoding it alone gives, whatever lies between them in the buffer."""
    import numpy as np

    from searchkit.engine.postings import decode_many, decode_positions

    values = [CompactPositions().encode(sorted(found)) if found else b"" for found in positions]
    buffer, starts, stops = bytearray(), [], []
    for value in values:
        buffer += padding
        starts.append(len(buffer))
        buffer += value
        stops.append(len(buffer))
    data = np.frombuffer(bytes(buffer), dtype=np.uint8)
    counts, found = decode_many(
        data, np.array(starts, dtype=np.int64), np.array(stops, dtype=np.int64)
    )
    alone = [decode_positions(value) if value else [] for value in values]
    assert counts.tolist() == [len(each) for each in alone]
    assert found.tolist() == [pos for each in alone for pos in each]


def test_positions_are_smaller_than_whoosh_pickles():
    from whoosh.formats import Positions

    for positions in ([5], [12, 40, 41], [1000, 1500]):
        assert len(CompactPositions().encode(positions)) < len(Positions().encode(positions)) / 2


@pytest.fixture(scope="module")
def mixed_index(tmp_path_factory):
    """Words in one post (inline postings) and in many (blocks), long posts (big positions)."""
    root = tmp_path_factory.mktemp("codec")
    posts = root / "posts"
    many = INLINE_LIMIT * 20
    for i in range(many):
        # a few long posts (positions past 255, and past 65,535 in the last), the rest short
        length = 13_200 if i == many - 1 else 2_000 if i % 256 == 0 else (i % 16) * 5
        filler = "。".join(f"第{n}段普通的文字" for n in range(length))
        body = f"{filler}。常见词语出现在每一篇。独有标记{i}号在这里。数据中心液冷技术"
        write_post(posts, f"_posts/2023-01-01-p{i}.md", f"title: 常见标题 {i}", body)
    index_paths([posts], root / "ix", jobs=2)
    return root / "ix", many


def test_index_is_written_with_the_codec(mixed_index):
    folder, many = mixed_index
    ix = whoosh_index.open_dir(str(current_generation(folder)))
    with ix.reader() as reader:
        assert all(isinstance(s.codec(), SearchkitCodec) for s in ix._segments())
        assert reader.doc_count() == many


def test_rare_and_common_words_and_phrases_are_found(mixed_index):
    folder, many = mixed_index
    with Searcher(folder) as searcher:
        rare = searcher.search("独有标记37号", SearchOptions(limit=5))
        assert rare.hits[0].path == "_posts/2023-01-01-p37.md"
        common = searcher.search("常见词语", SearchOptions(limit=5))
        assert common.total == many
        phrase = searcher.search('"数据中心液冷"', SearchOptions(limit=5))
        assert phrase.total == many
        # the last post is long: its words sit at positions above 65,535
        late = searcher.search(f'"独有标记{many - 1}号"', SearchOptions(limit=5))
        assert [hit.path for hit in late.hits] == [f"_posts/2023-01-01-p{many - 1}.md"]


def _documents(fold: str | None = None):
    from conftest import EXAMPLES

    from searchkit.documents import SkipFile, read_post
    from searchkit.schema import post_to_document
    from searchkit.walking import walk

    docs = []
    for source in walk([EXAMPLES], []):
        try:
            docs.append(post_to_document(read_post(source), fold))
        except SkipFile:
            continue
    return docs


def test_posts_folded_once_give_the_terms_the_analyzer_gives_folding_them(tmp_path, monkeypatch):
    """With a sketch to make, a post's title and text are folded once, each alone, for the
    sketch and the body field; the index holds the same terms, postings and positions as
    when the analyzer folds the whole body field (traditional posts and full-width marks
    among the examples), and OpenCC does not see the body field again."""
    from searchkit import folding
    from searchkit.folding import Folded

    plain, once = _documents(), _documents(fold="t2s")
    assert all(type(doc["body"]) is Folded for doc in once)
    assert any("國" in doc["body"] or "臺" in doc["body"] for doc in plain)
    _build_segment(tmp_path / "plain", plain, streams=True)
    converter = folding._converter("t2s")
    seen: list[str] = []

    class Watched:
        def convert(self, text):
            seen.append(text)
            return converter.convert(text)

    monkeypatch.setattr(folding, "_converter", lambda _fold: Watched())
    _build_segment(tmp_path / "once", once, streams=True)
    bodies = {str(doc["body"]) for doc in once}
    assert seen and not bodies.intersection(seen)
    a, b = (whoosh_index.open_dir(str(tmp_path / name)).reader() for name in ("plain", "once"))
    terms = list(a.all_terms())
    assert terms == list(b.all_terms()) and len(terms) > 500
    for fieldname, text in terms:
        how = "positions" if fieldname in ("title", "body") else "weight"
        assert list(a.postings(fieldname, text).items_as(how)) == list(
            b.postings(fieldname, text).items_as(how)
        )


def test_segment_builder_writes_what_whoosh_writes(tmp_path):
    """The same posts through Whoosh's own writer and through SegmentBuilder: the same terms,
    postings, term statistics, lengths and stored fields."""
    from searchkit.analysis import AnalyzerConfig
    from searchkit.schema import build_schema

    docs = _documents()
    (tmp_path / "whoosh").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "whoosh"), build_schema(AnalyzerConfig()))
    writer = ix.writer(codec=SearchkitCodec())
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    _build_segment(tmp_path / "builder", docs, streams=True)
    whoosh, ours = (
        whoosh_index.open_dir(str(tmp_path / name)).reader() for name in ("whoosh", "builder")
    )
    terms = list(whoosh.all_terms())
    assert terms == list(ours.all_terms()) and len(terms) > 500
    for fieldname, text in terms:
        a, b = whoosh.term_info(fieldname, text), ours.term_info(fieldname, text)
        assert (a.weight(), a.doc_frequency(), a.min_length(), a.max_length()) == (
            b.weight(),
            b.doc_frequency(),
            b.min_length(),
            b.max_length(),
        )
        assert (a.max_weight(), a.min_id(), a.max_id()) == (b.max_weight(), b.min_id(), b.max_id())
        how = "positions" if fieldname in ("title", "body") else "weight"
        assert list(whoosh.postings(fieldname, text).items_as(how)) == list(
            ours.postings(fieldname, text).items_as(how)
        )
    for docnum in range(len(docs)):
        assert whoosh.stored_fields(docnum) == ours.stored_fields(docnum)
        assert whoosh.doc_field_length(docnum, "body") == ours.doc_field_length(docnum, "body")


def test_view_reader_reads_like_a_file():
    import io
    import pickle

    from searchkit.engine.views import _ViewReader

    data = pickle.dumps([b"abc", "数据\n中心", 3.5], 2) + b"line one\nline two\n" + b"x" * 1000
    ours, theirs = _ViewReader(memoryview(data)), io.BytesIO(data)
    assert pickle.load(ours) == pickle.load(theirs)
    assert ours.tell() == theirs.tell()
    for size in (-1, 3, 100):
        assert ours.readline(size) == theirs.readline(size)
    assert ours.read(5) == theirs.read(5)
    ours.seek(-10, 2), theirs.seek(-10, 2)
    assert ours.read() == theirs.read() and ours.read(4) == theirs.read(4) == b""
    buffer, other = bytearray(4), bytearray(4)
    ours.seek(2), theirs.seek(2)
    assert ours.readinto(buffer) == theirs.readinto(other) and buffer == other


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 50),
            st.sets(st.sampled_from([0, 2, 7, 255, 256, 3000, 70000]), min_size=1),
            st.sampled_from([0, 3, 17, 250, 4000]),
        ),
        min_size=1,
        max_size=INLINE_LIMIT + 3,
    ),
    st.integers(0, 10_000),
)
def test_a_list_is_written_alike_from_lists_and_from_arrays(postings, start):
    """A term's postings give the same entry and bytes whether a build hands them over as
    Python lists or a merge as arrays; up to INLINE_LIMIT they are kept inline, and nothing
    is written to the postings file."""
    import io

    import numpy as np

    from searchkit.engine.postings import write_arrays, write_postings

    ids = [start + 3 * i for i in range(len(postings))]
    weights, positions, lengths = (list(column) for column in zip(*postings, strict=True))
    values = [CompactPositions().encode(sorted(found)) for found in positions]
    plain, arrays = io.BytesIO(), io.BytesIO()
    sizes = np.asarray([len(v) for v in values])
    entry = write_postings(plain, ids, [float(w) for w in weights], values, lengths)
    other = write_arrays(
        arrays,
        np.asarray(ids, dtype="<u4"),
        np.asarray(weights, dtype="<f4"),
        sizes,
        b"".join(values),
        np.asarray(lengths, dtype=np.float64),
    )
    assert entry == other and plain.getvalue() == arrays.getvalue()
    assert (entry[0] == INLINE) == (len(ids) <= INLINE_LIMIT)  # the entry's kind: inline
    assert (plain.getvalue() == b"") == (len(ids) <= INLINE_LIMIT)


_INLINE_POSTINGS = st.lists(
    st.tuples(
        st.integers(1, 70_000),  # a gap between post numbers
        st.one_of(st.integers(0, 300), st.sampled_from([1.5, 0.25, 70_000.0])),  # a weight
        st.lists(st.integers(0, 100_000), max_size=4, unique=True),  # positions
        st.sampled_from([0, 1, 3, 17, 250, 4000]),  # the field's length
    ),
    min_size=1,
    max_size=INLINE_LIMIT,
)


@settings(max_examples=300, deadline=None)
@given(_INLINE_POSTINGS, st.integers(0, 2**31), st.booleans(), st.integers(0, 1000))
def test_an_inline_entry_reads_back_what_was_written(postings, first, positioned, shift):
    """A term kept inline gives back its post numbers, weights, positions and the figures
    Whoosh's scoring reads (total and best weight, shortest and longest field), and moved
    by a merge, its post numbers moved."""
    from array import array

    from whoosh.util.numeric import byte_to_length, length_to_byte

    from searchkit.engine.codec import term_info
    from searchkit.engine.postings import inline_entry, shifted_inline

    ids = [first + sum(p[0] for p in postings[:n]) for n in range(len(postings))]
    weights = [p[1] for p in postings]
    values = [
        CompactPositions().encode(sorted(p[2])) if positioned and p[2] else b"" for p in postings
    ]
    if positioned and not all(values):
        values = [v or CompactPositions().encode([0]) for v in values]
    lengths = [p[3] for p in postings]
    info = term_info(inline_entry(ids, weights, values, lengths))
    singles = list(array("f", weights))  # as W3 keeps weights
    assert info.inlined_postings() == (ids, singles, tuple(values) if positioned else ())
    assert info.doc_frequency() == len(ids) and (info.min_id(), info.max_id()) == (ids[0], ids[-1])
    assert info.weight() == array("f", [sum(singles)])[0] and info.max_weight() == max(singles)
    kept = [n for n in lengths if n]
    assert (info.min_length(), info.max_length()) == (
        byte_to_length(length_to_byte(min(kept))) if kept else 0,
        byte_to_length(length_to_byte(max(kept))) if kept else 0,
    )
    moved = term_info(shifted_inline(inline_entry(ids, weights, values, lengths), shift))
    assert moved.inlined_postings()[0] == [docnum + shift for docnum in ids]


@settings(max_examples=200, deadline=None)
@given(st.lists(_INLINE_POSTINGS, min_size=1, max_size=6), st.booleans())
def test_inline_entries_made_at_once_are_each_made_alone(terms, positioned):
    """A segment's short lists, made in one pass over its arrays, are the bytes each term's
    list gives written alone."""
    import numpy as np

    from searchkit.engine.postings import inline_entries, inline_entry

    docs, weights, values, lengths, counts, alone = [], [], [], [], [], []
    for postings in terms:
        ids = [sum(p[0] for p in postings[: n + 1]) for n in range(len(postings))]
        found = [
            CompactPositions().encode(sorted(p[2]) or [0]) if positioned else b"" for p in postings
        ]
        alone.append(inline_entry(ids, [p[1] for p in postings], found, [p[3] for p in postings]))
        docs += ids
        weights += [p[1] for p in postings]
        values += found
        lengths += [p[3] for p in postings]
        counts.append(len(postings))
    sizes = np.array([len(v) for v in values], dtype=np.int64)
    counts = np.array(counts, dtype=np.int64)
    made = inline_entries(
        np.array(docs, dtype=np.int64),
        np.array(weights, dtype=np.float64),
        sizes,
        np.cumsum(sizes) - sizes,
        np.frombuffer(b"".join(values), dtype=np.uint8),
        np.array(lengths, dtype=np.float64),
        np.cumsum(counts) - counts,
        counts,
    )
    assert made == alone


@settings(max_examples=300, deadline=None)
@given(_INLINE_POSTINGS, st.data())
def test_a_damaged_term_entry_is_refused_as_one(postings, data):
    """A term entry cut short, grown, or of bytes at random is read or refused with
    EntryError (an index not written by searchkit), never anything else."""
    from searchkit.engine.codec import term_info
    from searchkit.engine.postings import EntryError, doc_frequency, inline_entry

    ids = list(range(len(postings)))
    values = [CompactPositions().encode(sorted(p[2]) or [0]) for p in postings]
    entry = inline_entry(ids, [p[1] for p in postings], values, [p[3] for p in postings])
    cut = data.draw(st.integers(0, len(entry) - 1))
    for damaged in (entry[:cut], entry + data.draw(st.binary(min_size=1, max_size=8))):
        with pytest.raises(EntryError):
            term_info(damaged)
    anything = data.draw(st.binary(max_size=80))
    try:
        term_info(anything)
        doc_frequency(anything)
    except EntryError:
        pass


def _segment_files(folder) -> dict[str, bytes]:
    """Each file of the one segment of the index in ``folder`` by its kind, as bytes."""
    ix = whoosh_index.open_dir(str(folder))
    (segment,) = ix._segments()
    files = segment.open_compound_file(ix.storage)
    out = {}
    for name in files.list():
        kind = name.split(".", 1)[1]
        out[kind] = bytes(files.open_file(name).read(files.file_length(name)))
    return out


def _build_segment(folder, docs, streams: bool) -> None:
    from searchkit.analysis import AnalyzerConfig
    from searchkit.schema import build_schema
    from searchkit.writer import SegmentBuilder

    folder.mkdir()
    schema = build_schema(AnalyzerConfig())
    if not streams:  # each field's postings through Field.index, post by post
        for name in ("title", "body"):
            schema[name].index_stream = None
    ix = whoosh_index.create_in(str(folder), schema)
    builder = SegmentBuilder(ix)
    for doc in docs:
        builder.add_document(**doc)
    segment = builder._finalize_segment()
    writer = ix.writer(codec=SearchkitCodec())
    writer._close_segment()
    writer._commit_toc([segment])
    writer._finish()


def test_token_streams_write_the_bytes_of_a_post_by_post_build(tmp_path):
    """The postings made as arrays from each field's token stream are the bytes the posting
    by posting path writes: terms in a few posts (inline), in some (short lists), in many
    (arrays), and positions that need 1, 2 and 4 bytes."""
    from searchkit.documents import Post
    from searchkit.schema import post_to_document

    docs = _documents()
    for n in range(90):  # a word in every post: a term with more postings than a short list
        body = f"常见词语出现在第{n}篇。" + "数据中心液冷技术，" * (n % 7) + f"独有标记{n}号。"
        docs.append(
            post_to_document(Post.from_text(f"p{n}.md", f"---\ntitle: 第{n}篇\n---\n{body}"))
        )
    far = "远处的词。" + "填充文字的句子里有很多词语，" * 14_000 + "远处的词。"
    docs.append(post_to_document(Post.from_text("far.md", f"---\ntitle: 远\n---\n{far}")))
    _build_segment(tmp_path / "streams", docs, streams=True)
    _build_segment(tmp_path / "posts", docs, streams=False)
    ours, theirs = _segment_files(tmp_path / "streams"), _segment_files(tmp_path / "posts")
    assert ours.keys() == theirs.keys() and "pst" in ours and "trm" in ours
    for kind in ours:
        assert ours[kind] == theirs[kind], kind
    reader = whoosh_index.open_dir(str(tmp_path / "streams")).reader()
    [(_, far_positions)] = reader.postings("body", "远处".encode()).items_as("positions")
    assert far_positions[0] < 0x100 and far_positions[-1] - far_positions[0] >= 0x10000


def test_a_column_read_joined_is_its_values_joined(mixed_index):
    """The update reads the paths and signatures of every post as one NUL-joined copy per
    column and segment: the same bytes as the values one by one."""
    from searchkit.engine.arrays import reader_segments

    folder, _many = mixed_index
    ix = whoosh_index.open_dir(str(current_generation(folder)))
    with ix.reader() as reader:
        segments = list(reader_segments(reader))
        assert segments
        for segment in segments:
            for name in ("path", "sig"):
                values = segment.byte_values(name)
                assert segment.joined_values(name) == b"\0".join(values)
            assert segment.joined_values("no-such-column") is None


def _many_documents():
    """The example posts and 90 more: terms inline, in short lists and in arrays."""
    from searchkit.documents import Post
    from searchkit.schema import post_to_document

    docs = _documents()
    for n in range(90):
        body = f"常见词语出现在第{n}篇。" + "数据中心液冷技术，" * (n % 7) + f"独有标记{n}号。"
        docs.append(
            post_to_document(Post.from_text(f"p{n}.md", f"---\ntitle: 第{n}篇\n---\n{body}"))
        )
    return docs


def _merge_parts(folder, docs, cuts, deleted) -> None:
    """Build ``docs`` as segments cut at ``cuts``, delete the posts ``deleted``, and commit
    them merged into one."""
    from whoosh.reading import SegmentReader

    from searchkit.analysis import AnalyzerConfig
    from searchkit.schema import build_schema
    from searchkit.writer import SegmentBuilder

    folder.mkdir()
    ix = whoosh_index.create_in(str(folder), build_schema(AnalyzerConfig()))
    parts = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        builder = SegmentBuilder(ix)
        for doc in docs[start:end]:
            builder.add_document(**doc)
        parts.append(builder._finalize_segment())
    for docnum in deleted:
        part = max(n for n, start in enumerate(cuts[:-1]) if start <= docnum)
        parts[part].delete_document(docnum - cuts[part])
    builder = SegmentBuilder(ix)
    readers = [SegmentReader(ix.storage, ix.schema, part) for part in parts]
    for reader in readers:
        builder.add_segment(reader)
    merged = builder._finalize_segment()
    for reader in readers:
        reader.close()
    writer = ix.writer(codec=SearchkitCodec())
    writer._close_segment()
    writer._commit_toc([merged])
    writer._finish()


@pytest.mark.parametrize("deleted", [(), (3, 45, 46, 100)])
def test_a_merge_copying_entries_writes_the_bytes_of_one_reading_every_term(
    tmp_path, monkeypatch, deleted
):
    """Terms inline in the merged segments that hold them, without deletions, are copied as
    their entries joined, the post numbers moved: the bytes of the merge that reads and
    rewrites every term."""
    from searchkit.writer import SegmentBuilder

    docs = _many_documents()
    cuts = [0, 30, 60, 90, len(docs)]
    _merge_parts(tmp_path / "copied", docs, cuts, deleted)
    copies = []
    real = SegmentBuilder._copied_entry

    def counted(self, name, group):
        found = real(self, name, group)
        copies.append((found is not None, len(group)))
        return found

    monkeypatch.setattr(SegmentBuilder, "_copied_entry", counted)
    _merge_parts(tmp_path / "counted", docs, cuts, deleted)
    copied = [segments for done, segments in copies if done]
    assert len(copied) > 50 and len(copied) < len(copies)
    assert max(copied) > 1 or deleted  # entries of several segments joined
    monkeypatch.setattr(SegmentBuilder, "_copied_entry", lambda self, name, group: None)
    _merge_parts(tmp_path / "read", docs, cuts, deleted)
    ours, theirs = _segment_files(tmp_path / "copied"), _segment_files(tmp_path / "read")
    assert ours.keys() == theirs.keys()
    for kind in ours:
        assert ours[kind] == theirs[kind], kind
    # and the postings are those of one segment built from the posts kept, in their order
    _build_segment(tmp_path / "whole", [d for n, d in enumerate(docs) if n not in deleted], True)
    whole = _segment_files(tmp_path / "whole")
    for kind in ("trm", "pst"):
        assert ours[kind] == whole[kind], kind
