"""Dates as people type them in a query or an option: a day, a month or a year."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from .errors import QueryError

#: Dates as people write them: ``2023-06-01``, ``2023/6/1``, ``2023.6.1``, ``2023年6月1日``,
#: ``2023年6月``, ``2023年``, ``20230601``; the year always first, so none is ambiguous.
_DATE_FORMS = (
    re.compile(r"(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?"),
    re.compile(r"(\d{4})年(?:(\d{1,2})月(?:(\d{1,2})[日号]?)?)?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def parse_date_option(text: str, end: bool = False) -> date:
    """A day, month or year as people write it (:data:`_DATE_FORMS`); ``end`` gives the last
    day of a year or month."""
    written = nfkc_digits(text.strip())
    for form in _DATE_FORMS:
        found = form.fullmatch(written)
        if found:
            parts = [part for part in found.groups() if part is not None]
            break
    else:
        parts = []
    try:
        if len(parts) == 1:
            return date(int(parts[0]), 12, 31) if end else date(int(parts[0]), 1, 1)
        if len(parts) == 2:
            year, month = int(parts[0]), int(parts[1])
            if not end:
                return date(year, month, 1)
            following = date(year + month // 12, month % 12 + 1, 1)
            return following - timedelta(days=1)
        if len(parts) == 3:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        pass
    raise QueryError(
        f"cannot read date {text!r}; write it as 2023-06-01, 2023/6/1, 20230601, 2023年6月1日, "
        "2023-06 or 2023"
    )


def nfkc_digits(text: str) -> str:
    """Full-width digits and separators as ASCII (２０２３年６月 is 2023年6月)."""
    return unicodedata.normalize("NFKC", text)
