"""`make script-report [FROM=2026-11-01] [TO=2026-11-30]`: script effectiveness as CSV.

Writes $RESULTS_DIR/scripts.csv (default results/scripts.csv), one row per
knowledge-base line, calmest first (deescalate/learning/effectiveness.py).
The period defaults to the last 30 days, in UTC days.
"""

import argparse
import csv
import datetime as dt
import os
import sys
from pathlib import Path
from typing import List, Optional

from deescalate.cases import OUTCOMES
from deescalate.db.session import database_url, session_factory
from deescalate.kb.loader import KB_DIR, load_kb
from deescalate.learning.effectiveness import LineEffect, script_effectiveness

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = (
    ["line_id", "text", "source", "kind", "shown", "inserted", "edited", "sent"]
    + ["mean_change", "ci_low", "ci_high", "n", "cases"]
    + list(OUTCOMES)
    + ["enough_data"]
)
DEFAULT_DAYS = 30


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _number(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.3f}"


def write_csv(rows: List[LineEffect], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(
                [row.line_id, row.text, row.source, row.kind, row.shown, row.inserted, row.edited, row.sent]
                + [_number(row.mean_change), _number(row.ci_low), _number(row.ci_high), row.n, row.cases]
                + [row.outcomes[name] for name in OUTCOMES]
                + ["yes" if row.enough_data else "no"]
            )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="make script-report", description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="date_from", type=_day, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--to", dest="date_to", type=_day, help="last day, YYYY-MM-DD (UTC; default today)")
    parser.add_argument("--out", type=Path, help="CSV file (default $RESULTS_DIR/scripts.csv)")
    parser.add_argument("--url", default=None, help="database URL (default: DATABASE_URL)")
    args = parser.parse_args(argv)
    date_to = args.date_to or dt.datetime.now(dt.timezone.utc).date()
    date_from = args.date_from or date_to - dt.timedelta(days=DEFAULT_DAYS - 1)
    out = args.out or Path(os.environ.get("RESULTS_DIR") or ROOT / "results") / "scripts.csv"
    from deescalate.db.migrate import upgrade

    url = args.url or database_url()
    upgrade(url)
    with session_factory(url)() as session:
        rows = script_effectiveness(session, date_from, date_to, kb=load_kb(KB_DIR))
    write_csv(rows, out)
    used = [row for row in rows if row.sent]
    print(
        f"{date_from} to {date_to}: {len(rows)} lines, {len(used)} sent, "
        f"{sum(row.enough_data for row in rows)} with enough data -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
