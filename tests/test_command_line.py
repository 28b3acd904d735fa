"""The command line as people and scripts use it: no silent typos, contradictions refused,
errors in one line, paths that open, dates as written."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from searchkit import Index
from searchkit.cli import cli

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))


def run(index: Path, *args: str):
    return CliRunner().invoke(cli, [*args[:1], "--index", str(index), *args[1:]])


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(
    "args, named, nearest",
    [
        (["search", "数据中心", "--sicne", "2023", "-c"], "--sicne", "--since"),
        (["search", "数据中心", "--limt", "3", "--json"], "--limt", "--limit"),
        (["search", "数据中心", "--jsn"], "--jsn", "--json"),
        (["search", "数据中心", "-x"], "-x", None),
        (["search", "数据中心", "--colour"], "--colour", "--no-color"),
        (["trend", "数据中心", "--bye", "year"], "--bye", "--by"),
    ],
)
def test_a_mistyped_option_is_an_error_naming_the_nearest(examples_index, args, named, nearest):
    result = run(examples_index, *args)
    assert result.exit_code == 2
    (line,) = lines(result.output)
    assert f"no such option {named}" in line
    assert (f"did you mean {nearest}?" in line) if nearest else "did you mean" not in line


def test_a_negated_chinese_word_and_a_word_after_two_dashes_are_words(examples_index):
    everything = run(examples_index, "search", "数据中心", "-c")
    without = run(examples_index, "search", "数据中心", "-香港", "-c")
    assert everything.exit_code == without.exit_code == 0
    assert 0 < int(without.output) < int(everything.output)
    dashed = run(examples_index, "search", "-c", "--", "-香港")  # every post without 香港
    assert dashed.exit_code == 0 and int(dashed.output) > int(without.output)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "数据中心", "--all", "--any"],
        ["search", "数据中心", "--json", "-c"],
        ["search", "数据中心", "--json", "-l"],
        ["search", "数据中心", "--jsonl", "-c"],
        ["search", "数据中心", "-c", "-l"],
        ["trend", "数据中心", "--json", "--csv"],
    ],
)
def test_contradictory_options_are_refused_in_one_line(examples_index, args):
    result = run(examples_index, *args)
    assert result.exit_code == 2
    (line,) = lines(result.output)
    assert "not both" in line


def test_usage_errors_are_one_line_and_help_is_unchanged(examples_index):
    for args in (["search", "数据中心", "--limit", "x"], ["serch", "x"], ["search"]):
        result = subprocess.run(
            [SEARCHKIT, *args, "--index", str(examples_index)], capture_output=True, text=True
        )
        assert result.returncode == 2
        assert len(lines(result.stderr)) == 1 and "--help" in result.stderr, result.stderr
        assert "Usage:" not in result.stderr
    shown = subprocess.run([SEARCHKIT, "search", "--help"], capture_output=True, text=True)
    assert shown.returncode == 0 and "Usage: searchkit search" in shown.stdout


def test_a_minus_word_is_the_same_query_as_not_word(examples_index):
    ix = Index.open(examples_index)
    for positive in ("数据中心 ", ""):
        minus = ix.search(f"{positive}-香港", limit=100)
        negated = ix.search(f"{positive}NOT 香港", limit=100)
        assert minus.total == negated.total > 0
        assert [(h.path, h.score) for h in minus.hits] == [(h.path, h.score) for h in negated.hits]
    # a negation alone lists the posts newest first, as filters alone do
    dates = [h.date or "" for h in ix.search("-香港", limit=100).hits]
    dated = [d for d in dates if d]
    assert dated == sorted(dated, reverse=True)
    # the ranking of the rest is that of the words alone
    plain = [h.path for h in ix.search("数据中心", limit=100).hits]
    kept = [h.path for h in ix.search("数据中心 -香港", limit=100).hits]
    assert kept == [path for path in plain if path in set(kept)]


def test_listed_paths_open_from_where_you_stand(examples_index, tmp_path):
    here = subprocess.run(
        [SEARCHKIT, "search", "数据中心", "-l", "--index", str(examples_index)],
        capture_output=True,
        text=True,
        cwd=EXAMPLES,
    )
    elsewhere = subprocess.run(
        [SEARCHKIT, "search", "数据中心", "-l", "--index", str(examples_index)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert here.returncode == elsewhere.returncode == 0
    inside, outside = here.stdout.split(), elsewhere.stdout.split()
    assert len(inside) == len(outside) > 0
    for path in inside:  # below the folder: relative, and it opens from there
        assert not os.path.isabs(path) and (EXAMPLES / path).is_file()
    for path in outside:  # elsewhere: absolute
        assert os.path.isabs(path) and Path(path).is_file()


def test_json_hits_carry_the_file_and_show_takes_any_path(examples_index, tmp_path):
    data = json.loads(run(examples_index, "search", "数据中心", "--json", "--limit", "1").output)
    hit = data["hits"][0]
    assert Path(hit["file"]).is_file() and hit["file"].endswith(hit["path"])
    relative = os.path.relpath(hit["file"], tmp_path)
    for given in (hit["path"], hit["file"]):
        shown = run(examples_index, "show", given, "--json")
        assert shown.exit_code == 0 and json.loads(shown.output)["path"] == hit["path"]
        assert run(examples_index, "similar", given).exit_code in (0, 1)
    shown = subprocess.run(
        [SEARCHKIT, "show", relative, "--json", "--index", str(examples_index)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert shown.returncode == 0 and json.loads(shown.stdout)["path"] == hit["path"]
    missing = run(examples_index, "show", str(tmp_path / "nothing.md"))
    assert missing.exit_code == 2 and len(lines(missing.output)) == 1


def test_a_query_that_is_not_utf8_is_said(examples_index):
    result = subprocess.run(
        [SEARCHKIT.encode(), b"search", "数据".encode() + b"\xff", b"--index"]
        + [str(examples_index).encode()],
        capture_output=True,
    )
    assert result.returncode == 2
    stderr = result.stderr.decode("utf-8", "replace")
    assert "not UTF-8" in stderr and "iconv" in stderr and "Traceback" not in stderr
    assert len(lines(stderr)) == 1


@pytest.mark.parametrize(
    "written", ["2023-06-01", "2023/06/01", "2023/6/1", "20230601", "2023年6月1日", "2023.6.1"]
)
def test_dates_as_people_write_them(examples_index, written):
    expected = run(examples_index, "search", "--since", "2023-06-01", "-c").output
    assert run(examples_index, "search", "--since", written, "-c").output == expected
    ranged = run(examples_index, "search", f"date:[{written} TO 2030]", "-c")
    assert ranged.output == expected


def test_a_month_as_people_write_it_and_ambiguous_dates_refused(examples_index):
    month = run(examples_index, "search", "--since", "2023年6月", "--until", "2023年12月", "-c")
    assert month.output == run(examples_index, "search", "date:[2023-06 TO 2023-12]", "-c").output
    for written in ("06/01/2023", "2023/13/01", "202306", "next week"):
        result = run(examples_index, "search", "--since", written, "-c")
        assert result.exit_code == 2 and "cannot read date" in result.output


def test_serve_says_a_taken_port_before_serving(examples_index):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = subprocess.run(
            [SEARCHKIT, "serve", "--index", str(examples_index), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        taken.close()
    assert result.returncode == 2
    assert lines(result.stderr) == [
        f"Error: port {port} on 127.0.0.1 is taken (another server?); choose another with --port"
    ]
