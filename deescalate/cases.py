"""Case records that follow their conversation, and the supervisor's overdue list.

The tracker store calls `update_case` on every save with the conversation's
events as plain dicts (Rasa's `Event.as_dict()` shape) and its slots, which
action_assist keeps. Only labels, counts and times are derived here; no text
of the conversation goes into a case record. Fields a person edits
(demand_note, narrative, first_handler) are never written.
"""
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml
from sqlalchemy.orm import Session

from deescalate.assist.analysis import assist_of, emotion_peak, parse_turn
from deescalate.db.models import CHANNELS, Case, utcnow

SETTINGS_FILE = Path(__file__).resolve().with_name("cases.yml")


@dataclass(frozen=True)
class CaseSettings:
    reply_hours: Dict[str, float]
    input_channels: Dict[str, str]
    default_channel: str
    handoff_intents: frozenset
    handoff_on_high_risk_channels: frozenset
    person_statuses: frozenset
    reopen_on_customer_turn: frozenset
    pending_statuses: tuple

    @classmethod
    def from_yaml(cls, path: Path = SETTINGS_FILE) -> "CaseSettings":
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return cls(
            reply_hours={k: float(v) for k, v in data["reply_hours"].items()},
            input_channels=dict(data["input_channels"]),
            default_channel=data["default_channel"],
            handoff_intents=frozenset(data["handoff_intents"]),
            handoff_on_high_risk_channels=frozenset(data["handoff_on_high_risk_channels"]),
            person_statuses=frozenset(data["person_statuses"]),
            reopen_on_customer_turn=frozenset(data["reopen_on_customer_turn"]),
            pending_statuses=tuple(data["pending_statuses"]),
        )


_default: Dict[str, CaseSettings] = {}


def default_settings() -> CaseSettings:
    if "settings" not in _default:
        _default["settings"] = CaseSettings.from_yaml()
    return _default["settings"]


@dataclass
class Conversation:
    """What a case record is derived from: events (as dicts) and slots of one tracker.

    The last `new_count` events are the ones this save adds.
    """

    case_id: str
    events: List[Dict[str, Any]]
    new_count: int
    slots: Dict[str, Any]

    @property
    def old_events(self) -> List[Dict[str, Any]]:
        return self.events[:len(self.events) - self.new_count]

    @property
    def new_events(self) -> List[Dict[str, Any]]:
        return self.events[len(self.events) - self.new_count:]


# ---------------------------------------------------------------- reading events

