"""The case: every rule that writes or derives a case record lives here.

The tracker store calls `update_case` on every save with the conversation's
events as plain dicts (Rasa's `Event.as_dict()` shape) and its slots, which
action_assist keeps. Only labels, counts and times are derived here; no text
of the conversation goes into a case row. A person's edits (console) go
through `save_person_edit`; automatic updates never overwrite demand_note or
narrative, set first_handler only while it is empty, and keep the statuses
only a person sets (cases.yml `person_statuses`). `case_record` is the record
the assist API (`GET /case`) and the console show: the case row, its turns
and one narrative.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional

import yaml
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deescalate import events as stored
from deescalate.assist.analysis import emotion_peak, parse_turn
from deescalate.contract import CAUSES
from deescalate.db.models import CASE_STATUSES, CHANNELS, Case, utcnow
from deescalate.events import Turn

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
    agreed_statuses: frozenset = frozenset()
    agreed_stages: frozenset = frozenset()

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
            agreed_statuses=frozenset(data["outcomes"]["agreed_statuses"]),
            agreed_stages=frozenset(data["outcomes"]["agreed_stages"]),
        )


_default: Dict[str, CaseSettings] = {}


def default_settings() -> CaseSettings:
    if "settings" not in _default:
        _default["settings"] = CaseSettings.from_yaml()
    return _default["settings"]


@dataclass
class Conversation:
    """What a case record is derived from: events (as dicts) and slots of one tracker.

    The last `new_count` events are the ones this save adds. `recount` asks
    for every turn to be counted again (an earlier update of the row failed).
    """

    case_id: str
    events: List[Dict[str, Any]]
    new_count: int
    slots: Dict[str, Any]
    recount: bool = False

    @property
    def old_events(self) -> List[Dict[str, Any]]:
        return self.events[: len(self.events) - self.new_count]

    @property
    def new_events(self) -> List[Dict[str, Any]]:
        return self.events[len(self.events) - self.new_count :]


# ---------------------------------------------------------------- derivations


def user_turns(events: Iterable[Dict[str, Any]]) -> List[Turn]:
    return stored.turns(events, speakers=("customer",))


def agent_turns(events: Iterable[Dict[str, Any]]) -> List[Turn]:
    return stored.turns(events, speakers=("agent",))


def case_channel(users: List[Turn], settings: CaseSettings) -> str:
    """hotline, chat or counter, from the input channel of the latest customer turn (cases.yml)."""
    if not users:
        return settings.default_channel
    latest = users[-1]
    channel = settings.input_channels.get(latest.input_channel or "", settings.default_channel)
    if channel == "from_metadata":
        named = latest.metadata.get("channel")
        channel = named if named in CHANNELS else settings.default_channel
    return channel


def taboo_hits(agents: Iterable[Turn]) -> int:
    """Taboo phrases found in the agents' turns, each phrase of each turn counted once."""
    return sum(len(agent.taboo) for agent in agents)


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


OUTCOMES = ("agreed", "escalated", "handed_off")


def case_outcomes(case: Case, settings: Optional[CaseSettings] = None) -> List[str]:
    """The outcomes of a case record (OUTCOMES; cases.yml `outcomes`): closed in agreement,
    escalated, handed off. A case may have none or several."""
    settings = settings or default_settings()
    found = []
    if case.status in settings.agreed_statuses and case.stage in settings.agreed_stages:
        found.append("agreed")
    if case.escalation:
        found.append("escalated")
    if case.handoff:
        found.append("handed_off")
    return found


# ---------------------------------------------------------------- deadlines


def reply_deadline(
    created_at: dt.datetime, risk: Optional[str], settings: Optional[CaseSettings] = None
) -> dt.datetime:
    settings = settings or default_settings()
    hours = settings.reply_hours.get(risk or "unknown", settings.reply_hours["unknown"])
    return created_at + dt.timedelta(hours=hours)


