"""The trainers' labelling queue: recorded customer turns, those a label would teach the model most first.

A turn is queued for the reasons it shows (weights and thresholds in
queue.yml, the score explained in docs/learning.md):

- `fallback`: Rasa fell back (nlu_fallback);
- `low_confidence`: the lower of the intent's and the cause's confidence is
  under the threshold;
- `cause_differs`: the case record names a cause and the turn's predicted
  cause intent is another one;
- `emotion_jump`: the emotion moved several levels since the case's previous
  customer turn.

Its score is the sum of the weighted reasons; a turn without a reason, a
turn already labelled (any correction, exported or not) and a turn of a
conversation without a case record (which cannot take a correction) are not
queued. Labels are saved with `save_correction`, so they export as every
other correction.
"""

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml
from sqlalchemy.orm import Session

from deescalate.assist.analysis import EMOTION_LEVEL, FALLBACK_INTENT, parse_turn
from deescalate.contract import CAUSES, EMOTIONS, INTENTS
from deescalate.db.models import Case, Correction
from deescalate.events import StoredEvent, customer_event, customer_events_between
from deescalate.privacy import mask
from deescalate.review.queries import CorrectionError, day_start_utc, parse_day, save_correction

SETTINGS_FILE = Path(__file__).resolve().with_name("queue.yml")
REASONS = ("fallback", "low_confidence", "cause_differs", "emotion_jump")
FIELDS = ("intent", "emotion", "both")
TOP_LEVEL = len(EMOTIONS) - 1


@dataclass(frozen=True)
class QueueSettings:
    weights: Dict[str, float]
    low_confidence: float
    emotion_jump: int
    max_turns: int
    per_page: int
    intent_buttons: int

    @classmethod
    def from_yaml(cls, path: Path = SETTINGS_FILE) -> "QueueSettings":
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        weights = {str(k): float(v) for k, v in (data.get("weights") or {}).items()}
        unknown = set(weights) - set(REASONS)
        if unknown or any(w < 0 for w in weights.values()):
            raise ValueError(f"{path}: weights must be non-negative and among {REASONS}, got {sorted(weights)}")
        settings = cls(
            weights={reason: weights.get(reason, 0.0) for reason in REASONS},
            low_confidence=float(data["low_confidence"]),
            emotion_jump=int(data["emotion_jump"]),
            max_turns=int(data["max_turns"]),
            per_page=int(data["per_page"]),
            intent_buttons=int(data["intent_buttons"]),
        )
        if not 0 < settings.low_confidence <= 1 or not 1 <= settings.emotion_jump <= TOP_LEVEL:
            raise ValueError(f"{path}: low_confidence must be in (0, 1] and emotion_jump in 1..{TOP_LEVEL}")
        if min(settings.max_turns, settings.per_page, settings.intent_buttons) < 1:
            raise ValueError(f"{path}: max_turns, per_page and intent_buttons must be positive")
        return settings


@lru_cache(maxsize=1)
def default_settings() -> QueueSettings:
    return QueueSettings.from_yaml()


@dataclass(frozen=True)
class Reason:
    """Why a turn is queued: its kind, its share of the score, and what was seen."""

    kind: str
    points: float
    detail: Dict[str, Any] = field(default_factory=dict)


@dataclass
class QueuedTurn:
    case_id: str
    event_id: int
    text: str
    timestamp: float
    intent: str  # Rasa's intent as stored (nlu_fallback under a fallback)
    guess: str  # the best intent behind a fallback, else the intent
    intent_confidence: float
    cause: Optional[str]
    cause_confidence: Optional[float]
    emotion: Optional[str]
    emotion_confidence: float
    case_cause: Optional[str]
    reasons: List[Reason]
    intent_choices: List[str]

    @property
    def score(self) -> float:
        return turn_score(self.reasons)


def turn_score(reasons: List[Reason]) -> float:
    return round(sum(reason.points for reason in reasons), 4)


