"""The README's Python example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import EXAMPLES, ROOT


def test_the_python_api_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "posts").symlink_to(EXAMPLES)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "32 added, 1 skipped"
    assert lines[1].startswith("1 ") and "_posts/" in lines[1]
    assert "[" in lines[2] and "]" in lines[2]
    assert any(line.startswith("32 posts; 江北数据中心一期投入使用") for line in lines)
    assert any(line.startswith("like it:") for line in lines)
    assert (
        "['2019', '2020', '2021', '2022', '2023', '2024'] [[2, 0, 1, 2, 2, 1], [0, 0, 0, 1, 2, 2]]"
        in lines
    )
    assert "0 groups of near-duplicates; 0 folded" in lines
