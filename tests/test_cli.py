import json

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, FINEWS, SEED, SEED_PATH, needs_shared

from searchkit.cli import cli

HIT_KEYS = {
    "rank",
    "score",
    "path",
    "file",
    "title",
    "date",
    "categories",
    "tags",
    "url",
    "snippet",
    "highlights",
}


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def json_lines(output: str) -> list:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@needs_shared
def test_index_json_report(tmp_path):
    result = run("index", SEED, FINEWS, "--index", tmp_path / "ix", "--json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["documents"], report["skipped"]) == (101, 101, 2)
    assert any(p["path"].startswith("_posts/-") and not p["skipped"] for p in report["problems"])
    again = json.loads(run("index", SEED, FINEWS, "--index", tmp_path / "ix", "--json").stdout)
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 101)


def test_index_text_report_names_problems(tmp_path):
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "bin.md").write_bytes(b"\x00\x00")
    (posts / "ok.md").write_text("---\ntitle: 好\n---\n正文", encoding="utf-8")
    result = run("index", posts, "--index", tmp_path / "ix")
    assert result.exit_code == 0
    assert "skipped: bin.md: binary file" in result.stderr
    assert "1 posts in" in result.stderr and "1 added" in result.stderr


@needs_shared
def test_search_json_shape(news_index):
    result = run("search", "顶山街道", "--index", news_index, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == {"query", "total", "took_ms", "hits", "missing", "counted"}
    assert data["query"] == "顶山街道" and data["total"] >= 1
    hit = data["hits"][0]
    assert set(hit) == HIT_KEYS
    assert hit["rank"] == 1 and isinstance(hit["score"], float)
    assert hit["path"] == SEED_PATH
    assert hit["date"] == "2022-06-09T00:02:35+08:00"
    assert hit["categories"] == ["nanjingchenbao"] and hit["tags"] == ["南京晨报新闻"]
    assert hit["url"].startswith("http://finews.zning.xyz/")
    plain = hit["snippet"].replace("<mark>", "").replace("</mark>", "")
    marked = [plain[a:b] for a, b in hit["highlights"]]
    assert "顶山街道" in marked or "顶山" in marked
    assert hit["snippet"].count("<mark>") == len(hit["highlights"])
    assert "顶山" in result.stdout  # non-ASCII written as is


@needs_shared
def test_search_since_drops_2021(news_index):
    data = json.loads(
        run(
            "search",
            "人民币",
            "OR",
            "顶山",
            "--index",
            news_index,
            "--json",
            "--since",
            "2022-01-01",
            "--limit",
            "50",
        ).stdout
    )
    assert [h["path"] for h in data["hits"]] == [SEED_PATH]


def test_jsonl_gives_one_hit_per_line(examples_index):
    result = run("search", "数据中心", "--index", examples_index, "--jsonl", "--limit", "3")
    hits = json_lines(result.stdout)
    assert len(hits) == 3 and all(set(h) == HIT_KEYS for h in hits)
    assert [h["rank"] for h in hits] == [1, 2, 3]


def test_exit_codes(examples_index, tmp_path):
    assert run("search", "数据中心", "--index", examples_index).exit_code == 0
    assert run("search", "量子纠缠", "--index", examples_index).exit_code == 1
    bad = run("search", "title:(", "--index", examples_index)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert len(bad.stderr.strip().splitlines()) == 1
    missing = run("search", "数据", "--index", tmp_path / "nowhere")
    assert missing.exit_code == 2 and "no index" in missing.stderr
    assert run("search", "数据", "--index", examples_index, "--sort", "size").exit_code == 2
    assert run("search", "数据", "--index", examples_index, "--since", "yesterday").exit_code == 2


def test_text_output_is_plain_when_piped(examples_index):
    result = run("search", "液冷", "--index", examples_index)
    assert "\x1b[" not in result.stdout
    assert " 1. " in result.stdout and "液冷" in result.stdout


def test_batch_answers_every_line(examples_index):
    lines = "q1\t数据中心\nq2\t量子纠缠\n灯会\nq4\ttitle:(\n"
    result = run("search", "--batch", "-", "--index", examples_index, input=lines)
    assert result.exit_code == 0
    rows = json_lines(result.stdout)
    assert [r["qid"] for r in rows] == ["q1", "q2", "3", "q4"]
    assert rows[0]["total"] >= 1 and set(rows[0]["hits"][0]) == HIT_KEYS
    assert rows[1]["total"] == 0 and rows[1]["hits"] == []
    assert "error" in rows[3]


def test_a_batch_answered_by_several_processes_is_the_same_in_the_same_order(examples_index):
    queries = [
        "数据中心",
        "量子纠缠",
        "title:(",
        "",
        "灯会 -北京",
        "液冷 机柜",
        "地铁",
        '"高温"',
    ] * 5
    lines = "".join(f"q{n}\t{q}\n" if q else "\n" for n, q in enumerate(queries))
    one = run("search", "--batch", "-", "--jobs", "1", "--index", examples_index, input=lines)
    three = run("search", "--batch", "-", "--jobs", "3", "--index", examples_index, input=lines)
    assert one.exit_code == three.exit_code == 0

    def same(rows):
        return [(r["qid"], r.get("total"), [h["path"] for h in r.get("hits", [])]) for r in rows]

    assert same(json_lines(three.stdout)) == same(json_lines(one.stdout))
    assert len(json_lines(one.stdout)) == len(queries) - 5  # blank lines give nothing


def test_stats_and_show(examples_index):
    stats = json.loads(run("stats", "--index", examples_index, "--json").stdout)
    assert {
        "documents",
        "size_bytes",
        "last_indexed",
        "categories",
        "tags",
        "years",
        "analyzer",
    } <= set(stats)
    assert stats["documents"] == len(list((EXAMPLES / "_posts").glob("*.md"))) - 1  # one draft
    assert stats["size_bytes"] > 0 and "2019" in stats["years"]
    text = run("stats", "--index", examples_index)
    assert text.exit_code == 0 and "posts in" in text.stdout
    shown = json.loads(
        run("show", "_posts/2021-07-01-data-center.md", "--index", examples_index, "--json").stdout
    )
    assert shown["title"] == "江北数据中心一期投入使用" and "液冷" in shown["text"]
    assert run("show", "nope.md", "--index", examples_index).exit_code == 2


@pytest.mark.parametrize("command", ["index", "search", "stats", "show", "similar"])
def test_every_command_has_help_with_examples(command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout


def test_facets_count_the_whole_result_set(examples_index):
    data = json.loads(
        run(
            "search", "数据中心", "--index", examples_index, "--json", "--facets", "--limit", "1"
        ).stdout
    )
    facets = data["facets"]
    assert set(facets) == {"categories", "tags", "years"}
    assert len(data["hits"]) == 1
    assert sum(facets["years"].values()) == data["total"]
    assert facets["categories"]["technology"] >= 3
    text = run("search", "数据中心", "--index", examples_index, "--facets")
    assert "categories: technology" in text.stdout


def test_similar_lists_other_posts_and_its_terms(examples_index):
    path = "_posts/2021-07-01-data-center.md"
    result = run("similar", path, "--index", examples_index, "--json", "--limit", "5")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["terms"] and all(t["weight"] > 0 for t in data["terms"])
    paths = [h["path"] for h in data["hits"]]
    assert path not in paths and len(paths) == len(set(paths)) <= 5
    assert "数据中心" in [t["term"] for t in data["terms"]]
    assert {"_posts/2024-03-05-hk-data-centre.md", "_posts/2023-12-01-data-center-green.md"} <= set(
        paths[:3]
    )
    assert run("similar", "missing.md", "--index", examples_index).exit_code == 2


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and "searchkit" in result.stdout


def test_show_marks_the_query_words(examples_index):
    path = "_posts/2021-07-01-data-center.md"
    data = json.loads(run("show", path, "--index", examples_index, "--json", "-q", "液冷").stdout)
    assert data["highlights"] and all(data["text"][a:b] == "液冷" for a, b in data["highlights"])


def test_pager_only_when_asked(examples_index):
    paged = run("search", "液冷", "--index", examples_index, "--pager")
    assert paged.exit_code == 0 and "液冷" in paged.stdout


def test_similar_and_show_in_text(examples_index):
    path = "_posts/2021-07-01-data-center.md"
    similar = run("similar", path, "--index", examples_index, "--limit", "3")
    assert similar.exit_code == 0
    assert similar.stdout.startswith("terms: ") and " 1. " in similar.stdout
    shown = run("show", path, "--index", examples_index, "-q", "液冷")
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[0] == "江北数据中心一期投入使用" and lines[1].startswith(
        "2021-07-01T10:30:00+08:00"
    )
    assert "\x1b[" not in shown.stdout and "液冷技术" in shown.stdout