def turn_reasons(
    parse: Mapping[str, Any], previous_emotion: Optional[str], case_cause: Optional[str], settings: QueueSettings
) -> List[Reason]:
    """The reasons a customer turn with this stored parse is worth labelling, by the settings' weights."""
    parsed = parse_turn(dict(parse))
    weights = settings.weights
    reasons: List[Reason] = []
    if (parse.get("intent") or {}).get("name") == FALLBACK_INTENT:
        reasons.append(Reason("fallback", weights["fallback"]))
    confidences = {"intent": parsed.confidence}
    if parsed.cause_ranking and isinstance(parse.get("cause"), dict):
        confidences["cause"] = parsed.cause_ranking[0][1]
    which, lowest = min(confidences.items(), key=lambda item: item[1])
    if lowest < settings.low_confidence:
        share = (settings.low_confidence - lowest) / settings.low_confidence
        reasons.append(Reason("low_confidence", weights["low_confidence"] * share, {"of": which, "confidence": lowest}))
    if case_cause in CAUSES and parsed.intent in CAUSES and parsed.intent != case_cause:
        reasons.append(Reason("cause_differs", weights["cause_differs"], {"case": case_cause, "turn": parsed.intent}))
    emotion = (parse.get("emotion") or {}).get("name")
    if emotion in EMOTION_LEVEL and previous_emotion in EMOTION_LEVEL:
        levels = abs(EMOTION_LEVEL[emotion] - EMOTION_LEVEL[str(previous_emotion)])
        if levels >= settings.emotion_jump:
            points = weights["emotion_jump"] * levels / TOP_LEVEL
            reasons.append(Reason("emotion_jump", points, {"from": previous_emotion, "to": emotion, "levels": levels}))
    return [reason for reason in reasons if reason.points > 0]


def _intent_choices(parse: Mapping[str, Any], guess: str, case_cause: Optional[str], count: int) -> List[str]:
    """The intents offered as one-click buttons: the model's guess, the case's cause, then the runners-up."""
    names = [guess, case_cause]
    names += [c.get("name") for c in parse.get("intent_ranking") or [] if isinstance(c, dict)]
    cause = parse.get("cause")
    if isinstance(cause, dict):
        names += [c.get("name") for c in cause.get("ranking") or [] if isinstance(c, dict)]
    return [name for name in dict.fromkeys(names) if name in INTENTS][:count]


def queued_turn(
    case_id: str,
    event: StoredEvent,
    previous_emotion: Optional[str],
    case_cause: Optional[str],
    settings: QueueSettings,
) -> Optional[QueuedTurn]:
    """The turn as the queue shows it, or None when it shows no reason."""
    parse = event.data.get("parse_data") or {}
    if not isinstance(parse, dict):
        return None
    reasons = turn_reasons(parse, previous_emotion, case_cause, settings)
    if not reasons:
        return None
    parsed = parse_turn(parse)
    found = parse.get("cause")
    cause: Dict[str, Any] = found if isinstance(found, dict) else {}
    return QueuedTurn(
        case_id=case_id,
        event_id=event.id,
        text=mask(str(event.data.get("text") or "")),
        timestamp=event.timestamp,
        intent=str((parse.get("intent") or {}).get("name") or FALLBACK_INTENT),
        guess=parsed.intent,
        intent_confidence=parsed.confidence,
        cause=cause.get("name"),
        cause_confidence=cause.get("confidence"),
        emotion=(parse.get("emotion") or {}).get("name"),
        emotion_confidence=parsed.emotion_confidence,
        case_cause=case_cause,
        reasons=reasons,
        intent_choices=_intent_choices(parse, parsed.intent, case_cause, settings.intent_buttons),
    )


# ---------------------------------------------------------------- the page


