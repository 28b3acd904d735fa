"""The installed ``searchkit`` command, run as a subprocess like a user or a script would."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import EXAMPLES

SEARCHKIT = str(Path(sys.executable).with_name("searchkit"))


def searchkit(*args, env=None, input=None):
    return subprocess.run(
        [SEARCHKIT, *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        input=input,
        timeout=120,
    )


def test_index_then_search_as_a_subprocess(tmp_path):
    env = {**os.environ, "SEARCHKIT_INDEX": str(tmp_path / "ix")}
    built = searchkit("index", EXAMPLES, env=env)
    assert built.returncode == 0, built.stderr
    assert "skipped: _posts/2024-11-20-draft.md: published: false" in built.stderr
    found = searchkit("search", "數據中心", "--json", env=env)
    assert found.returncode == 0
    data = json.loads(found.stdout)
    assert data["total"] >= 3 and all("<mark>" in h["snippet"] for h in data["hits"])
    none = searchkit("search", "量子纠缠", env=env)
    assert none.returncode == 1 and "0 of 0 hits" in none.stdout
    bad = searchkit("search", "title:(", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_no_color_in_pipes_and_with_no_color(tmp_path):
    env = {**os.environ, "SEARCHKIT_INDEX": str(tmp_path / "ix"), "NO_COLOR": "1"}
    searchkit("index", EXAMPLES, env=env)
    result = searchkit("search", "灯会", env=env)
    assert result.returncode == 0 and "\x1b[" not in result.stdout


def test_a_search_loads_nothing_of_the_indexing_side(tmp_path):
    index = tmp_path / "ix"
    assert searchkit("index", EXAMPLES, "--index", index).returncode == 0
    script = (
        "import sys\n"
        "from searchkit.cli import cli\n"
        "try:\n"
        f"    cli(['search', '数据中心', '--index', {str(index)!r}, '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('searchkit.', 'frontmatter',"
        " 'yaml', 'starlette'))), file=sys.stderr)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert json.loads(run.stdout)["total"] >= 3
    loaded = run.stderr
    assert "searchkit.search" in loaded  # the search did run in this process...
    for heavy in ("searchkit.indexer", "searchkit.documents", "searchkit.writer", "frontmatter"):
        assert f"'{heavy}'" not in loaded, heavy  # ...without the indexing side's modules


#: What a search has no use for: what other commands use (removing trees, taking the lock,
#: reporting a crash, a terminal's width) and what Whoosh and numpy import at their start for
#: features searchkit never uses (``searchkit._lean``).
UNUSED_BY_A_SEARCH = (
    "asyncio",
    "cached_property",
    "urllib.request",
    "whoosh.lang.morph_en",
    "whoosh.lang.porter",
    "whoosh.lang.dmetaphone",
    "numpy.linalg",
    "numpy.ma",
    "numpy._typing",
    "shutil",
    "socket",
    "traceback",
)


def test_a_search_imports_nothing_it_does_not_use(examples_index):
    code = (
        "import sys\n"
        "from searchkit.cli import cli, prepare\n"
        "prepare()  # as the command starts\n"
        "try:\n"
        "    cli.main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {UNUSED_BY_A_SEARCH!r} if m in sys.modules))\n"
    )
    args = ["search", "數據中心 液冷", "--index", examples_index, "--json"]
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True
    )
    found, unused = out.stdout.rsplit("\n", 2)[:2]
    assert json.loads(found)["total"] >= 1
    assert unused == "[]"


def test_what_the_lean_imports_left_out_works_when_asked_for():
    code = (
        "from searchkit import _lean\n"
        "_lean.install()  # as the command does\n"
        "import numpy as np, whoosh.compat, whoosh.query, whoosh.analysis\n"
        "from whoosh.lang.porter import stem\n"
        "print(whoosh.compat.urlretrieve.__module__, whoosh.analysis.morph.stem('running'),\n"
        "      stem('running'), np.polyfit([0, 1, 2], [1, 3, 5], 1).round().tolist(),\n"
        "      (np.matrix([[2, 0], [0, 2]]) ** 2).tolist(), np.linalg.inv(np.eye(2)).tolist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(" ", 3)[:3] == ["searchkit._lean", "runn", "runn"]
    assert (
        out.stdout.split(" ", 3)[3].strip()
        == "[2.0, 1.0] [[4, 0], [0, 4]] [[1.0, 0.0], [0.0, 1.0]]"
    )
