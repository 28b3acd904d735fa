import pickle

from hypothesis import example, given
from hypothesis import strategies as st

from searchkit.analysis import AnalyzerConfig, ChineseAnalyzer, read_userdict
from searchkit.folding import normalize


def texts(analyzer, value, mode="index"):
    return [t.text for t in analyzer(value, mode=mode)]


def test_search_mode_adds_the_words_inside_long_words():
    tokens = texts(ChineseAnalyzer(), "中华人民共和国成立")
    assert "中华人民共和国" in tokens
    assert {"中华", "人民", "共和国", "成立"} <= set(tokens)


def test_query_mode_gives_one_word_per_segment():
    assert texts(ChineseAnalyzer(), "顶山街道执法", mode="query") == ["顶山", "街道", "执法"]


def test_latin_words_and_numbers_are_tokens():
    tokens = texts(ChineseAnalyzer(), "GDP增长6.3512%，iPhone销量")
    assert {"gdp", "6.3512", "iphone"} <= set(tokens)
    assert "%" not in "".join(tokens)


def test_offsets_point_into_the_original_text():
    value = "ＧＤＰ增長，中華人民共和國"
    for token in ChineseAnalyzer()(value, chars=True, positions=True):
        original = value[token.startchar : token.endchar]
        assert normalize(original)[0] == token.text


def test_traditional_and_full_width_fold_to_simplified_half_width():
    assert normalize("ＧＤＰ與數據中心")[0] == "gdp与数据中心"


def test_length_changing_normalisation_keeps_a_map():
    text, mapping = normalize("㈱公司")
    assert text == "(株)公司"
    assert mapping == [0, 0, 0, 1, 2]


def test_stop_words_are_dropped():
    tokens = texts(ChineseAnalyzer(), "这是什么公司的产品")
    assert "什么" not in tokens and "的" not in tokens
    assert "公司" in tokens


def test_extra_words_share_the_position_of_their_word():
    tokens = ChineseAnalyzer()("中华人民共和国成立", positions=True)
    positions = {t.text: t.pos for t in tokens}  # tokens are reused: read them as they come
    assert positions["中华"] == positions["中华人民共和国"] == 0
    assert positions["成立"] == 1


