"""The chat bot's own voice: what a customer sees in the website widget.

Agent-facing clients get several ranked suggestions and choose; in the
widget the bot speaks for itself, so it says one line of each kind it has,
offers the choices as buttons, and tells the customer when a person takes over.
"""

from typing import Any, Dict, List

from deescalate.assist.render import ORDINALS
from deescalate.assist.state import AssistResult
from deescalate.kb.loader import KnowledgeBase

SPOKEN_KINDS = ("escalation", "empathy", "explanation", "question", "commitment", "closing")


def _line(lines: List[str], turn_number: int) -> str:
    return lines[turn_number % len(lines)]


def customer_messages(result: AssistResult, kb: KnowledgeBase, handoff: bool) -> List[Dict[str, Any]]:
    """Messages (text, optional buttons) for a customer-facing channel.

    When a person takes over, the bot only acknowledges the customer and says
    what happens next: questions or offers would then be the person's to make.
    """
    turn_number = result.state.turns
    if handoff:
        acknowledgement = next((s for s in result.suggestions if s["kind"] in ("escalation", "empathy")), None)
        return ([{"text": acknowledgement["text"]}] if acknowledgement else []) + [
            {"text": _line(kb.voice["handoff"], turn_number)}
        ]
    messages: List[Dict[str, Any]] = []
    spoken = set()
    for suggestion in result.suggestions:
        kind = suggestion["kind"]
        if kind in SPOKEN_KINDS and kind not in spoken:
            messages.append({"text": suggestion["text"]})
            spoken.add(kind)
    if result.analysis.get("low_confidence") or not messages:
        messages.append({"text": _line(kb.voice["not_sure"], turn_number)})
    choices = next((s for s in result.suggestions if s["kind"] == "choices"), None)
    if choices:
        buttons = [
            {"title": option["text"], "payload": f"我选第{ORDINALS[i]}种：{option['text']}"}
            for i, option in enumerate(choices["options"])
        ]
        messages.append({"text": _line(kb.voice["choose_prompt"], turn_number), "buttons": buttons})
    return messages


def needs_handoff(result: AssistResult) -> bool:
    """A chat goes to a person when the customer asks for one or the case is high risk."""
    kinds = {alert["kind"] for alert in result.alerts}
    return "handoff" in kinds or result.analysis["risk"] == "high"
