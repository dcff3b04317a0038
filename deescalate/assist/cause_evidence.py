"""The case's cause, built up from the evidence of every customer turn.

Each turn brings a cause distribution (the parse's `cause` ranking). The case
keeps a decayed sum of them, an exponential moving average whose step is
`rate` times the turn's weight: older turns count less, and how much a turn
counts depends on what the customer does in it.

One rule, `read_turn`, says what a turn is to the case:

- `complaint`: a complaint while the case has no cause yet, or more of the
  case's own complaint (weight 1; a grievance the NLU files under another
  cause without a clear lead counts like provide_info). A first turn whose
  dialogue act is another (out of scope, unsure, a narrative of facts) is a
  complaint too when it clears the bar of a new complaint below: a written
  complaint is often all three at once;
- `new_complaint`: a second complaint, clearly stated (weight 1, and the only
  kind of turn that may change a cause the case already has);
- `more_facts`: the NLU files the turn under another cause, but the customer
  adds facts or asks for something about the same matter ("交了两年，现金价值
  三万二", "想在犹豫期内退掉"): its distribution counts like provide_info, and
  the stage moves as for information;
- `act`: provide_info, a demand, a greeting, thanks, a choice, an unsure turn:
  weighted by `act_weights` (a greeting counts nothing), and a turn that only
  threatens to go elsewhere (`threat_acts`: counts nothing, and its 投诉 is
  the threat's word, not a grievance that would open the case).

A turn is a new complaint only when all the evidence says so: the NLU reads
it as stating a cause (not an act, not a fallback); its best cause differs
from the case's, with at least `new_complaint.confidence` and ahead of the
case's cause in the same turn by `new_complaint.margin`; and its words state
a grievance (`new_complaint.grievance`) or open another matter
(`new_complaint.new_topic`) outside the spans of the case facts that
facts.py reads (amounts, dates, years paid, cash value). A classifier label
alone, however confident, never switches a case: a turn of figures about the
same policy is filed under surrender_loss by the cause model as easily as a
real surrender complaint.

The case's cause is the best-supported one once its support reaches
`threshold`; once the case has one, only a new complaint may change it.
"""

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from deescalate.contract import CAUSES

COMPLAINT, NEW_COMPLAINT, MORE_FACTS, ACT = "complaint", "new_complaint", "more_facts", "act"


@dataclass(frozen=True)
class NewComplaintSettings:
    """What a turn must show to open a second complaint in a case that has a cause."""

    confidence: float = 0.6
    margin: float = 0.3
    grievance: Tuple[str, ...] = ()
    new_topic: Tuple[str, ...] = ()
    # Words that say a complaint is being made (投诉, 举报): a grievance, except
    # in a turn that only threatens, where they are the threat's own words
    # ("去银保监投诉").
    complaint_words: Tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> "NewComplaintSettings":
        data = data or {}
        defaults = cls()
        settings = cls(
            confidence=float(data.get("confidence", defaults.confidence)),
            margin=float(data.get("margin", defaults.margin)),
            grievance=tuple(data.get("grievance") or ()),
            new_topic=tuple(data.get("new_topic") or ()),
            complaint_words=tuple(data.get("complaint_words") or ()),
        )
        for pattern in settings.grievance + settings.new_topic + settings.complaint_words:
            re.compile(pattern)  # a broken pattern fails the load, naming itself
        return settings


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
    new_complaint: NewComplaintSettings = field(default_factory=NewComplaintSettings)
    # Dialogue acts that only threaten to take the matter elsewhere.
    threat_acts: Tuple[str, ...] = ("threaten_escalation",)

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> "CauseEvidenceSettings":
        data = data or {}
        defaults = cls()
        return cls(
            rate=float(data.get("rate", defaults.rate)),
            threshold=float(data.get("threshold", defaults.threshold)),
            act_weights={k: float(v) for k, v in (data.get("act_weights") or defaults.act_weights).items()},
            keep=int(data.get("keep", defaults.keep)),
            new_complaint=NewComplaintSettings.from_dict(data.get("new_complaint")),
            threat_acts=tuple(data.get("threat_acts") or defaults.threat_acts),
        )


@dataclass(frozen=True)
class TurnReading:
    """What one turn is to the case's cause (see the module's docstring)."""

    role: str
    weight: float
    reasons: Tuple[str, ...] = ()

    @property
    def may_switch(self) -> bool:
        return self.role == NEW_COMPLAINT