def test_user_dictionary_changes_segmentation(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("顶山街道执法 10 n\n", encoding="utf-8")
    config = AnalyzerConfig(userdict=read_userdict(words))
    assert "顶山街道执法" in texts(ChineseAnalyzer(config), "顶山街道执法大队")
    assert "顶山街道执法" not in texts(ChineseAnalyzer(), "顶山街道执法大队")


def test_analyzer_pickles_with_its_configuration(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("云上顶山\n", encoding="utf-8")
    analyzer = ChineseAnalyzer(AnalyzerConfig(userdict=read_userdict(words)))
    clone = pickle.loads(pickle.dumps(analyzer))
    assert clone == analyzer
    assert clone.config.fingerprint() == analyzer.config.fingerprint()
    assert clone != ChineseAnalyzer()


@given(st.text(max_size=200))
@example("¯\u0316")  # marks put in canonical order, as NFKC of the whole text does
def test_normalisation_is_idempotent(value):
    once = normalize(value)[0]
    assert normalize(once)[0] == once


@given(st.text(max_size=200))
def test_token_offsets_stay_inside_the_text(value):
    for token in ChineseAnalyzer()(value, chars=True):
        assert 0 <= token.startchar <= token.endchar <= len(value)


def test_index_positions_match_the_analyzer_tokens():
    """The indexer's fast path gives exactly the tokens and positions of ``segment``."""
    from conftest import EXAMPLES

    from searchkit.analysis import segment, word_positions
    from searchkit.documents import SkipFile, read_post
    from searchkit.folding import normalize
    from searchkit.walking import walk

    config = AnalyzerConfig()
    texts = [
        "hfo-1234yf 6.35% a-a 北京大学生 3% _x_ 中华人民共和国的 T-92 让-皮埃尔·巴克利",
        "ＡＢＣ１２３ 繁體中文測試，數據中心的液冷技術。",
        "",
        "！？。",
    ]
    for source in walk([EXAMPLES], []):
        try:
            post = read_post(source)
        except SkipFile:
            continue
        texts += [post.title, post.body]
    assert len(texts) > 50
    for text in texts:
        norm = normalize(text)[0]
        expected: dict[str, list[int]] = {}
        for token, pos, _start, _end in segment(norm, config):
            expected.setdefault(token, []).append(pos)
        assert word_positions(norm, config) == expected, text[:40]


@given(st.text(alphabet="数据中心液冷技术北京大学生人民共和国的了-_.%6a Ｂ，。繁體", max_size=60))
def test_index_positions_match_on_any_text(text):
    from searchkit.analysis import segment, word_positions

    config = AnalyzerConfig()
    norm = normalize(text)[0]
    expected: dict[str, list[int]] = {}
    for token, pos, _start, _end in segment(norm, config):
        expected.setdefault(token, []).append(pos)
    assert word_positions(norm, config) == expected


def test_made_up_words_also_give_their_character_pairs():
    analyzer = ChineseAnalyzer()
    # the HMM glues the name to the next character in a question ...
    question = texts(analyzer, "杨昊现效力于哪里", mode="query-terms")
    assert "杨昊现" in question and "杨昊" in question
    # ... and keeps it apart in the article; dictionary words give no pairs
    article = texts(analyzer, "锦地罗（学名），又称作宽叶毛毡苔")
    assert {"锦地罗", "锦地", "地罗"} <= set(article)
    assert "华人" not in texts(analyzer, "中华人民共和国", mode="query")


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_fold_text_is_the_text_normalize_gives(text):
    from searchkit.folding import fold_text

    assert fold_text(text) == normalize(text)[0]


def test_each_step_of_the_chain():
    from searchkit.analysis import extra_token, word_tokens

    config = AnalyzerConfig()
    assert word_tokens("，", config) is None  # punctuation takes no position
    assert word_tokens("的", config) == ()  # a stop word: a position, no token
    assert word_tokens("hfo-1234yf", config) == (("hfo", 0), ("1234yf", 4))
    assert word_tokens("6.35%", config) == (("6.35", 0),)
    made_up = "杨昊现"  # not in jieba's dictionary: its pairs too, in search mode only
    assert word_tokens(made_up, config) == (("杨昊现", 0), ("杨昊", 0), ("昊现", 1))
    assert word_tokens(made_up, config, search=False) == (("杨昊现", 0),)
    assert word_tokens("数据中心", config) == (("数据中心", 0),)
    assert extra_token("数据", config, ("数据中心",))
    assert not extra_token("数据", config, ("数据", "数据中心"))  # given by its word already
    assert not extra_token("的", config, ())
    assert not extra_token("%", config, ())


def test_the_stream_of_each_word_equals_merging_search_mode_into_the_cut():
    """The index path decides each word of the default cut once (its shorter words with
    it); a word jieba's HMM made up that jieba cuts otherwise alone (艺评家) sends its text the
    merging way.  Both give the same tokens and positions."""
    from conftest import EXAMPLES

    from searchkit.analysis import _merged_stream, word_stream, word_table
    from searchkit.documents import SkipFile, read_post
    from searchkit.walking import walk

    config = AnalyzerConfig()
    texts = ["台湾的艺评家高千惠表示", "总书记首站来到霍州市，学术研究与影视作品。", "。。", ""]
    for source in walk([EXAMPLES], []):
        try:
            post = read_post(source)
        except SkipFile:
            continue
        texts.append(normalize(post.title + "\n" + post.body)[0])
    for text in texts:
        assert word_stream(text, config) == _merged_stream(text, config), text[:40]
    table = word_table(config)
    assert "艺评家" in table.unsure
    assert table.entry_tokens(table.words["总书记"]) == ["书记", "总书记"]


#: Full-width forms, the characters NFKC changes otherwise, marks that combine with what
#: precedes them, and plain Chinese: where a cheaper NFKC could go wrong.
_NFKC_MIX = st.text(
    alphabet=st.sampled_from(
        "ＡＢａｚ０９，。：（）！？　\u3000\uff5e\uff01…℃²㎝Ⅳ﹐︰\xa0ﬁ"
        "\u0301\u0308\u0327\u3099\u309a\u1100\u1161\u11a8"
        "Aae中國数据，、"
    )
    | st.characters(codec="utf-8"),
    max_size=80,
)


@given(_NFKC_MIX)
def test_the_fast_nfkc_is_nfkc(text):
    import unicodedata

    from searchkit.folding import nfkc

    assert nfkc(text) == unicodedata.normalize("NFKC", text)


def test_the_fast_nfkc_recomposes_a_mark_after_a_full_width_letter():
    from searchkit.folding import nfkc

    # Ａ is A to NFKC, and A with a combining acute is Á: the mark must not be left apart
    assert nfkc("Ａ\u0301，ｇｄｐ") == "\u00c1,gdp"
