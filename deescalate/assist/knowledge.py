"""The agent-only knowledge panel: facts, what to do and what to watch for.

Every assist answer carries `knowledge`, a list of
`{kind, text, source, basis, reviewed}` where kind is `fact` (the rule or
figure behind this case: cooling-off period, handling time limits, credit
record objections), `do` (what the agent does at this stage and in this
situation) or `watch` (signs to look out for: a professional complainer, a
signature someone else made). Each item names its basis, the law or rule it
rests on, and the date it was last checked. None of it is ever said to the
customer: the chat widget never shows it.
"""

from typing import Any, Dict, List, Optional

from deescalate.assist.fit import line_fit
from deescalate.kb.lines import as_item
from deescalate.kb.loader import KnowledgeBase

MAX_FACTS = 5
MAX_DO = 4
MAX_WATCH = 4


def _item(kind: str, text: str, source: str, basis: str, reviewed: Optional[str]) -> Dict[str, Any]:
    return {"kind": kind, "text": text, "source": source, "basis": basis, "reviewed": reviewed}


def entry_facts(
    kb: KnowledgeBase, cause: str, domain: str, facts: Dict[str, Any], tag_facts: Dict[str, str], group: str = "facts"
) -> List[Dict[str, Any]]:
    """The cause entry's facts (or watch items) that fit the case, those written for it first."""
    entry = kb.causes[cause]["domains"][domain]
    ranked = []
    for index, raw in enumerate(entry.get(group, [])):
        item = as_item(raw)
        fit = line_fit(item, facts, tag_facts)
        if fit.status is False:
            continue
        ranked.append(
            (
                (0 if fit.status else 1, -fit.score, index),
                _item(
                    "fact" if group == "facts" else "watch",
                    item["text"],
                    kb.source(cause),
                    item.get("basis", entry["basis"]),
                    item.get("reviewed", entry["reviewed"]),
                ),
            )
        )
    return [item for _, item in sorted(ranked, key=lambda pair: pair[0])]


def build_knowledge(
    kb: KnowledgeBase,
    *,
    cause: Optional[str],
    domain: Optional[str],
    stage: str,
    facts: Dict[str, Any],
    tag_facts: Dict[str, str],
    situations: List[str],
    escalations: List[str],
    abnormal: List[str],
) -> List[Dict[str, Any]]:
    """The knowledge panel for one moment of a case."""
    knowledge: List[Dict[str, Any]] = []
    entry_key = (cause, domain) if cause and domain and domain in kb.causes.get(cause, {}).get("domains", {}) else None
    if entry_key:
        knowledge += entry_facts(kb, *entry_key, facts, tag_facts)[:MAX_FACTS]
    watch: List[Dict[str, Any]] = []
    for name in abnormal:
        detail = kb.escalation["abnormal"][name]
        watch += [
            _item("watch", f"{detail['label']}：{sign}", kb.source("escalation"), detail["basis"], None)
            for sign in detail["signs"][:2]
        ]
        watch += [
            _item("do", text, kb.source("escalation"), detail["basis"], None) for text in detail["agent_does"][:3]
        ]
    if entry_key:
        watch += entry_facts(kb, *entry_key, facts, tag_facts, group="watch")
    do: List[Dict[str, Any]] = []
    for name in situations:
        situation = kb.empathy["situations"][name]
        do += [
            _item("do", text, kb.source("empathy"), situation.get("basis", kb.stages[stage]["basis"]), None)
            for text in situation.get("agent_does", [])
        ]
    for value in escalations:
        handling = kb.escalation["escalation"][value]
        do += [
            _item("do", text, kb.source("escalation"), handling["basis"], None) for text in handling["agent_does"][:2]
        ]
    do += [
        _item("do", text, kb.source("stages"), kb.stages[stage]["basis"], None)
        for text in kb.stages[stage]["agent_does"][: MAX_DO - 1]
    ]
    return knowledge + watch[: MAX_WATCH + 3] + do[: MAX_DO + 2]