def _masked(text: str, spans: Sequence[Tuple[int, int]]) -> str:
    """The text with the spans of facts blanked out, so their words are not read as grievances."""
    chars = list(text)
    for start, end in spans:
        for index in range(max(0, start), min(len(chars), end)):
            chars[index] = " "
    return "".join(chars)


def states_grievance(
    settings: NewComplaintSettings, text: str, fact_spans: Sequence[Tuple[int, int]], threat: bool = False
) -> List[str]:
    """The grievance or new-matter words of the turn, outside its facts (empty: facts and requests only).

    In a turn that only threatens (`threat`), 投诉 is the threat's word, not a grievance."""
    rest = _masked(text or "", fact_spans)
    found = []
    for pattern in settings.grievance + settings.new_topic + (() if threat else settings.complaint_words):
        match = re.search(pattern, rest)
        if match:
            found.append(match.group(0))
    return found


def opens_case(
    rule: NewComplaintSettings,
    ranking: Sequence[Tuple[str, float]],
    text: str,
    fact_spans: Sequence[Tuple[int, int]],
    threat: bool = False,
) -> Tuple[str, ...]:
    """The grievance words of a first turn that states its complaint clearly, whatever its dialogue act.

    A written complaint often reads to the dialogue-act classifier as out of
    scope or unsure while its cause is plain; such a turn opens the case like
    a stated complaint when it clears the bar a second complaint must clear:
    a cause of at least `confidence` and words of grievance. Empty otherwise.
    """
    if not ranking or ranking[0][1] < rule.confidence:
        return ()
    return tuple(states_grievance(rule, text, fact_spans, threat))


def read_turn(
    settings: CauseEvidenceSettings,
    case_cause: Optional[str],
    intent: str,
    low_confidence: bool,
    ranking: Sequence[Tuple[str, float]],
    text: str = "",
    fact_spans: Sequence[Tuple[int, int]] = (),
) -> TurnReading:
    """What this turn is to the case's cause, and how much its cause distribution counts."""
    rule = settings.new_complaint
    if low_confidence or intent not in CAUSES:
        threat = intent in settings.threat_acts
        opening = () if case_cause else opens_case(rule, ranking, text, fact_spans, threat)
        if opening:
            return TurnReading(COMPLAINT, 1.0, opening)
        if low_confidence:
            return TurnReading(ACT, settings.act_weights.get("nlu_fallback", 0.0), ("unsure",))
        return TurnReading(ACT, settings.act_weights.get(intent, 0.0), (intent,))
    top = ranking[0] if ranking else (intent, 1.0)
    if not case_cause or top[0] == case_cause:
        return TurnReading(COMPLAINT, 1.0, ("stated",))
    # Another cause: a second complaint, or more of this one in other words.
    partial = settings.act_weights.get("provide_info", 0.0)
    words = tuple(states_grievance(rule, text, fact_spans))
    clear = top[1] >= rule.confidence and top[1] - dict(ranking).get(case_cause, 0.0) >= rule.margin
    if clear and words:
        return TurnReading(NEW_COMPLAINT, 1.0, words)
    if words:  # a grievance, but no clear other cause: the case's complaint again
        return TurnReading(COMPLAINT, partial, words + (f"{top[0]} not clear of {case_cause}",))
    return TurnReading(MORE_FACTS, partial, ("facts or requests only",))


def add_evidence(
    settings: CauseEvidenceSettings, scores: Dict[str, float], ranking: Sequence[Tuple[str, float]], weight: float
) -> Dict[str, float]:
    """The case's scores after one more turn: old scores decayed by the turn's step, its own added."""
    step = min(1.0, max(0.0, settings.rate * weight))
    updated = {name: value * (1 - step) for name, value in (scores or {}).items() if name in CAUSES}
    for name, confidence in ranking:
        if name in CAUSES:
            updated[name] = updated.get(name, 0.0) + step * confidence
    best = sorted(updated.items(), key=lambda item: -item[1])[: settings.keep]
    return {name: round(value, 4) for name, value in best if value >= 0.005}


def case_cause(
    settings: CauseEvidenceSettings, scores: Dict[str, float], previous: Optional[str], may_switch: bool = True
) -> Optional[str]:
    """The best-supported cause once it reaches the threshold, else the cause the case had.
    A case that has a cause keeps it unless this turn opened a new complaint."""
    if not scores or (previous and not may_switch):
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
