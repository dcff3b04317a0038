"""The compliance lint over what a customer may hear (`make kb-check`).

Each customer-facing line is filled with sample case facts (so that a slot
that breaks the Chinese shows) and checked against scripts_kb/lint.yml:
liability admitted before investigation, guarantees of outcome, return or
time, broken slot words, executive titles in approval talk. A line naming
{approver} fails too (the agent sees the approver, the customer hears
approval.yml's customer_phrase), and so does any line the agent-draft taboo
check flags, through the same checker the assist API uses.
"""

import re
from dataclasses import dataclass
from typing import Any, Dict, List

from deescalate.assist.render import TemplateValues, render
from deescalate.assist.taboo import TabooChecker
from deescalate.kb.lines import customer_lines
from deescalate.kb.loader import KnowledgeBase

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]*")

# Sample case facts a line is filled with before it is checked.
SAMPLE_VALUES: Dict[str, str] = {
    "product": "分红险",
    "amount": "2万元",
    "station": "人民广场",
    "branch": "城东支行",
    "line": "2号线",
    "days_since_delivery": "10",
    "years_paid": "2",
    "cash_value": "1.6万元",
    "cause_label": "销售误导",
    "domain_label": "保险",
    "approver": "上级",
    "emotion_label": "着急",
}


@dataclass
class Finding:
    source: str
    key: str
    rule: str
    kind: str
    text: str
    matched: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: [{self.kind}/{self.rule}] “{self.matched}” in “{self.text}”"


def _rule_hits(rule: Dict[str, Any], text: str) -> List[str]:
    hits = []
    for sentence in _SENTENCE.finditer(text):
        clause = sentence.group(0)
        if any(re.search(allow, clause) for allow in rule.get("allow", [])):
            continue
        for pattern in rule["patterns"]:
            match = re.search(pattern, clause)
            if match:
                hits.append(match.group(0))
                break
    return hits


def lint_kb(kb: KnowledgeBase) -> List[Finding]:
    """Every compliance problem in the customer-facing lines, in file order."""
    checker = TabooChecker(kb.taboo)
    findings: List[Finding] = []
    for source, key, raw in customer_lines(kb):
        if "{approver}" in raw:
            findings.append(Finding(source, key, "approver_in_customer_line", "title", raw, "{approver}"))
        try:
            text = render(raw, TemplateValues(SAMPLE_VALUES))
        except (ValueError, IndexError, KeyError):
            findings.append(Finding(source, key, "broken_template", "slot_words", raw, raw))
            continue
        for rule in kb.lint:
            findings += [Finding(source, key, rule["id"], rule["kind"], text, hit) for hit in _rule_hits(rule, text)]
        findings += [
            Finding(source, key, f"taboo:{hit['id']}", "taboo", text, hit["matched"]) for hit in checker.check(text)
        ]
    return findings
