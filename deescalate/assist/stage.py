"""The playbook stage a case is in, moved on by what the customer says.

listen → empathize → clarify → offer_choices → agree → follow_up → close.
A complaint is first heard out (listen, or clarify when the customer is calm);
information moves it to choices, a choice to agreement, thanks to closing. The
stage moves back only when the customer turns down what was agreed.
"""

from typing import Optional

from deescalate.contract import STAGES

_ORDER = {stage: index for index, stage in enumerate(STAGES)}
_HEATED = ("anxious", "angry", "furious")


def _at_least(current: str, target: str) -> str:
    return target if _ORDER[target] > _ORDER[current] else current


def next_stage(
    current: Optional[str], intent: str, emotion: str, is_cause: bool, new_cause: bool, low_confidence: bool
) -> str:
    """The stage after a customer turn with this intent and emotion."""
    current = current if current in _ORDER else "listen"
    if low_confidence:
        return current
    if is_cause:
        if new_cause:
            return "listen" if emotion in _HEATED else "clarify"
        # The same complaint again: still venting, or ready to talk it through.
        return "empathize" if emotion in _HEATED else _at_least(current, "clarify")
    if intent in ("provide_info", "demand_compensation"):
        return _at_least(current, "offer_choices")
    if intent == "choose_option":
        return "agree"
    if intent == "affirm":
        if current == "offer_choices":
            return "agree"
        if current in ("agree", "follow_up"):
            return "follow_up"
        return current
    if intent == "deny":
        return "offer_choices" if _ORDER[current] >= _ORDER["offer_choices"] else current
    if intent == "ask_status":
        return _at_least(current, "follow_up")
    if intent == "thank":
        return "close" if _ORDER[current] >= _ORDER["agree"] else current
    if intent == "goodbye":
        return "close"
    return current
