"""What the assist engine keeps and is set with: its settings (actions/assist.yml),
the case between turns (kept in Rasa slots) and one turn's result."""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from deescalate.assist.cause_evidence import CauseEvidenceSettings
from deescalate.assist.risk import RiskSettings

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "actions" / "assist.yml"
DEMAND_BORNE: Dict[str, List[str]] = {"compensation": ["amount"], "full_refund": ["amount - cash_value", "amount"]}


def _risk_fields(risk: Dict[str, Any]) -> Dict[str, Any]:
    """assist.yml's risk section as RiskSettings fields (YAML lists become tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in risk.items()}


@dataclass
class AssistSettings:
    max_suggestions: int
    plans: Dict[str, List[str]]
    risk: RiskSettings
    money_demands: List[str]
    customer_channels: List[str]
    remember_suggestions: int = 40
    remember_emotions: int = 8
    cause_evidence: CauseEvidenceSettings = field(default_factory=CauseEvidenceSettings)
    # demand -> expressions over the case facts; the first known one is what the company would bear
    demand_borne: Dict[str, List[str]] = field(default_factory=lambda: dict(DEMAND_BORNE))

    @classmethod
    def from_yaml(cls, path: Path = SETTINGS_FILE) -> "AssistSettings":
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        risk = data["risk"]
        return cls(
            max_suggestions=int(data["max_suggestions"]),
            plans=data["plans"],
            risk=RiskSettings(**_risk_fields(risk)),
            money_demands=list(data["money_demands"]),
            customer_channels=list(data["customer_channels"]),
            remember_suggestions=int(data.get("remember_suggestions", 40)),
            remember_emotions=int(data.get("remember_emotions", 8)),
            cause_evidence=CauseEvidenceSettings.from_dict(data.get("cause_evidence")),
            demand_borne={k: list(v) for k, v in (data.get("demand_borne") or DEMAND_BORNE).items()},
        )


@dataclass
class CaseState:
    """What the case remembers between turns (kept in Rasa slots)."""

    cause: Optional[str] = None
    domain: Optional[str] = None
    stage: Optional[str] = None
    amount: Optional[int] = None
    product: Optional[str] = None
    chosen_option: Optional[str] = None
    demand: List[str] = field(default_factory=list)
    escalation: List[str] = field(default_factory=list)
    emotion_history: List[str] = field(default_factory=list)  # the latest few turns
    emotion_peak: Optional[str] = None  # over the whole case
    turns: int = 0  # customer turns so far
    suggested_ids: List[str] = field(default_factory=list)  # the latest few suggestions
    case_facts: Dict[str, Any] = field(default_factory=dict)  # what the customer has told us (facts.yml)
    abnormal: List[str] = field(default_factory=list)  # abnormal-complaint signs seen (escalation.yml)
    cause_scores: Dict[str, float] = field(default_factory=dict)  # decayed evidence per cause

    @classmethod
    def from_slots(cls, slots: Dict[str, Any]) -> "CaseState":
        known = cls.__dataclass_fields__
        values = {k: v for k, v in slots.items() if k in known and v is not None}
        for number in ("amount", "turns"):
            if values.get(number) is not None:
                values[number] = int(values[number])
        return cls(**values)


@dataclass
class AssistResult:
    analysis: Dict[str, Any]
    suggestions: List[Dict[str, Any]]
    alerts: List[Dict[str, str]]
    state: CaseState
    knowledge: List[Dict[str, Any]] = field(default_factory=list)

    def payload(self) -> Dict[str, Any]:
        return {
            "analysis": self.analysis,
            "suggestions": self.suggestions,
            "alerts": self.alerts,
            "knowledge": self.knowledge,
        }

    def slots(self) -> Dict[str, Any]:
        slots = asdict(self.state)
        slots.update(emotion=self.analysis["emotion"]["name"], risk=self.analysis["risk"])
        return slots
