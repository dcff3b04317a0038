"""Case facts read from the customer's words, as scripts_kb/facts.yml describes.

The facts are what conditions on knowledge-base lines test
(`days_since_delivery <= 15`, `channel == 'qr_code'`) and what fills lines
such as "您在{station}站…". `read_facts` finds what one utterance says;
`case_facts` adds what the engine knows besides (amount, product, emotion…).
"""

import re
from typing import Any, Dict, List, Optional, Tuple

import cn2an

_HALF = re.compile(r"^半$")


def _number(text: str) -> Optional[float]:
    if _HALF.match(text):
        return 0.5
    try:
        return float(cn2an.cn2an(text, "smart"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _read_one(spec: Dict[str, Any], text: str) -> Any:
    kind = spec["kind"]
    if kind == "flag":
        return True if any(cue in text for cue in spec["cues"]) else None
    if kind == "choice":
        for value, detail in spec["values"].items():
            if any(cue in text for cue in detail["cues"]):
                return value
        return None
    for pattern in spec["patterns"]:
        for match in re.finditer(pattern, text):
            groups = match.groupdict()
            if kind == "text":
                value = groups.get("v")
                if value and not any(value == word or value.endswith(word) for word in spec.get("exclude", [])):
                    return value
                continue
            if kind == "money":
                value = _number(re.sub(r"[块元]$", "", groups.get("n") or ""))
                if value:
                    return int(round(value))
                continue
            number = _number(groups.get("n") or "")
            if number is not None:
                return int(round(number * spec["units"].get(groups.get("unit") or "", 1)))
    return None


def read_facts(specs: Dict[str, Any], text: str, domain: Optional[str] = None) -> Dict[str, Any]:
    """The facts this one utterance states (only those found), for a case of `domain`."""
    found = {}
    for name, spec in specs.items():
        if spec["kind"] == "derived" or (domain and spec.get("domains") and domain not in spec["domains"]):
            continue
        value = _read_one(spec, text or "")
        if value is not None:
            found[name] = value
    return found


def fact_spans(specs: Dict[str, Any], text: str, domain: Optional[str] = None) -> List[Tuple[int, int]]:
    """Where in the utterance its detail facts are said, for a case of `domain`: the whole
    phrase of a date, a duration or a place (number and text facts), and only the figure of
    a sum (money facts), whose verb (扣了我, 亏了) still says what happened."""
    spans = []
    for spec in specs.values():
        if spec["kind"] not in ("number", "money", "text"):
            continue
        if domain and spec.get("domains") and domain not in spec["domains"]:
            continue
        for pattern in spec["patterns"]:
            for match in re.finditer(pattern, text or ""):
                spans.append(match.span("n") if spec["kind"] == "money" else match.span())
    return sorted(spans)


def tag_facts(specs: Dict[str, Any]) -> Dict[str, str]:
    """Scenario tag -> the fact it is a value of (qr_code -> channel)."""
    return {value: name for name, spec in specs.items() if spec["kind"] == "choice" for value in spec["values"]}


def derive_facts(specs: Dict[str, Any], facts: Dict[str, Any]) -> Dict[str, Any]:
    """Facts derived from others (policy_days from the delivery date or the years paid)."""
    from deescalate.kb.conditions import condition

    derived = {}
    for name, spec in specs.items():
        if spec["kind"] != "derived" or facts.get(name) is not None:
            continue
        for source in spec["from"]:
            value = condition(source).evaluate(facts)
            if value is not None:
                derived[name] = value
                break
    return derived