def user_turns(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [e for e in events if e.get("event") == "user"]


def agent_turns(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [e for e in events
            if e.get("event") == "bot" and (e.get("metadata") or {}).get("author") == "agent"]


def assist_payloads(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The answers of action_assist, oldest first."""
    return [payload for payload in map(assist_of, events) if payload is not None]


def case_channel(users: List[Dict[str, Any]], settings: CaseSettings) -> str:
    """hotline, chat or counter, from the input channel of the latest customer turn."""
    if not users:
        return settings.default_channel
    latest = users[-1]
    channel = settings.input_channels.get(latest.get("input_channel") or "", settings.default_channel)
    if channel == "from_metadata":
        named = (latest.get("metadata") or {}).get("channel")
        channel = named if named in CHANNELS else settings.default_channel
    return channel


def _approval_for_choice(payload: Optional[Dict[str, Any]]) -> Optional[str]:
    """The chosen option an approval alert was raised for in one assist answer."""
    if not payload:
        return None
    chosen = (payload.get("analysis") or {}).get("chosen_option")
    raised = any(alert.get("kind") == "approval" for alert in payload.get("alerts") or [])
    return chosen if chosen and raised else None


def _timestamp(event: Dict[str, Any]) -> Optional[dt.datetime]:
    value = event.get("timestamp")
    if not isinstance(value, (int, float)):
        return None
    return dt.datetime.fromtimestamp(value, dt.timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- deadlines

def reply_deadline(created_at: dt.datetime, risk: Optional[str],
                   settings: Optional[CaseSettings] = None) -> dt.datetime:
    settings = settings or default_settings()
    hours = settings.reply_hours.get(risk or "unknown", settings.reply_hours["unknown"])
    return created_at + dt.timedelta(hours=hours)


def overdue_cases(session: Session, now: Optional[dt.datetime] = None,
                  settings: Optional[CaseSettings] = None) -> List[Case]:
    """Cases still waiting for an answer whose reply deadline has passed, most overdue first."""
    settings = settings or default_settings()
    now = now or utcnow()
    return (session.query(Case)
            .filter(Case.status.in_(settings.pending_statuses),
                    Case.reply_deadline.isnot(None), Case.reply_deadline < now)
            .order_by(Case.reply_deadline, Case.case_id)
            .all())


# ---------------------------------------------------------------- updating a case

def _new_status(case: Case, conversation: Conversation, settings: CaseSettings) -> str:
    status = case.status or "open"
    if user_turns(conversation.new_events) and status in settings.reopen_on_customer_turn:
        status = "in_progress"
    if status in settings.person_statuses:
        return status
    if status == "open" and agent_turns(conversation.events):
        status = "in_progress"
    before = assist_payloads(conversation.old_events)
    now = assist_payloads(conversation.new_events)
    if now:
        choice = _approval_for_choice(now[-1])
        if choice and choice != _approval_for_choice(before[-1] if before else None):
            status = "awaiting_approval"
    return status


def _asks_for_person(conversation: Conversation, channel: str, settings: CaseSettings) -> bool:
    """The customer asked for a person, or a chat turned high risk, in this save."""
    for user in user_turns(conversation.new_events):
        if parse_turn(user.get("parse_data") or {}).intent in settings.handoff_intents:
            return True
    if any(alert.get("kind") == "handoff"
           for payload in assist_payloads(conversation.new_events) for alert in payload.get("alerts") or []):
        return True
    turned_high = any(e.get("event") == "slot" and e.get("name") == "risk" and e.get("value") == "high"
                      for e in conversation.new_events)
    return turned_high and channel in settings.handoff_on_high_risk_channels


def _as_list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def update_case(session: Session, conversation: Conversation, now: Optional[dt.datetime] = None,
                settings: Optional[CaseSettings] = None) -> Optional[Case]:
    """Create or update the case of `conversation`; the caller commits.

    Nothing is recorded for a conversation without a customer or agent turn
    (Rasa saves an empty tracker when a conversation starts).
    """
    settings = settings or default_settings()
    now = now or utcnow()
    users, agents = user_turns(conversation.events), agent_turns(conversation.events)
    if not users and not agents:
        return None
    case = session.get(Case, conversation.case_id)
    if case is None:
        first = next((t for t in map(_timestamp, conversation.events) if t), None)
        case = Case(case_id=conversation.case_id, status="open", handoff=False, demand=[], escalation=[],
                    turns=0, taboo_hits=0, created_at=min(first or now, now))
        session.add(case)

    slots = conversation.slots
    payloads = assist_payloads(conversation.events)
    approval = (payloads[-1].get("analysis") or {}).get("approval") if payloads else None
    history = _as_list(slots.get("emotion_history"))

    if users:
        case.channel = case_channel(users, settings)
    case.channel = case.channel or settings.default_channel
    case.domain = slots.get("domain")
    case.cause = slots.get("cause")
    case.demand = _as_list(slots.get("demand"))
    amount = slots.get("amount")
    case.amount = float(amount) if isinstance(amount, (int, float)) and not isinstance(amount, bool) else None
    case.approval_tier = approval.get("tier") if isinstance(approval, dict) else None
    case.approval_role = approval.get("role") if isinstance(approval, dict) else None
    case.emotion_peak = emotion_peak([e for e in (slots.get("emotion_peak"), case.emotion_peak, *history) if e])
    case.emotion_last = slots.get("emotion") or (history[-1] if history else None)
    case.escalation = _as_list(slots.get("escalation"))
    case.risk = slots.get("risk")
    case.stage = slots.get("stage")
    case.turns = len(users)
    case.taboo_hits = sum(1 for agent in agents if (agent.get("metadata") or {}).get("taboo"))
    case.status = _new_status(case, conversation, settings)
    if _asks_for_person(conversation, case.channel, settings):
        case.handoff = True
    deadline = reply_deadline(case.created_at, case.risk, settings)
    if case.reply_deadline is None or deadline < case.reply_deadline:
        case.reply_deadline = deadline
    case.updated_at = now
    return case