def overdue_cases(
    session: Session, now: Optional[dt.datetime] = None, settings: Optional[CaseSettings] = None
) -> List[Case]:
    """Cases still waiting for an answer whose reply deadline has passed, most overdue first."""
    settings = settings or default_settings()
    now = now or utcnow()
    return (
        session.query(Case)
        .filter(Case.status.in_(settings.pending_statuses), Case.reply_deadline.isnot(None), Case.reply_deadline < now)
        .order_by(Case.reply_deadline, Case.case_id)
        .all()
    )


# ---------------------------------------------------------------- updating a case


def _new_status(case: Case, conversation: Conversation, settings: CaseSettings) -> str:
    status = case.status or "open"
    if user_turns(conversation.new_events) and status in settings.reopen_on_customer_turn:
        status = "in_progress"
    if status in settings.person_statuses:
        return status
    if status == "open" and agent_turns(conversation.new_events):
        status = "in_progress"
    now = stored.latest_assist_payload(conversation.new_events)
    if now:
        choice = _approval_for_choice(now)
        if choice and choice != _approval_for_choice(stored.latest_assist_payload(conversation.old_events)):
            status = "awaiting_approval"
    return status


def _asks_for_person(conversation: Conversation, channel: str, settings: CaseSettings) -> bool:
    """The customer asked for a person, or a chat turned high risk, in this save."""
    for user in user_turns(conversation.new_events):
        if parse_turn(user.parse).intent in settings.handoff_intents:
            return True
    if any(
        alert.get("kind") == "handoff"
        for payload in stored.assist_payloads(conversation.new_events)
        for alert in payload.get("alerts") or []
    ):
        return True
    turned_high = any(
        e.get("event") == "slot" and e.get("name") == "risk" and e.get("value") == "high"
        for e in conversation.new_events
    )
    return turned_high and channel in settings.handoff_on_high_risk_channels


