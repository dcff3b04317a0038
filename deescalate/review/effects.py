"""The script-effectiveness table of the trainer dashboard: its filters, its sorting and its chart rows.

The figures come from deescalate/learning/effectiveness.py; this module only
chooses, orders and labels them for the page.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from deescalate.review.queries import parse_day

DEFAULT_DAYS = 30
CHART_LINES = 15  # lines in the chart: the measured ones, calmest first


def _change(row: Any) -> float:
    return row.mean_change


SORT_KEYS: Dict[str, Callable[[Any], Any]] = {
    "text": lambda r: r.text,
    "source": lambda r: (r.source, r.text),
    "shown": lambda r: r.shown,
    "inserted": lambda r: r.inserted,
    "edited": lambda r: r.edited,
    "sent": lambda r: r.sent,
    "change": _change,
    "n": lambda r: r.n,
    "agreed": lambda r: r.outcomes.get("agreed", 0),
    "escalated": lambda r: r.outcomes.get("escalated", 0),
    "handed_off": lambda r: r.outcomes.get("handed_off", 0),
}
# The order a column sorts in on its first click: counts most first, the emotion change calmest first.
FIRST_DESCENDING = {"shown", "inserted", "edited", "sent", "n", "agreed", "escalated", "handed_off"}


@dataclass
class EffectFilters:
    date_from: dt.date
    date_to: dt.date
    sort: str = "change"
    descending: bool = False
    unused: bool = False  # also list the lines never shown, inserted or sent in the period

    @classmethod
    def from_args(cls, args: Mapping[str, Any], today: Optional[dt.date] = None) -> "EffectFilters":
        def get(name: str) -> str:
            value = args.get(name)
            return (value[0] if isinstance(value, list) else value or "").strip()

        date_to = parse_day(get("date_to")) or today or dt.date.today()
        date_from = parse_day(get("date_from")) or date_to - dt.timedelta(days=DEFAULT_DAYS - 1)
        sort = get("sort") if get("sort") in SORT_KEYS else "change"
        direction = get("dir")
        descending = direction == "desc" if direction in ("asc", "desc") else sort in FIRST_DESCENDING
        return cls(min(date_from, date_to), max(date_from, date_to), sort, descending, get("unused") == "1")

    def as_args(self, **changes: Any) -> Dict[str, str]:
        values = {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
            "unused": "1" if self.unused else "",
            **changes,
        }
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def sort_args(self, column: str) -> Dict[str, str]:
        """The query of a column header's link: that column, in its first order, or the other order when it is sorted by it."""
        if column == self.sort:
            return self.as_args(dir="asc" if self.descending else "desc")
        return self.as_args(sort=column, dir="desc" if column in FIRST_DESCENDING else "asc")


def used(row: Any) -> bool:
    return bool(row.shown or row.inserted or row.sent)


def table_rows(rows: Sequence[Any], filters: EffectFilters) -> List[Any]:
    """The rows the table lists, in the chosen order; rows without a value in the sorted column come last."""
    chosen = [row for row in rows if filters.unused or used(row)]
    key = SORT_KEYS[filters.sort]
    valued = [row for row in chosen if key(row) is not None]
    missing = [row for row in chosen if key(row) is None]
    valued.sort(key=lambda r: r.line_id)
    valued.sort(key=key, reverse=filters.descending)
    return valued + sorted(missing, key=lambda r: (-r.sent, r.line_id))


def chart_rows(
    rows: Sequence[Any], limit: int = CHART_LINES
) -> List[Tuple[str, float, Optional[float], Optional[float], str]]:
    """(text, mean, low, high, detail) of the measured lines, those with enough data first, calmest first."""
    measured = [row for row in rows if row.mean_change is not None]
    measured.sort(key=lambda r: (not r.enough_data, r.mean_change, r.line_id))
    items = []
    for row in measured[:limit]:
        interval = f"[{row.ci_low:+.2f}, {row.ci_high:+.2f}]" if row.ci_low is not None else "区间不足"
        note = "" if row.enough_data else "，数据不足"
        items.append(
            (row.text, row.mean_change, row.ci_low, row.ci_high, f"{row.mean_change:+.2f} {interval}，n={row.n}{note}")
        )
    return items
