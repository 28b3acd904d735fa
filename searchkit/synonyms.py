"""Names that mean the same: groups of words, a query word of a group also finding the posts
that hold any other word of it (美联储 and 联邦储备委员会, 新冠 and COVID-19).

The groups are the shipped list (``synonyms.txt``) or a user's file given to ``index
--synonyms FILE`` (kept in the index folder as ``SYNONYMS.txt``; ``--synonyms none`` keeps an
empty one, switching the list off).  They are applied to queries only, so changing them needs
no rebuild; ``search --exact`` searches only what was typed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .errors import SearchkitError
from .folding import fold_text

SHIPPED = Path(__file__).resolve().parent / "synonyms.txt"
KEPT = "SYNONYMS.txt"
#: The most bytes of a synonyms file, and words of a group.
MAX_BYTES = 4 * 1024 * 1024
MAX_GROUP = 50


def parse(text: str, fold: str = "t2s", where: str = "synonyms") -> dict[str, tuple[str, ...]]:
    """``word -> its group`` (every word of the group, folded, the word itself first) of a
    file of ``a, b, c`` lines (``#`` starts a comment)."""
    groups: dict[str, tuple[str, ...]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = [" ".join(fold_text(w, fold).split()) for w in line.replace("，", ",").split(",")]
        words = list(dict.fromkeys(w for w in words if w))
        if len(words) > MAX_GROUP:
            raise SearchkitError(
                f"{where}:{number}: a group of {len(words)} words (at most {MAX_GROUP})"
            )
        if len(words) < 2:
            continue
        for word in words:
            groups[word] = (word, *(other for other in words if other != word))
    return groups


def read_file(path: str | Path) -> str:
    """A user's synonyms file, checked: UTF-8 text of bounded size."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SearchkitError(f"cannot read synonyms {path}: {exc.strerror}") from exc
    if len(data) > MAX_BYTES:
        raise SearchkitError(f"synonyms {path} is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SearchkitError(f"synonyms {path} is not UTF-8 text") from exc
    parse(text, where=str(path))  # a bad line is said before the index is touched
    return text


def for_index(folder: Path, fold: str) -> dict[str, tuple[str, ...]]:
    """The groups an index's queries use: its own file, else the shipped list."""
    kept = Path(folder) / KEPT
    try:
        if kept.is_file() and not kept.is_symlink():
            from .store import read_small

            return _parsed(read_small(kept, MAX_BYTES).decode("utf-8", "replace"), fold)
    except OSError:
        pass
    return _shipped(fold)


@lru_cache(maxsize=4)
def _parsed(text: str, fold: str) -> dict[str, tuple[str, ...]]:
    try:
        return parse(text, fold)
    except SearchkitError:
        return {}


@lru_cache(maxsize=2)
def _shipped(fold: str) -> dict[str, tuple[str, ...]]:
    return parse(SHIPPED.read_text("utf-8"), fold)