def _as_list(value: Any) -> List[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def update_case(
    session: Session,
    conversation: Conversation,
    now: Optional[dt.datetime] = None,
    settings: Optional[CaseSettings] = None,
) -> Optional[Case]:
    """Create or update the case of `conversation`; the caller commits.

    Nothing is recorded for a conversation without a customer or agent turn
    (Rasa saves an empty tracker when a conversation starts).
    """
    settings = settings or default_settings()
    now = now or utcnow()
    case = session.get(Case, conversation.case_id)
    if case is None:
        spoken = stored.turns(conversation.events)
        if not spoken:
            return None
        case = new_case(conversation.case_id, conversation.events, now)
        session.add(case)
    elif conversation.recount:
        spoken = stored.turns(conversation.events)
        case.turns, case.taboo_hits = 0, 0
    else:
        spoken = stored.turns(conversation.new_events)  # the row already counts the earlier turns
    apply_conversation(case, conversation, spoken, now, settings)
    return case


def new_case(case_id: str, events: List[Dict[str, Any]], now: dt.datetime) -> Case:
    first = next((t for t in map(_timestamp, events) if t), None)
    return Case(
        case_id=case_id,
        status="open",
        handoff=False,
        demand=[],
        escalation=[],
        turns=0,
        taboo_hits=0,
        created_at=min(first or now, now),
    )


def apply_conversation(
    case: Case, conversation: Conversation, spoken: List[Turn], now: dt.datetime, settings: CaseSettings
) -> None:
    """Every derived field of the case row, from the turns it has not counted yet, the latest answer and the slots.

    `spoken` holds the customer and agent turns the row does not count yet
    (all of them for a new row), so a save late in a long call reads its own
    events and the latest assist answer, not the whole call again."""
    users = [t for t in spoken if t.speaker == "customer"]
    agents = [t for t in spoken if t.speaker == "agent"]
    slots = conversation.slots
    latest = stored.latest_assist_payload(conversation.events)
    approval = (latest.get("analysis") or {}).get("approval") if latest else None
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
    case.turns = (case.turns or 0) + len(users)
    case.taboo_hits = (case.taboo_hits or 0) + taboo_hits(agents)
    if not case.first_handler:
        case.first_handler = next((a.agent for a in agents if a.agent), None)
    case.status = _new_status(case, conversation, settings)
    if _asks_for_person(conversation, case.channel, settings):
        case.handoff = True
    deadline = reply_deadline(case.created_at, case.risk, settings)
    if case.reply_deadline is None or deadline < case.reply_deadline:
        case.reply_deadline = deadline
    case.updated_at = now


def derived_case(
    case_id: str,
    events: List[Dict[str, Any]],
    slots: Optional[Dict[str, Any]] = None,
    settings: Optional[CaseSettings] = None,
) -> Case:
    """The case row the tracker store would have written for these events, not stored anywhere.

    For a case whose row cannot be read (a tracker store without the case table)."""
    settings = settings or default_settings()
    last = max((t for t in map(_timestamp, events) if t), default=None)
    now = last or utcnow()
    case = new_case(case_id, events, now)
    conversation = Conversation(
        case_id, list(events), len(events), slots if slots is not None else stored.slots(events)
    )
    apply_conversation(case, conversation, stored.turns(events), now, settings)
    return case


# ---------------------------------------------------------------- a person's edits

MAX_FIELD = {"demand_note": 2000, "narrative": 5000, "first_handler": 64}


def _clean_text(value: Any, name: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} 必须是文字")
    value = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
    if len(value) > MAX_FIELD[name]:
        raise ValueError(f"{name} 太长（最多 {MAX_FIELD[name]} 字）")
    return value or None


def _clean_amount(value: Any) -> Optional[float]:
    if value in (None, ""):
        return None
    try:
        amount = float(str(value).replace(",", "").replace("，", ""))
    except ValueError:
        raise ValueError("金额必须是数字") from None
    if not 0 <= amount <= 1e12:
        raise ValueError("金额超出范围")
    return amount


def record_changes(
    body: Dict[str, Any], approval: Callable[[Optional[float]], Optional[Dict[str, Any]]]
) -> Dict[str, Any]:
    """The validated fields of a person's record edit; raises ValueError with a Chinese message.

    `approval` gives the approval tier of an amount (the knowledge base's approval.yml)."""
    changes: Dict[str, Any] = {}
    if "cause" in body:
        cause = body.get("cause") or None
        if cause is not None and cause not in CAUSES:
            raise ValueError("未知的投诉原因")
        changes["cause"] = cause
    for name in ("demand_note", "narrative", "first_handler"):
        if name in body:
            changes[name] = _clean_text(body.get(name), name)
    if "amount" in body:
        changes["amount"] = _clean_amount(body.get("amount"))
        tier = approval(changes["amount"])
        changes["approval_tier"] = tier["tier"] if tier else None
        changes["approval_role"] = tier["role"] if tier else None
    if "status" in body:
        if body.get("status") not in CASE_STATUSES:
            raise ValueError("未知的案件状态")
        changes["status"] = body["status"]
    return changes


def save_person_edit(
    session_scope: Callable[[], Any], case_id: str, changes: Dict[str, Any], settings: Optional[CaseSettings] = None
) -> Case:
    """Apply a person's edit; the case row is created if the tracker store has not made it yet.

    `session_scope` opens a session (a context manager); a row created by the
    tracker store at the same moment makes the edit apply again to that row."""
    settings = settings or default_settings()
    for _attempt in range(2):
        with session_scope() as session:
            case = session.get(Case, case_id)
            if case is None:
                case = Case(case_id=case_id, channel=settings.default_channel, status="open", demand=[], escalation=[])
                session.add(case)
            for key, value in changes.items():
                setattr(case, key, value)
            try:
                session.commit()
                return case
            except IntegrityError:
                session.rollback()
    raise RuntimeError("could not save the case record")
