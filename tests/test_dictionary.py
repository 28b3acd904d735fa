"""A short text cut with only its own words of jieba's dictionary is cut as the whole
dictionary cuts it: checked on every sentence of the real posts."""

from __future__ import annotations

import re

import pytest
from conftest import SHARED, needs_shared

from searchkit import dictionary
from searchkit.analysis import AnalyzerConfig
from searchkit.folding import fold_text

needs_table = pytest.mark.skipif(
    dictionary.WORDS.is_file() is False, reason="the table is made by make install"
)


def sentences() -> list[str]:
    out = []
    paths = sorted((SHARED / "corpora").rglob("*.md"))
    paths += sorted((SHARED / "eval" / "zh-news" / "posts").rglob("*.md"))[:300]
    for path in paths:
        text = re.sub(r"<[^>]+>|\s+", " ", path.read_text("utf-8"))
        out.extend(s for s in re.split(r"[。！？\n]", text) if 0 < len(s) <= 200)
    return out


@needs_shared
@needs_table
def test_the_table_cuts_every_sentence_as_the_whole_dictionary():
    whole = dictionary.full()
    found = sentences()
    assert len(found) > 1000
    for sentence in found:
        folded = fold_text(sentence)
        partial = dictionary._partial(folded)
        for mode in ("default", "search"):
            assert partial.tokenize(folded, mode) == whole.tokenize(folded, mode), folded
    words = {word for s in found[:300] for word in whole.cut(fold_text(s))}
    assert any(not whole.has_word(word) for word in words)  # words the HMM made up among them
    assert all((dictionary._table().find([word]) != []) == whole.has_word(word) for word in words)


@needs_table
def test_a_query_of_a_search_process_does_not_load_the_whole_dictionary(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from searchkit.analysis import AnalyzerConfig, ChineseAnalyzer\n"
        "tokens = [t.text for t in ChineseAnalyzer(AnalyzerConfig())('數據中心液冷', mode='query')]\n"
        "print(' '.join(tokens), 'rjieba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["数据中心", "液冷", "False"]


def test_a_user_dictionary_uses_the_whole_segmenter():
    from searchkit.analysis import query_segmenter, segmenter_of

    config = AnalyzerConfig(userdict=(("液冷技术", 10, None),))
    assert query_segmenter(config, "液冷技术") is segmenter_of(config)
