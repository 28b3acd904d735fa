"""Shared fixtures: real indexes on disk, built from the real posts in ../shared and the examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchkit.indexer import index_paths

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEED = SHARED / "corpora" / "seed"
FINEWS = SHARED / "corpora" / "finews-sample"
ZHQA = SHARED / "eval" / "zh-qa"
EXAMPLES = ROOT / "examples" / "posts"
SEED_PATH = "_posts/2022-06-09-NW202206092405998017.md"
DASH_PATH = "_posts/-202205262391921712.md"

needs_shared = pytest.mark.skipif(not SEED.is_dir(), reason="../shared is not beside the project")


@pytest.fixture(scope="session")
def news_index(tmp_path_factory) -> Path:
    """An index of the seed post plus the finews sample (101 posts)."""
    if not SEED.is_dir():
        pytest.skip("../shared is not beside the project")
    folder = tmp_path_factory.mktemp("news") / "index"
    index_paths([SEED, FINEWS], folder, jobs=1)
    return folder


@pytest.fixture(scope="session")
def examples_index(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("examples") / "index"
    index_paths([EXAMPLES], folder, jobs=1)
    return folder


def write_post(folder: Path, name: str, front: str, body: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((f"---\n{front}\n---\n{body}\n").encode(encoding))
    return path
