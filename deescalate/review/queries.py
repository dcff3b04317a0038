"""Reading recorded cases for review and saving trainers' corrections.

Cases come from the product's `cases` table; what was said comes from Rasa's
`events` table, read with plain SQLAlchemy Core (never Rasa internals), so
the same code runs on SQLite and PostgreSQL.
"""

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, List, Mapping, Optional, Sequence

from sqlalchemy import Text, and_, cast, not_, or_, select
from sqlalchemy.orm import Query, Session

from deescalate.contract import CAUSES, DOMAINS, EMOTIONS, ESCALATIONS, INTENTS
from deescalate.db.models import CASE_STATUSES, Case, Correction, utcnow
from deescalate.events import EVENTS, StoredEvent, customer_event, read_events

PER_PAGE = 25
LIKE_ESCAPE = "!"


def day_start_utc(day: dt.date) -> dt.datetime:
    """Local midnight of `day` as naive UTC, the way created_at is stored."""
    local = dt.datetime.combine(day, dt.time()).astimezone()
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def utc_to_local(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None)


def _choice(value: Optional[str], allowed: Sequence[str]) -> str:
    return value if value is not None and value in allowed else ""


# Days a filter may name: their local midnight and the day after stay representable.
EARLIEST_DAY, LATEST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)


def parse_day(value: Optional[str]) -> Optional[dt.date]:
    """An ISO day from a query value, or None when it is empty, malformed or out of range."""
    try:
        day = dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return day if day is None or EARLIEST_DAY <= day <= LATEST_DAY else None


@dataclass
class CaseFilters:
    """The filters of the review list, parsed from the query string (bad values are dropped)."""

    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None
    domain: str = ""
    cause: str = ""
    emotion_peak: str = ""
    escalation: str = ""  # "", "any", "none" or one escalation value
    taboo: str = ""  # "", "yes", "no"
    status: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> "CaseFilters":
        def get(name: str) -> str:
            value = args.get(name)
            return (value[0] if isinstance(value, list) else value or "").strip()

        try:
            page = max(1, int(get("page") or 1))
        except ValueError:
            page = 1
        return cls(
            date_from=parse_day(get("date_from")),
            date_to=parse_day(get("date_to")),
            domain=_choice(get("domain"), DOMAINS),
            cause=_choice(get("cause"), CAUSES),
            emotion_peak=_choice(get("emotion_peak"), EMOTIONS),
            escalation=_choice(get("escalation"), ("any", "none") + ESCALATIONS),
            taboo=_choice(get("taboo"), ("yes", "no")),
            status=_choice(get("status"), CASE_STATUSES),
            q=get("q")[:100],
            page=page,
        )

    def as_args(self, **changes: Any) -> Dict[str, str]:
        """Non-empty filters as query arguments, e.g. for the pager's links."""
        values = {**asdict(self), **changes}
        return {
            f.name: str(values[f.name])
            for f in fields(self)
            if values[f.name] not in (None, "") and not (f.name == "page" and values[f.name] == 1)
        }


def like_pattern(text: str) -> str:
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"


def search_condition(query: str) -> Any:
    """Cases with a customer turn containing `query`.

    Rasa stores event JSON with non-ASCII characters escaped (\\uXXXX), so the
    text is looked for both as typed and in that escaped form.
    """
    forms = {query, json.dumps(query)[1:-1]}
    matches = or_(*[EVENTS.c.data.ilike(like_pattern(form), escape=LIKE_ESCAPE) for form in forms])
    senders = select(EVENTS.c.sender_id).where(and_(EVENTS.c.type_name == "user", matches))
    return Case.case_id.in_(senders)


def _escalation_condition(value: str) -> Any:
    as_text = cast(Case.escalation, Text)
    empty = or_(Case.escalation.is_(None), as_text.in_(["[]", "null"]))
    if value == "none":
        return empty
    if value == "any":
        return not_(empty)
    return as_text.like(like_pattern(f'"{value}"'), escape=LIKE_ESCAPE)


def filtered_cases(session: Session, filters: CaseFilters) -> Query:
    query = session.query(Case)
    if filters.date_from:
        query = query.filter(Case.created_at >= day_start_utc(filters.date_from))
    if filters.date_to:
        query = query.filter(Case.created_at < day_start_utc(filters.date_to + dt.timedelta(days=1)))
    for name in ("domain", "cause", "emotion_peak", "status"):
        if getattr(filters, name):
            query = query.filter(getattr(Case, name) == getattr(filters, name))
    if filters.escalation:
        query = query.filter(_escalation_condition(filters.escalation))
    if filters.taboo == "yes":
        query = query.filter(Case.taboo_hits > 0)
    elif filters.taboo == "no":
        query = query.filter(or_(Case.taboo_hits.is_(None), Case.taboo_hits == 0))
    if filters.q:
        query = query.filter(search_condition(filters.q))
    return query


@dataclass
class CasePage:
    cases: List[Case]
    total: int
    page: int
    pages: int


def case_page(session: Session, filters: CaseFilters, per_page: int = PER_PAGE) -> CasePage:
    query = filtered_cases(session, filters)
    total = query.count()
    pages = max(1, math.ceil(total / per_page))
    page = min(filters.page, pages)
    cases = query.order_by(Case.created_at.desc(), Case.case_id).offset((page - 1) * per_page).limit(per_page).all()
    return CasePage(cases, total, page, pages)


def case_events(session: Session, case_id: str) -> List[StoredEvent]:
    """The case's user and bot events, oldest first."""
    return read_events(session, case_id)


def corrections_of_case(session: Session, case_id: str) -> Dict[int, Correction]:
    """The latest correction of each turn of the case, by event id."""
    rows = (
        session.query(Correction)
        .filter(Correction.case_id == case_id)
        .order_by(Correction.created_at, Correction.id)
        .all()
    )
    return {row.event_id: row for row in rows}


def pending_corrections(session: Session) -> int:
    return session.query(Correction).filter(Correction.exported_at.is_(None)).count()


class CorrectionError(ValueError):
    """A correction that cannot be saved, with a message for the trainer."""


def save_correction(
    session: Session, case_id: str, event_id: int, intent: str, emotion: str, trainer: str
) -> Correction:
    """Record a trainer's labels for one customer turn; the caller commits.

    A value equal to the prediction is stored as None (unchanged). A turn's
    not yet exported correction is updated in place, so re-correcting before
    the export does not write the turn twice.
    """
    event = customer_event(session, case_id, event_id)
    if event is None:
        raise CorrectionError("这条记录不是本案件的客户发言。")
    if session.get(Case, case_id) is None:
        raise CorrectionError("案件不存在。")
    if intent not in INTENTS or emotion not in EMOTIONS:
        raise CorrectionError("请从列表中选择意图和情绪。")
    parse = event.data.get("parse_data") or {}
    predicted_intent = (parse.get("intent") or {}).get("name")
    predicted_emotion = (parse.get("emotion") or {}).get("name")
    correction = (
        session.query(Correction)
        .filter(Correction.event_id == event_id, Correction.case_id == case_id, Correction.exported_at.is_(None))
        .first()
    )
    if correction is None:
        correction = Correction(case_id=case_id, event_id=event_id)
        session.add(correction)
    correction.text = event.data.get("text") or ""
    correction.predicted_intent = predicted_intent
    correction.predicted_emotion = predicted_emotion
    correction.intent = None if intent == predicted_intent else intent
    correction.emotion = None if emotion == predicted_emotion else emotion
    correction.trainer = trainer
    correction.created_at = utcnow()
    session.flush()
    return correction
