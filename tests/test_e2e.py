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
