"""Trends over time: counts per period over every matching post, as text, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from conftest import write_post

from searchkit import Index, QueryError
from searchkit.cli import cli
from searchkit.output import trend_lines

#: (day, title): 复工 in March and April 2020 (one undated), 疫情 from January on.
POSTS = [
    ("2020-01-20", "疫情 通报"),
    ("2020-01-27", "疫情 防控"),
    ("2020-02-03", "疫情 进展"),
    ("2020-03-02", "复工 复产 疫情"),
    ("2020-03-09", "复工 加快"),
    ("2020-03-31", "复工 过半"),
    ("2020-04-01", "复工 全面"),
    (None, "复工 指南"),
]


@pytest.fixture(scope="module")
def ix(tmp_path_factory):
    root = tmp_path_factory.mktemp("trend")
    for number, (day, title) in enumerate(POSTS):
        front = f"title: {title}" + (f"\ndate: {day} 09:00:00 +0800" if day else "")
        write_post(root / "posts", f"_posts/p{number}.md", front, f"{title}的报道。")
    index = Index.create(root / "ix")
    index.update([root / "posts"])
    yield index
    index.close()


def test_counts_per_month_side_by_side(ix):
    trend = ix.trend("疫情", "复工", by="month")
    assert trend.periods == ["2020-01", "2020-02", "2020-03", "2020-04"]
    outbreak, work = trend.series
    assert outbreak.counts == [2, 1, 1, 0] and outbreak.total == 4
    assert work.counts == [0, 0, 3, 1] and (work.total, work.undated) == (5, 1)


def test_weeks_start_on_monday_and_days_and_years(ix):
    weeks = ix.trend("复工", by="week")
    assert weeks.periods[0] == "2020-03-02" and weeks.periods[-1] == "2020-03-30"
    assert weeks.series[0].counts == [1, 1, 0, 0, 2]  # 31 March and 1 April: one week
    days = ix.trend("疫情", by="day", since="2020-01-20", until="2020-01-22")
    assert days.periods == ["2020-01-20", "2020-01-21", "2020-01-22"]
    assert days.series[0].counts == [1, 0, 0] and days.series[0].total == 1
    assert ix.trend("疫情", by="year").series[0].counts == [4]


def test_the_dates_given_bound_the_periods(ix):
    trend = ix.trend("复工", by="month", since="2020-02", until="2020-05")
    assert trend.periods == ["2020-02", "2020-03", "2020-04", "2020-05"]
    assert trend.series[0].counts == [0, 3, 1, 0]
    assert trend.series[0].undated == 0  # a date filter keeps only dated posts
    with pytest.raises(QueryError, match="unknown period"):
        ix.trend("复工", by="decade")
    with pytest.raises(QueryError, match="after"):
        ix.trend("复工", since="2021", until="2020")


def test_nothing_matches_gives_no_periods(ix):
    trend = ix.trend("台风", by="month")
    assert trend.periods == [] and trend.empty


def test_the_chart_has_a_row_per_period_and_a_legend(ix):
    lines = list(trend_lines(ix.trend("疫情", "复工", by="month"), color=False, width=60))
    assert lines[0] == "█ 疫情  ▓ 复工"
    rows = lines[1:5]
    assert [row.split()[0] for row in rows] == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert rows[2].count("█") and rows[2].count("▓") and rows[2].endswith("1 · 3")
    assert abs(rows[2].count("▓") - 3 * rows[2].count("█")) <= 2  # bars scale with the counts
    assert all(len(row) <= 60 for row in rows)


def test_the_command_prints_text_json_and_csv(ix):
    runner = CliRunner()
    base = ["trend", "疫情", "复工", "--index", str(ix.folder)]
    text = runner.invoke(cli, [*base, "--no-color"])
    assert text.exit_code == 0 and "2020-03" in text.output
    data = json.loads(runner.invoke(cli, [*base, "--json"]).output)
    assert data["by"] == "month" and data["series"][1]["counts"] == [0, 0, 3, 1]
    rows = list(csv.reader(io.StringIO(runner.invoke(cli, [*base, "--csv"]).output)))
    assert rows[0] == ["period", "疫情", "复工"] and rows[3] == ["2020-03", "1", "3"]
    assert runner.invoke(cli, [*base, "--csv", "--json"]).exit_code == 2
    assert runner.invoke(cli, ["trend", "台风", "--index", str(ix.folder)]).exit_code == 1
