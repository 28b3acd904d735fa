"""Trends: how many posts match each query per day, week, month or year.

Counts are over every post a query matches, not its first page: the engine gives the
matching posts' numbers, the date column their moments, and numpy buckets them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from .errors import QueryError

#: The periods a trend counts by.
PERIODS = ("day", "week", "month", "year")
#: The most periods one trend counts: 27 years by the day, 190 by the week.  Posts dated
#: 1000-01-01 and 9999-12-31 would otherwise make 3.3 million days.
MAX_PERIODS = 10_000
_DAY_US = 86_400_000_000
#: 1970-01-01 in the date column's units (microseconds since year 1).
_EPOCH_US = (date(1970, 1, 1) - date(1, 1, 1)).days * _DAY_US


@dataclass
class Series:
    """One query's counts, one per period of its :class:`Trend`."""

    query: str
    counts: list[int]
    total: int  # posts matched, with a date or not
    undated: int  # of which without a date (in no period)


@dataclass
class Trend:
    """Posts matching each query per period; ``periods`` are labels (``2024-05-06`` for a
    day or the Monday of a week, ``2024-05`` for a month, ``2024`` for a year)."""

    by: str
    periods: list[str]
    series: list[Series] = field(default_factory=list)
    took_ms: float = 0.0

    @property
    def empty(self) -> bool:
        return not any(s.total for s in self.series)


def period_numbers(moments: np.ndarray, by: str) -> np.ndarray:
    """Each moment's period as a number (days, Mondays, months or years since 1970)."""
    days = (moments - _EPOCH_US) // _DAY_US
    if by == "day":
        return days
    if by == "week":  # 1970-01-01 was a Thursday: back to each day's Monday
        return days - (days + 3) % 7
    unit = "M" if by == "month" else "Y"
    return days.astype("datetime64[D]").astype(f"datetime64[{unit}]").astype(np.int64)


def period_label(number: int, by: str) -> str:
    if by in ("day", "week"):
        return str(np.datetime64(int(number), "D"))
    return str(np.datetime64(int(number), "M" if by == "month" else "Y"))


def day_period(day: date, by: str) -> int:
    """The period number of a calendar day."""
    moment = np.array([(day - date(1, 1, 1)).days * _DAY_US], dtype=np.int64)
    return int(period_numbers(moment, by)[0])


def make_trend(
    queries: list[str],
    moments: list[np.ndarray],
    by: str,
    since: date | None = None,
    until: date | None = None,
) -> Trend:
    """Count ``moments`` (one array per query, -1 for a post without a date) per period,
    from ``since`` (or the first post's period) to ``until`` (or the last one's)."""
    numbers = [period_numbers(m[m >= 0], by) for m in moments]
    known = [n for n in numbers if len(n)]
    first = day_period(since, by) if since else min((int(n.min()) for n in known), default=None)
    last = day_period(until, by) if until else max((int(n.max()) for n in known), default=None)
    step = 7 if by == "week" else 1  # a week's number is its Monday's day
    if first is None or last is None or last < first:
        periods: list[str] = []
        first, last = 0, -1
    else:
        count = (last - first) // step + 1
        if count > MAX_PERIODS:
            raise QueryError(
                f"{count:,} {by}s from {period_label(first, by)} to {period_label(last, by)}: "
                f"a trend has at most {MAX_PERIODS:,} periods; count by a longer period "
                "(--by month, --by year) or narrow it with --since and --until"
            )
        periods = [period_label(p, by) for p in range(first, last + 1, step)]
    trend = Trend(by, periods)
    for query, found, nums in zip(queries, moments, numbers, strict=True):
        inside = (nums[(nums >= first) & (nums <= last)] - first) // step
        counts = np.bincount(inside, minlength=len(periods)) if len(periods) else np.zeros(0)
        trend.series.append(
            Series(query, [int(c) for c in counts], int(len(found)), int((found < 0).sum()))
        )
    return trend
