"""What one parsed customer utterance says, in the contract's terms."""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from deescalate.contract import CAUSES, DEMANDS, EMOTIONS, ESCALATIONS

FALLBACK_INTENT = "nlu_fallback"
EMOTION_LEVEL = {name: level for level, name in enumerate(EMOTIONS)}


@dataclass
class ParsedTurn:
    """The parts of Rasa's parse output the assist logic uses."""

    text: str
    intent: str
    confidence: float
    low_confidence: bool
    emotion: str
    emotion_confidence: float
    escalations: List[str] = field(default_factory=list)
    demands: List[str] = field(default_factory=list)
    amount: Optional[int] = None
    product: Optional[str] = None
    # What the complaint is about in this turn, whatever the dialogue act: the
    # parse's `cause` ranking (or, from a model without one, the cause intent).
    cause_ranking: List[Tuple[str, float]] = field(default_factory=list)
    secondary_cause: Optional[Dict[str, Any]] = None

    @property
    def is_cause(self) -> bool:
        return self.intent in CAUSES

    def cause_summary(self) -> Optional[Dict[str, Any]]:
        """The turn's cause as the contract's `{name, confidence, ranking}` (plus `secondary`)."""
        if not self.cause_ranking:
            return None
        name, confidence = self.cause_ranking[0]
        return {
            "name": name,
            "confidence": confidence,
            "ranking": [{"name": n, "confidence": c} for n, c in self.cause_ranking],
            "secondary": self.secondary_cause,
        }


def _unique(values: List[str]) -> List[str]:
    return list(dict.fromkeys(values))


def _best_real_intent(parse: Dict[str, Any]) -> Dict[str, Any]:
    """Rasa's intent, or under a fallback the best guess behind it."""
    intent = parse.get("intent") or {}
    if intent.get("name") != FALLBACK_INTENT:
        return intent
    for candidate in parse.get("intent_ranking") or []:
        if candidate.get("name") != FALLBACK_INTENT:
            return candidate
    return {"name": FALLBACK_INTENT, "confidence": intent.get("confidence", 0.0)}


def _cause_ranking(parse: Dict[str, Any], intent: Dict[str, Any]) -> List[Tuple[str, float]]:
    cause = parse.get("cause")
    if isinstance(cause, dict) and isinstance(cause.get("ranking"), list):
        ranking = [
            (str(c.get("name")), round(float(c.get("confidence") or 0.0), 4))
            for c in cause["ranking"]
            if isinstance(c, dict) and c.get("name") in CAUSES
        ]
        if ranking:
            return ranking
    if intent.get("name") in CAUSES:
        return [(intent["name"], round(float(intent.get("confidence") or 0.0), 4))]
    return []


def parse_turn(parse: Dict[str, Any]) -> ParsedTurn:
    """Read a Rasa parse result (as stored in the tracker) into a ParsedTurn."""
    intent = _best_real_intent(parse)
    emotion = parse.get("emotion") or {}
    entities = parse.get("entities") or []
    amounts = [e.get("value") for e in entities if e.get("entity") == "amount"]
    amounts = [int(v) for v in amounts if isinstance(v, (int, float)) or str(v).isdigit()]
    products = [str(e.get("value")) for e in entities if e.get("entity") == "product" and e.get("value")]
    emotion_name = str(emotion["name"]) if emotion.get("name") in EMOTIONS else "calm"
    return ParsedTurn(
        text=parse.get("text") or "",
        intent=intent.get("name") or FALLBACK_INTENT,
        confidence=round(float(intent.get("confidence") or 0.0), 4),
        low_confidence=(parse.get("intent") or {}).get("name") == FALLBACK_INTENT,
        emotion=emotion_name,
        emotion_confidence=round(float(emotion.get("confidence") or 0.0), 4),
        escalations=_unique(
            [e["value"] for e in entities if e.get("entity") == "escalation" and e.get("value") in ESCALATIONS]
        ),
        demands=_unique([e["value"] for e in entities if e.get("entity") == "demand" and e.get("value") in DEMANDS]),
        amount=max(amounts) if amounts else None,
        product=products[0] if products else None,
        cause_ranking=_cause_ranking(parse, intent),
        secondary_cause=(parse.get("cause") or {}).get("secondary") if isinstance(parse.get("cause"), dict) else None,
    )


def emotion_trend(history: List[str]) -> str:
    """`rising`, `steady` or `falling`: the latest turn against the few before it."""
    levels = [EMOTION_LEVEL[name] for name in history if name in EMOTION_LEVEL]
    if len(levels) < 2:
        return "steady"
    previous = levels[-4:-1]
    change = levels[-1] - sum(previous) / len(previous)
    if change >= 0.75:
        return "rising"
    if change <= -0.75:
        return "falling"
    return "steady"


def emotion_peak(history: List[str]) -> Optional[str]:
    known = [name for name in history if name in EMOTION_LEVEL]
    return max(known, key=EMOTION_LEVEL.__getitem__) if known else None


def assist_in(message: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The answer of action_assist a bot message carries: a message the action
    sent, or the `data` of a stored bot event."""
    custom = message.get("custom")
    return custom["assist"] if isinstance(custom, dict) and isinstance(custom.get("assist"), dict) else None


def assist_of(event: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The answer of action_assist in a stored event, if it is a bot event carrying one."""
    return assist_in(event.get("data") or {}) if event.get("event") == "bot" else None
