"""The access audit trail: who viewed which case, transcript, export or dashboard.

    python -m deescalate.audit [--user NAME] [--case ID] [--action case] [--since 2026-01-01]
                               [--until 2026-02-01] [--limit 200] [--json] [--url URL]

(`make audit ARGS=...`). The web server records each view by a signed-in
user (deescalate/web/audit.py), the assist API each case record it serves.
Rows are only ever added: no web route edits or deletes them, and `make
purge` removes only rows older than the audit retention of privacy.yml
(`retention.audit_days`, longer than case data by default).
"""

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from typing import List, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from deescalate.db.models import AUDIT_ACTIONS, AccessLog
from deescalate.db.session import session_factory

MAX_ROWS = 1000


def record_access(
    username: str,
    role: str,
    action: str,
    target: Optional[str],
    address: Optional[str],
    path: Optional[str],
    url: Optional[str] = None,
) -> None:
    """Add one entry (its own transaction, so a failing view still leaves its trace)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    with session_factory(url)() as session:
        session.add(
            AccessLog(
                username=username[:64],
                role=role[:16],
                action=action,
                target=(target or "")[:256] or None,
                address=(address or "")[:64] or None,
                path=(path or "")[:512] or None,
            )
        )
        session.commit()


@dataclass
class AuditQuery:
    user: Optional[str] = None
    target: Optional[str] = None
    action: Optional[str] = None
    since: Optional[dt.date] = None
    until: Optional[dt.date] = None  # inclusive day
    limit: int = 200

    def rows(self, session: Session) -> List[AccessLog]:
        """Matching entries, newest first, at most `limit` (capped at MAX_ROWS)."""
        query = select(AccessLog)
        if self.user:
            query = query.where(AccessLog.username == self.user)
        if self.target:
            query = query.where(AccessLog.target == self.target)
        if self.action:
            query = query.where(AccessLog.action == self.action)
        if self.since:
            query = query.where(AccessLog.at >= dt.datetime.combine(self.since, dt.time()))
        if self.until:
            query = query.where(AccessLog.at < dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time()))
        limit = max(1, min(self.limit, MAX_ROWS))
        return list(session.scalars(query.order_by(AccessLog.id.desc()).limit(limit)))


def purge_access_log(connection: Connection, cutoff: dt.datetime, dry_run: bool = False) -> int:
    """Delete (or count) audit entries older than `cutoff`; the caller commits."""
    table = AccessLog.__table__
    if dry_run:
        return connection.execute(select(func.count()).select_from(table).where(table.c.at < cutoff)).scalar_one()
    return connection.execute(delete(table).where(table.c.at < cutoff)).rowcount


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deescalate.audit", description=__doc__.split("\n")[0])
    parser.add_argument("--user", help="user name")
    parser.add_argument("--case", dest="target", help="case id (or other target)")
    parser.add_argument("--action", choices=AUDIT_ACTIONS)
    parser.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (UTC)")
    parser.add_argument("--limit", type=int, default=200, help=f"newest N entries (at most {MAX_ROWS})")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--url", default=None, help="database URL (default: DATABASE_URL)")
    args = parser.parse_args(argv)
    from deescalate.db.migrate import upgrade

    upgrade(args.url)
    query = AuditQuery(args.user, args.target, args.action, args.since, args.until, args.limit)
    with session_factory(args.url)() as session:
        rows = query.rows(session)
    for row in rows:
        entry = row.as_dict()
        if args.json:
            print(json.dumps(entry, ensure_ascii=False))
        else:
            print(
                f"{entry['at']}  {entry['username']:16} {entry['role']:10} {entry['action']:10} "
                f"{entry['target'] or '-':40} {entry['address'] or '-'}"
            )
    if not args.json:
        print(f"{len(rows)} entries", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
