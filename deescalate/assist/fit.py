"""How well a knowledge-base line fits the case: its conditions, tags and slots.

A line fits (True), does not fit (False: never offered) or cannot be judged
yet (None: a fact it needs is missing; the engine asks for that fact first).
Among the lines that fit, the more specific one ranks higher: a line written
for a QR-code double charge beats a general one once we know the customer used
a QR code; a line written for this emotion or stage beats one that is not.
"""

import string
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Set

from deescalate.kb.conditions import condition

_FORMATTER = string.Formatter()
# Template variables that always have a value (labels), as opposed to case facts.
LABEL_VARIABLES = frozenset({"cause_label", "domain_label", "approver", "emotion_label"})


@dataclass
class Fit:
    status: Optional[bool]
    score: int = 0
    missing: FrozenSet[str] = frozenset()
    reasons: List[str] = field(default_factory=list)


def template_facts(text: str) -> FrozenSet[str]:
    """The case facts a line's template needs ({station} -> station)."""
    return frozenset(name for _, name, _, _ in _FORMATTER.parse(text) if name and name not in LABEL_VARIABLES)


def line_fit(
    item: Dict[str, Any],
    facts: Dict[str, Any],
    tag_facts: Dict[str, str],
    emotion: Optional[str] = None,
    stage: Optional[str] = None,
) -> Fit:
    """Judge one line (as_item form) against the case facts, emotion and stage."""
    status: Optional[bool] = True
    score = 0
    missing: Set[str] = set()
    reasons: List[str] = []
    if item.get("when"):
        parsed = condition(item["when"])
        value = parsed.evaluate(facts)
        if value is None:
            status, missing = None, missing | set(parsed.missing(facts))
        elif not value:
            return Fit(False)
        else:
            score += 3 + len(parsed.names)
            reasons.append(item["when"])
    for tag in item.get("tags", []):
        fact = tag_facts.get(tag)
        value = facts.get(fact) if fact else None
        if value is None:
            status, missing = (None if status is not False else status), missing | {fact or tag}
        elif value != tag:
            return Fit(False)
        else:
            score += 4
            reasons.append(tag)
    needed = {name for name in template_facts(item.get("text", "")) if facts.get(name) is None}
    if needed:
        status, missing = None, missing | needed
    elif template_facts(item.get("text", "")):
        score += 1
    if item.get("emotions"):
        score += 2 if emotion in item["emotions"] else -2
    if item.get("stages"):
        score += 1 if stage in item["stages"] else -1
    return Fit(status, score, frozenset(missing), reasons)
