"""What the agent console shows of cases: the queue, the banner, the overdue list
and one case (its turns, assist answers and editable record).

Everything is read from the database (the `cases` table, and Rasa's `events`
table through deescalate/events.py), so any number of web processes serve
the same live view. The record and its narrative come from the case owner
(deescalate/cases.py, deescalate/assist/record.py).
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple

from deescalate import events as stored
from deescalate.assist.record import build_case_record
from deescalate.cases import overdue_cases
from deescalate.db.models import Case, utcnow
from deescalate.events import StoredEvent
from deescalate.kb.labels import labels
from deescalate.web.auth import db_session

RISK_ORDER = {"high": 0, "medium": 1, "low": 2}
QUEUE_LIMIT = 200
EVENTS_PER_LOOK = 500
EVENTS_PER_RECORD = 5000


def case_summary(case: Case) -> Dict[str, Any]:
    """A case row for the queue and banner, with Chinese labels."""
    return {
        "case_id": case.case_id,
        "channel": labels.label("channels", case.channel),
        "cause": labels.label("causes", case.cause),
        "emotion": case.emotion_last or "",
        "emotion_label": labels.label("emotions", case.emotion_last),
        "risk": case.risk or "",
        "risk_label": labels.label("risks", case.risk),
        "stage": labels.label("stages", case.stage),
        "status": case.status,
        "status_label": labels.label("statuses", case.status),
        "handoff": bool(case.handoff),
        "escalation": [labels.label("escalation", e) for e in (case.escalation or [])],
        "turns": case.turns or 0,
        "first_handler": case.first_handler or "",
        "updated_at": case.updated_at.isoformat(timespec="seconds") + "Z" if case.updated_at else "",
    }


def queue_order(case: Case) -> Tuple[int, int, float]:
    """Hand-offs first, then riskiest, then most recently active."""
    updated = case.updated_at.timestamp() if case.updated_at else 0.0
    return (0 if case.handoff else 1, RISK_ORDER.get(case.risk or "", 3), -updated)


def live_cases() -> List[Dict[str, Any]]:
    with db_session() as session:
        cases = session.query(Case).filter(Case.status != "closed").limit(QUEUE_LIMIT * 5).all()
    return [case_summary(c) for c in sorted(cases, key=queue_order)[:QUEUE_LIMIT]]


def high_risk_cases() -> List[Dict[str, Any]]:
    with db_session() as session:
        cases = (
            session.query(Case)
            .filter(Case.status != "closed", Case.risk == "high")
            .order_by(Case.updated_at.desc())
            .limit(50)
            .all()
        )
    return [case_summary(c) for c in cases]


def overdue_summaries() -> List[Dict[str, Any]]:
    """The supervisor's list: cases still waiting for an answer past their reply deadline."""
    now = utcnow()
    with db_session() as session:
        cases = overdue_cases(session, now=now)[:QUEUE_LIMIT]
    return [
        {
            **case_summary(c),
            "reply_deadline": c.reply_deadline.isoformat(timespec="minutes"),
            "hours_late": round((now - c.reply_deadline).total_seconds() / 3600, 1),
        }
        for c in cases
    ]


def load_case(case_id: str) -> Optional[Case]:
    with db_session() as session:
        return session.get(Case, case_id)


def read_events(
    case_id: str, after: int = 0, limit: int = EVENTS_PER_LOOK, every_kind: bool = False
) -> List[StoredEvent]:
    """The case's stored user and bot events (or all its events) with id > after, oldest first."""
    with db_session() as session:
        return stored.read_events(session, case_id, after=after, limit=limit, every_kind=every_kind)


def items_from_events(events: Sequence[StoredEvent]) -> List[Dict[str, Any]]:
    """Transcript turns (customer, agent, bot) and assist answers, in order."""
    items: List[Dict[str, Any]] = []
    for turn in stored.timeline(events):
        if turn.speaker == "customer":
            items.append(
                {
                    "type": "turn",
                    "id": turn.event_id,
                    "who": "customer",
                    "time": turn.timestamp or 0.0,
                    "text": turn.text,
                    "emotion": turn.emotion,
                    "intent": turn.intent,
                }
            )
            continue
        if turn.assist is not None:
            items.append(
                {
                    "type": "assist",
                    "id": turn.event_id,
                    "time": turn.timestamp or 0.0,
                    "analysis": turn.assist.get("analysis") or {},
                    "suggestions": turn.assist.get("suggestions") or [],
                    "alerts": turn.assist.get("alerts") or [],
                    "knowledge": turn.assist.get("knowledge") or [],
                }
            )
        if turn.text:
            items.append(
                {
                    "type": "turn",
                    "id": turn.event_id,
                    "who": turn.speaker,
                    "time": turn.timestamp or 0.0,
                    "text": turn.text,
                    "suggestion_id": turn.suggestion_id,
                    "taboo": turn.taboo,
                }
            )
    return items


def latest_assist(items: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return next((i for i in reversed(items) if i["type"] == "assist"), None)


def drafted_narrative(case_id: str, case: Optional[Case]) -> str:
    """The case record's narrative (the same as the assist API's), or nothing before the customer spoke."""
    events = read_events(case_id, limit=EVENTS_PER_RECORD, every_kind=True)
    if not stored.turns(events, speakers=("customer",)):
        return ""
    return build_case_record(case_id, [e.data for e in events], labels, case=case)["narrative"]


def record_view(case_id: str, case: Optional[Case], items: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The editable case record; narrative pre-filled from the turns when empty."""
    assist = latest_assist(items)
    analysis = assist["analysis"] if assist else {}
    return {
        "exists": case is not None,
        "cause": (case.cause if case else None) or analysis.get("cause") or "",
        "demand_note": (case.demand_note if case else None)
        or "、".join(
            labels.label("demands", d) for d in ((case.demand if case else None) or analysis.get("demand") or [])
        ),
        "amount": case.amount if case and case.amount is not None else analysis.get("amount"),
        "approval_tier": case.approval_tier if case else None,
        "approval_role": labels.approver(case.approval_role) if case and case.approval_role else "",
        "first_handler": (case.first_handler if case else None) or "",
        "narrative": (case.narrative if case else None) or drafted_narrative(case_id, case),
        "narrative_drafted": not (case and case.narrative),
        "status": case.status if case else "open",
        "updated_at": case.updated_at.isoformat(timespec="seconds") + "Z" if case and case.updated_at else "",
    }


def case_snapshot(case_id: str) -> Dict[str, Any]:
    items = items_from_events(read_events(case_id))
    case = load_case(case_id)
    return {
        "case_id": case_id,
        "items": items,
        "record": record_view(case_id, case, items),
        "summary": case_summary(case) if case else None,
        "last_event": max((i["id"] for i in items), default=0),
    }
