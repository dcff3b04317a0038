"""Case risk (low, medium, high) and the approval tier for an amount."""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple


@dataclass
class RiskSettings:
    high_amount: int = 50000
    medium_amount: int = 2000
    high_emotions: Tuple[str, ...] = ("furious",)
    medium_emotions: Tuple[str, ...] = ("angry",)
    high_demands: Tuple[str, ...] = ("staff_discipline",)
    medium_demands: Tuple[str, ...] = ("full_refund", "compensation", "escalate_to_manager")


def assess_risk(
    settings: RiskSettings,
    escalations: List[str],
    emotion: str,
    trend: str,
    amount: Optional[int],
    demands: List[str],
    wants_person: bool,
) -> Tuple[str, List[str]]:
    """The risk level and the reasons for it, most serious first."""
    high, medium = [], []
    if escalations:
        high.append("escalation:" + ",".join(escalations))
    if emotion in settings.high_emotions:
        high.append(f"emotion:{emotion}")
    if amount is not None and amount >= settings.high_amount:
        high.append(f"amount:{amount}")
    if any(d in settings.high_demands for d in demands) and emotion in settings.medium_emotions:
        high.append("demand:staff_discipline")
    if emotion in settings.medium_emotions:
        medium.append(f"emotion:{emotion}")
    if trend == "rising":
        medium.append("trend:rising")
    if amount is not None and settings.medium_amount < amount < settings.high_amount:
        medium.append(f"amount:{amount}")
    medium += [f"demand:{d}" for d in demands if d in settings.medium_demands]
    if wants_person:
        medium.append("wants_person")
    if high:
        return "high", high + medium
    return ("medium", medium) if medium else ("low", [])


def approval_tier(approval: Dict[str, Any], amount: Optional[float], domain: Optional[str]) -> Optional[Dict[str, Any]]:
    """The tier of `domain`'s matrix in approval.yml whose range holds `amount`
    (what the company would bear), with the role's name for the agent."""
    tiers = (approval.get("matrices") or {}).get(domain or "")
    if amount is None or amount <= 0 or not tiers:
        return None
    for index, tier in enumerate(tiers):
        upper = tier.get("up_to")
        if amount > tier["above"] and (upper is None or amount <= upper):
            return {
                "tier": index + 1,
                "role": tier["role"],
                "domain": domain,
                "role_label": approval["roles"][tier["role"]],
                "above": tier["above"],
                "up_to": upper,
            }
    return None
