"""The script-effectiveness table of the trainer dashboard: filters, sorting, chart rows."""

import dataclasses
import datetime as dt

from deescalate.learning.effectiveness import LineEffect
from deescalate.review import charts
from deescalate.review.effects import EffectFilters, chart_rows, table_rows

BASE = LineEffect(
    line_id="x",
    text="",
    source="scripts_kb/empathy.yml",
    kind="empathy",
    shown=0,
    inserted=0,
    edited=0,
    sent=0,
    mean_change=None,
    ci_low=None,
    ci_high=None,
    n=0,
    outcomes={"agreed": 0, "escalated": 0, "handed_off": 0},
    cases=0,
    enough_data=False,
)


def line(line_id: str, **fields) -> LineEffect:
    return dataclasses.replace(BASE, line_id=line_id, text=f"话术{line_id}", **fields)


ROWS = [
    line("a", shown=40, sent=25, mean_change=-1.2, ci_low=-1.5, ci_high=-0.9, n=24, enough_data=True),
    line("b", shown=30, sent=22, mean_change=0.4, ci_low=0.1, ci_high=0.7, n=21, enough_data=True),
    line("c", shown=9, sent=3, mean_change=-2.0, ci_low=-3.0, ci_high=-1.0, n=3),
    line("d", shown=5, sent=0),
    line("e"),  # never used in the period
]


def order(filters: EffectFilters) -> list:
    return [row.line_id for row in table_rows(ROWS, filters)]


def test_default_order_is_calmest_first_and_unused_lines_are_left_out():
    filters = EffectFilters.from_args({}, today=dt.date(2026, 3, 31))
    assert (filters.date_from, filters.date_to, filters.sort, filters.descending) == (
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 31),
        "change",
        False,
    )
    assert order(filters) == ["c", "a", "b", "d"]  # a line without a change comes last, whatever the order
    assert order(dataclasses.replace(filters, descending=True)) == ["b", "a", "c", "d"]
    assert order(dataclasses.replace(filters, unused=True)) == ["c", "a", "b", "d", "e"]


def test_columns_sort_both_ways_and_counts_start_with_the_most():
    filters = EffectFilters.from_args({"sort": ["sent"]}, today=dt.date(2026, 3, 31))
    assert filters.descending and order(filters) == ["a", "b", "c", "d"]
    assert filters.sort_args("sent")["dir"] == "asc"  # clicking the sorted column turns it round
    assert filters.sort_args("change") == {**filters.as_args(), "sort": "change", "dir": "asc"}
    ascending = EffectFilters.from_args(filters.sort_args("sent"), today=dt.date(2026, 3, 31))
    assert order(ascending) == ["d", "c", "b", "a"]
    assert EffectFilters.from_args({"sort": ["DROP TABLE"], "dir": ["up"]}).sort == "change"
    swapped = EffectFilters.from_args({"date_from": ["2026-03-09"], "date_to": ["2026-03-01"]})
    assert (swapped.date_from, swapped.date_to) == (dt.date(2026, 3, 1), dt.date(2026, 3, 9))


def test_chart_shows_measured_lines_with_enough_data_first():
    items = chart_rows(ROWS)
    assert [text for text, *_ in items] == ["话术a", "话术b", "话术c"]
    assert items[0][1:4] == (-1.2, -1.5, -0.9) and "n=24" in items[0][4] and "数据不足" in items[2][4]
    svg = str(charts.interval_chart(items, "情绪变化"))
    assert svg.count("<rect") == 3 and "话术a" in svg
    assert 'fill="#43a047"' in svg and 'fill="#e53935"' in svg  # calmer green, worse red
    assert "暂无数据" in str(charts.interval_chart([], "情绪变化"))
