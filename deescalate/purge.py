"""Deletes case records past the retention period: `make purge`.

    python -m deescalate.purge [--dry-run] [--days N] [--audit-days N] [--url URL]

A case untouched (updated_at) for longer than the retention period of
privacy.yml goes together with its tracker events and trainers'
corrections. Conversations that never became a case (no customer or agent
turn, or recorded before case records existed) go when their latest event
is older than the cutoff. Entries of the access audit trail go only after
their own, longer retention (`retention.audit_days`); a shorter one is
refused. Rasa's `events` table is reached with plain
SQLAlchemy, as every other reader of it does.
"""

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from typing import List, Optional, Sequence

from sqlalchemy import Column, Table, delete, func, inspect, select
from sqlalchemy.engine import Connection

from deescalate.audit import purge_access_log
from deescalate.db.migrate import upgrade
from deescalate.db.models import Case, Correction, utcnow
from deescalate.db.session import database_url, get_engine
from deescalate.events import EVENTS
from deescalate.privacy_rules import PrivacySettings

BATCH = 500


@dataclass
class PurgeCounts:
    cases: int = 0
    events: int = 0
    corrections: int = 0
    conversations_without_case: int = 0
    audit_entries: int = 0


def cutoff_for(days: int, now: Optional[dt.datetime] = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=days)


def _batches(values: Sequence[str]) -> List[Sequence[str]]:
    return [values[i : i + BATCH] for i in range(0, len(values), BATCH)]


def _count_or_delete(connection: Connection, table: Table, column: Column, ids: Sequence[str], dry_run: bool) -> int:
    total = 0
    for batch in _batches(ids):
        if dry_run:
            total += connection.execute(select(func.count()).select_from(table).where(column.in_(batch))).scalar_one()
        else:
            total += connection.execute(delete(table).where(column.in_(batch))).rowcount
    return total


def _stale_conversations(connection: Connection, cutoff: dt.datetime) -> List[str]:
    """Senders with events but no case, whose latest event is older than the cutoff."""
    epoch = cutoff.replace(tzinfo=dt.timezone.utc).timestamp()
    cases = Case.__table__
    query = (
        select(EVENTS.c.sender_id)
        .where(EVENTS.c.sender_id.notin_(select(cases.c.case_id)))
        .group_by(EVENTS.c.sender_id)
        .having(func.max(EVENTS.c.timestamp) < epoch)
    )
    return [row[0] for row in connection.execute(query)]


def purge(connection: Connection, cutoff: dt.datetime, dry_run: bool = False) -> PurgeCounts:
    """Delete (or with dry_run only count) what is older than `cutoff`; the caller commits."""
    cases, corrections = Case.__table__, Correction.__table__
    old = [row[0] for row in connection.execute(select(cases.c.case_id).where(cases.c.updated_at < cutoff))]
    hasEVENTS = inspect(connection).has_table("events")
    counts = PurgeCounts()
    counts.corrections = _count_or_delete(connection, corrections, corrections.c.case_id, old, dry_run)
    if hasEVENTS:
        counts.events = _count_or_delete(connection, EVENTS, EVENTS.c.sender_id, old, dry_run)
        stale = _stale_conversations(connection, cutoff)
        counts.conversations_without_case = len(stale)
        counts.events += _count_or_delete(connection, EVENTS, EVENTS.c.sender_id, stale, dry_run)
    counts.cases = _count_or_delete(connection, cases, cases.c.case_id, old, dry_run)
    return counts


def main(argv: Optional[List[str]] = None) -> int:
    settings = PrivacySettings.from_yaml()
    parser = argparse.ArgumentParser(prog="python -m deescalate.purge", description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    parser.add_argument(
        "--days",
        type=int,
        default=settings.retention_days,
        help=f"retention in days (privacy.yml: {settings.retention_days})",
    )
    parser.add_argument(
        "--audit-days",
        type=int,
        default=settings.audit_retention_days,
        help=f"retention of the access audit trail (privacy.yml: {settings.audit_retention_days})",
    )
    parser.add_argument("--url", default=None, help="database URL (default: DATABASE_URL)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    if args.audit_days < args.days:
        parser.error("--audit-days must be at least --days: accesses are kept longer than the cases")
    url = args.url or database_url()
    upgrade(url)
    cutoff = cutoff_for(args.days)
    with get_engine(url).begin() as connection:
        counts = purge(connection, cutoff, dry_run=args.dry_run)
        counts.audit_entries = purge_access_log(connection, cutoff_for(args.audit_days), dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"retention {args.days} days: cases last updated before {cutoff:%Y-%m-%d %H:%M} UTC")
    print(f"  cases                       {verb} {counts.cases}")
    print(f"  tracker events              {verb} {counts.events}")
    print(f"  corrections                 {verb} {counts.corrections}")
    print(f"  conversations without case  {verb} {counts.conversations_without_case}")
    print(f"  access audit entries        {verb} {counts.audit_entries} (older than {args.audit_days} days)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