@dataclass
class QueueFilters:
    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> "QueueFilters":
        def get(name: str) -> str:
            value = args.get(name)
            return (value[0] if isinstance(value, list) else value or "").strip()

        page = get("page")
        return cls(
            parse_day(get("date_from")),
            parse_day(get("date_to")),
            max(1, int(page)) if page.isascii() and page.isdigit() and len(page) < 9 else 1,
        )

    def as_args(self, **changes: Any) -> Dict[str, str]:
        values = {"date_from": self.date_from, "date_to": self.date_to, "page": self.page, **changes}
        return {k: str(v) for k, v in values.items() if v not in (None, "") and not (k == "page" and v == 1)}

    def bounds(self) -> Tuple[Optional[float], Optional[float]]:
        """The filters' days as epoch seconds: local midnight of date_from, local midnight after date_to."""

        def epoch(day: dt.date) -> float:
            return day_start_utc(day).replace(tzinfo=dt.timezone.utc).timestamp()

        since = epoch(self.date_from) if self.date_from else None
        until = epoch(self.date_to + dt.timedelta(days=1)) if self.date_to else None
        return since, until


@dataclass
class QueuePage:
    turns: List[QueuedTurn]
    total: int
    page: int
    pages: int
    scanned: int
    truncated: bool  # more turns in the dates than max_turns: only the newest were looked at


def queue_page(session: Session, filters: QueueFilters, settings: Optional[QueueSettings] = None) -> QueuePage:
    """One page of the queue over the filters' dates, highest score first (then newest)."""
    settings = settings or default_settings()
    rows = customer_events_between(session, *filters.bounds(), limit=settings.max_turns + 1)
    truncated = len(rows) > settings.max_turns
    rows = rows[-settings.max_turns :]
    case_ids = sorted({case_id for case_id, _ in rows})
    causes: Dict[str, Optional[str]] = {}
    labelled: set = set()
    for start in range(0, len(case_ids), 500):  # keep each IN list small
        chunk = case_ids[start : start + 500]
        causes.update(session.query(Case.case_id, Case.cause).filter(Case.case_id.in_(chunk)).all())
        labelled.update(
            (c, e)
            for c, e in session.query(Correction.case_id, Correction.event_id).filter(Correction.case_id.in_(chunk))
        )
    queued: List[QueuedTurn] = []
    previous: Dict[str, Optional[str]] = {}
    for case_id, event in rows:
        emotion = ((event.data.get("parse_data") or {}).get("emotion") or {}).get("name")
        before, previous[case_id] = previous.get(case_id), emotion
        if case_id not in causes or (case_id, event.id) in labelled:
            continue
        turn = queued_turn(case_id, event, before, causes[case_id], settings)
        if turn is not None:
            queued.append(turn)
    queued.sort(key=lambda t: (-t.score, -t.timestamp, -t.event_id))
    pages = max(1, math.ceil(len(queued) / settings.per_page))
    page = min(filters.page, pages)
    shown = queued[(page - 1) * settings.per_page : page * settings.per_page]
    return QueuePage(shown, len(queued), page, pages, len(rows), truncated)


def label_turn(session: Session, case_id: str, event_id: int, which: str, value: str, trainer: str) -> Correction:
    """Save one click of the queue: `which` field set to `value`, the other kept as the model predicted.

    `which` is `intent`, `emotion`, or `both` (the prediction confirmed as
    it stands; `value` is ignored). The caller commits.
    """
    if which not in FIELDS:
        raise CorrectionError("无效的标注字段。")
    event = customer_event(session, case_id, event_id)
    if event is None:
        raise CorrectionError("这条记录不是本案件的客户发言。")
    parse = event.data.get("parse_data") or {}
    intent = str((parse.get("intent") or {}).get("name") or "")
    emotion = str((parse.get("emotion") or {}).get("name") or "")
    if which == "intent":
        intent = value
    elif which == "emotion":
        emotion = value
    if intent not in INTENTS:
        raise CorrectionError("模型没有给出可用的意图（兜底），请先点选正确意图。")
    if emotion not in EMOTIONS:
        raise CorrectionError("模型没有给出情绪，请先点选正确情绪。")
    return save_correction(session, case_id, event_id, intent, emotion, trainer)
