"""The case's cause, built up from the evidence of every customer turn.

Each turn brings a cause distribution (the parse's `cause` ranking). The case
keeps a decayed sum of them, an exponential moving average whose step is
`rate` times the turn's weight: older turns count less, and how much a turn
counts depends on what the customer does in it. A turn that states a
complaint counts fully, so a clearly stated new complaint takes over; a turn
of dates and amounts (provide_info) or a demand counts a little, so that it
keeps and sharpens the case's cause rather than replacing it; a greeting,
thanks or a choice counts nothing. The case's cause is the best-supported one
once its support reaches the threshold.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from deescalate.contract import CAUSES


@dataclass(frozen=True)
class CauseEvidenceSettings:
    rate: float = 0.6
    threshold: float = 0.15
    # How much a turn's cause distribution counts, by its dialogue act; a cause
    # intent counts 1, an act not listed counts 0.
    act_weights: Dict[str, float] = field(
        default_factory=lambda: {
            "provide_info": 0.5,
            "demand_compensation": 0.5,
            "request_human": 0.3,
            "ask_status": 0.3,
            "nlu_fallback": 0.5,
        }
    )
    keep: int = 6

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> "CauseEvidenceSettings":
        data = data or {}
        defaults = cls()
        return cls(
            rate=float(data.get("rate", defaults.rate)),
            threshold=float(data.get("threshold", defaults.threshold)),
            act_weights={k: float(v) for k, v in (data.get("act_weights") or defaults.act_weights).items()},
            keep=int(data.get("keep", defaults.keep)),
        )


def turn_weight(settings: CauseEvidenceSettings, intent: str, low_confidence: bool) -> float:
    """How much this turn's cause distribution counts toward the case's cause."""
    if low_confidence:
        return settings.act_weights.get("nlu_fallback", 0.0)
    if intent in CAUSES:
        return 1.0
    return settings.act_weights.get(intent, 0.0)


def add_evidence(
    settings: CauseEvidenceSettings, scores: Dict[str, float], ranking: List[Tuple[str, float]], weight: float
) -> Dict[str, float]:
    """The case's scores after one more turn: old scores decayed by the turn's step, its own added."""
    step = min(1.0, max(0.0, settings.rate * weight))
    updated = {name: value * (1 - step) for name, value in (scores or {}).items() if name in CAUSES}
    for name, confidence in ranking:
        if name in CAUSES:
            updated[name] = updated.get(name, 0.0) + step * confidence
    best = sorted(updated.items(), key=lambda item: -item[1])[: settings.keep]
    return {name: round(value, 4) for name, value in best if value >= 0.005}


def case_cause(settings: CauseEvidenceSettings, scores: Dict[str, float], previous: Optional[str]) -> Optional[str]:
    """The best-supported cause once it reaches the threshold, else the cause the case had."""
    if not scores:
        return previous
    name, value = max(scores.items(), key=lambda item: item[1])
    return name if value >= settings.threshold else previous


def ranking_of(scores: Dict[str, float]) -> List[Dict[str, Any]]:
    """The case's scores as shares of their total, best first."""
    total = sum(scores.values())
    if total <= 0:
        return []
    return [
        {"name": name, "confidence": round(value / total, 4)}
        for name, value in sorted(scores.items(), key=lambda item: -item[1])
    ]
