"""The docs stay true: every console example in the README and docs/ runs and prints what it
shows; every command and option is documented and has help; the README's Python runs.

Console examples are run by this small runner rather than a cram/prysk-style tool: they need
an index built in a temporary folder beside the shared corpora, and wildcards for times and
sizes, which a pytest fixture gives in a few lines.  In an expected line, ``...`` stands for
any text; a line that is only ``...`` for any lines.  A block preceded by
``<!-- docs-test: index zh-news -->`` runs against an index of ../shared/eval/zh-news.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from conftest import EXAMPLES, ROOT, SHARED

from searchkit.cli import cli

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
_BLOCK = re.compile(
    r"(?:<!-- docs-test: (?P<note>[^>]*?) -->\n)?```console\n(?P<body>.*?)```", re.S
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def console_blocks(path: Path) -> list[tuple[str, str]]:
    return [
        (m.group("note") or "", m.group("body")) for m in _BLOCK.finditer(path.read_text("utf-8"))
    ]


def commands(body: str) -> list[tuple[str, list[str]]]:
    """``(command, expected lines)`` of a console block."""
    out: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def matches(expected: list[str], actual: str) -> bool:
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(p) for p in line.rstrip().split("...")) + r"\n")
    lines = [line.rstrip() for line in _ANSI.sub("", actual).splitlines()]
    text = "".join(line + "\n" for line in lines)
    return re.fullmatch("".join(parts), text, re.S) is not None


@pytest.fixture(scope="session")
def news_tree(tmp_path_factory) -> Path | None:
    news = SHARED / "eval" / "zh-news" / "posts"
    if not news.is_dir():
        return None
    from searchkit.indexer import index_paths

    folder = tmp_path_factory.mktemp("docs-news") / "index"
    index_paths([news], folder, jobs=2)
    return folder


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_console_examples_print_what_they_show(path, tmp_path, news_tree):
    blocks = console_blocks(path)
    if not blocks:
        pytest.skip("no console examples")
    work = tmp_path / "work"
    work.mkdir()
    # a copy, as a checkout would have it: paths printed relative to where the examples run
    shutil.copytree(EXAMPLES.parent, work / "examples")
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED)
    env = dict(os.environ)
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", NO_COLOR="1", COLUMNS="100")
    env.pop("SEARCHKIT_INDEX", None)  # ./index, in the folder the examples run in
    for note, body in blocks:
        block_env = dict(env)
        if "index zh-news" in note:
            if news_tree is None:
                continue
            block_env["SEARCHKIT_INDEX"] = str(news_tree)
        if "../shared" in body and not SHARED.is_dir():
            continue
        for command, expected in commands(body):
            run = subprocess.run(
                ["bash", "-c", command],
                cwd=work,
                env=block_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            actual = run.stderr + run.stdout
            assert matches(expected, actual), (
                f"{path.name}: $ {command}\n--- shown\n"
                + "\n".join(expected)
                + "\n--- printed\n"
                + actual
            )


def test_the_readme_is_a_short_guide():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.encode("utf-8")) <= 10 * 1024
    assert "make run" in readme and "make test" in readme and ".venv/bin/searchkit" in readme


def test_the_readme_python_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    subprocess.run(
        [str(BIN / "searchkit"), "index", str(EXAMPLES), "--index", str(tmp_path / "index")],
        check=True,
        capture_output=True,
    )
    for _ in range(2):  # it runs again as written
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert matches(shown.splitlines(), done.stdout), done.stdout


def all_commands():
    return sorted(cli.commands.items())


@pytest.mark.parametrize(("name", "command"), all_commands(), ids=[n for n, _ in all_commands()])
def test_every_command_and_option_is_documented(name, command):
    reference = (ROOT / "docs" / "reference.md").read_text("utf-8")
    assert f"searchkit {name}" in reference, f"docs/reference.md says nothing of {name}"
    assert command.help and "Example" in command.help, f"{name} --help has no examples"
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        names = [opt for opt in param.opts + param.secondary_opts if opt.startswith("--")]
        assert param.help, f"{name} {names}: no --help text"
        assert any(opt in reference for opt in names), f"{name} {names}: not in docs/reference.md"


def test_the_api_example_runs(tmp_path):
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text("utf-8"), re.S)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "posts").symlink_to(EXAMPLES)
    done = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("32 added, 1 skipped\n")
