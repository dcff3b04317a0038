"""Ranks knowledge-base lines into the suggestions for one moment of a case.

Which kinds come first depends on the stage (the plan is configuration, in
actions/assist.yml). Within a kind the line that fits the case best is picked,
not the first in the file: a line whose conditions or scenario tags do not fit
the case facts is never offered; one that needs a missing fact waits, and the
question asking for that fact is offered first; among the rest the most
specific for the facts, emotion and stage wins. A line already suggested in
this case is not suggested again while another is left.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from deescalate.assist.fit import Fit, line_fit
from deescalate.assist.render import ORDINALS, TemplateValues, render
from deescalate.kb.conditions import condition, expressions, first_known_sum
from deescalate.kb.lines import as_item
from deescalate.kb.loader import KnowledgeBase, line_id
from deescalate.learning.ranking import Ranker, fit_only_why

# Which suggestion kind a stage's own lines are shown as.
STAGE_LINE_KIND = {
    "listen": "empathy",
    "empathize": "empathy",
    "clarify": "question",
    "offer_choices": "choices",
    "agree": "commitment",
    "follow_up": "commitment",
    "close": "closing",
}

Approve = Callable[[Optional[float]], Optional[Dict[str, Any]]]


@dataclass
class SuggestContext:
    kb: KnowledgeBase
    stage: str
    emotion: str
    text: str
    values: TemplateValues
    cause: Optional[str] = None
    domain: Optional[str] = None
    new_escalations: List[str] = field(default_factory=list)
    used: Set[str] = field(default_factory=set)
    facts: Dict[str, Any] = field(default_factory=dict)
    tag_facts: Dict[str, str] = field(default_factory=dict)
    situations: List[str] = field(default_factory=list)
    approve: Approve = lambda borne: None
    ranker: Optional[Ranker] = None  # None: rank by fit alone (no figures)

    @property
    def entry(self) -> Optional[Dict[str, Any]]:
        if not self.cause or self.cause not in self.kb.causes:
            return None
        return self.kb.causes[self.cause]["domains"].get(self.domain)

    def fit(self, item: Dict[str, Any]) -> Fit:
        return line_fit(item, self.facts, self.tag_facts, self.emotion, self.stage)

    def missing_facts(self) -> List[str]:
        """Facts that would decide which restates, explanations and choices fit, choices first."""
        entry = self.entry
        if not entry:
            return []
        borne = [
            {"text": "", "when": f"{self.closest_sum(expressions(c.get('borne')))} > 0"}
            for c in entry["choices"]
            if c["approver"] == "by_amount"
            and first_known_sum(expressions(c.get("borne")), self.facts) is None
            and self.fit(dict(c, text=c["offer"])).status is not False
        ]
        items = (
            [dict(c, text=c["offer"]) for c in entry["choices"]]
            + borne
            + [as_item(x) for x in entry["restate"]]
            + [as_item(x) for s in ("plain", "precise") for x in entry["explanations"][s]]
        )
        missing: List[str] = []
        for item in items:
            fit = self.fit(item)
            if fit.status is None:
                missing += [name for name in self.askable(fit.missing) if name not in missing]
        return missing

    def closest_sum(self, sources: List[str]) -> str:
        """Of a card's `borne` expressions, the one that lacks the fewest facts: the one to ask for."""
        return min(sources, key=lambda source: len(condition(source).missing(self.facts)))

    def askable(self, names: Iterable[str]) -> List[str]:
        """The facts to ask for: a derived fact is asked for through the facts it comes from."""
        found: List[str] = []
        for name in sorted(names):
            spec = self.kb.case_facts.get(name) or {}
            sources = (
                [n for text in spec["from"] for n in sorted(condition(text).names)]
                if spec.get("kind") == "derived"
                else [name]
            )
            found += [n for n in sources if n not in found and self.facts.get(n) is None]
        return found


def choice_card(ctx: SuggestContext, choice: Dict[str, Any], fit: Fit) -> Dict[str, Any]:
    """One choice as a card: the short title, the full offer, meaning, cost and approver."""
    borne = None
    if choice["approver"] != "none":
        borne = first_known_sum(expressions(choice.get("borne")), ctx.facts)
    if choice["approver"] == "by_amount":
        tier = ctx.approve(borne)
        approver = tier["role"] if tier else "by_amount"
        approver_label = tier["role_label"] if tier else "按公司承担的金额审批（金额待确认）"
    elif choice["approver"] == "none":
        approver, approver_label = "none", "无需审批"
    else:
        approver, approver_label = choice["approver"], ctx.kb.approval["roles"][choice["approver"]]
    values = TemplateValues(ctx.values, approver=approver_label)
    return {
        "id": choice["id"],
        "short": choice["short"],
        "text": render(choice["offer"], ctx.values),
        "means": render(choice["means"], values),
        "cost": render(choice["cost"], values),
        "approver": approver,
        "approver_label": approver_label,
        "borne": borne,
        "fits": fit.status is True,
        "fit": fit.reasons,
        "needs": [ctx.kb.case_facts[name]["label"] for name in ctx.askable(fit.missing) if name in ctx.kb.case_facts],
    }


def _asks(fact: str) -> Callable[[Dict[str, Any]], bool]:
    """Whether a question is the one that asks for this fact."""
    return lambda item: item.get("asks") == fact


def offered_choices(ctx: SuggestContext) -> List[Dict[str, Any]]:
    """The entry's choices that fit or may fit the case, best fit first."""
    entry = ctx.entry
    if not entry:
        return []
    ranked: List[Tuple[Tuple[int, float, int], Dict[str, Any]]] = []
    for index, choice in enumerate(entry["choices"]):
        fit = ctx.fit(dict(choice, text=choice["offer"]))
        if fit.status is False:
            continue
        ranked.append(((0 if fit.status else 1, -fit.score, index), choice_card(ctx, choice, fit)))
    cards = [card for _, card in sorted(ranked, key=lambda pair: pair[0])]
    fitting = [card for card in cards if card["fits"]]
    # Only choices that fit are offered; those waiting for a fact fill in while fewer than two fit.
    return fitting if len(fitting) >= 2 else cards


class SuggestionBuilder:
    """Builds suggestions of each kind for a SuggestContext."""

    def __init__(self, context: SuggestContext, allow_reuse: bool = False) -> None:
        self.ctx = context
        self.allow_reuse = allow_reuse
        self.picked: List[Dict[str, Any]] = []

    def _excluded(self) -> Set[str]:
        return {s["id"] for s in self.picked} | (set() if self.allow_reuse else self.ctx.used)

    def _best(
        self, lines: Iterable[Any], source: str, wanted: Callable[[Dict[str, Any]], bool] = lambda i: True
    ) -> Optional[Tuple[Dict[str, Any], Fit, Dict[str, Any]]]:
        """The line to offer among those that fit, and why: by fit alone, or through the ranker."""
        excluded = self._excluded()
        fitting: List[Tuple[str, Dict[str, Any], Fit]] = []
        for line in lines:
            item = as_item(line)
            key = line_id(source, item["text"])
            if key in excluded or not wanted(item):
                continue
            fit = self.ctx.fit(item)
            if fit.status is True:
                fitting.append((key, item, fit))
        if not fitting:
            return None
        ranker = self.ctx.ranker
        if ranker is None:
            key, item, fit = max(fitting, key=lambda c: c[2].score)  # the first of the best fits
            return item, fit, fit_only_why(fit.score)
        index = ranker.choose([(key, fit.score) for key, _, fit in fitting])
        if index is None:
            return None
        key, item, fit = fitting[index]
        return item, fit, ranker.why(key, fit.score)

    def _pick(
        self,
        kind: str,
        lines: Iterable[Any],
        source: str,
        wanted: Callable[[Dict[str, Any]], bool] = lambda i: True,
        **extra: Any,
    ) -> bool:
        """Add the best-fitting line not yet suggested in this case (or in this answer)."""
        found = self._best(lines, source, wanted)
        if not found:
            return False
        item, fit, why = found
        suggestion = {
            "id": line_id(source, item["text"]),
            "kind": kind,
            "text": render(item["text"], self.ctx.values),
            "source": source,
            **extra,
            "why": why,
        }
        if fit.reasons:
            suggestion["fit"] = fit.reasons
        self.picked.append(suggestion)
        return True

    def _cause_source(self) -> str:
        return self.ctx.kb.source(self.ctx.cause or "")

    def empathy(self) -> bool:
        lines = self.ctx.kb.empathy["emotions"][self.ctx.emotion]["lines"]
        return self._pick("empathy", lines, self.ctx.kb.source("empathy"))

    def restate(self) -> bool:
        entry = self.ctx.entry
        return entry is not None and self._pick("empathy", entry["restate"], self._cause_source(), restate=True)

    def situation(self) -> bool:
        added = False
        for name in self.ctx.situations[:2]:  # the two most telling, those the facts show first
            lines = self.ctx.kb.empathy["situations"][name]["lines"]
            added |= self._pick("empathy", lines, self.ctx.kb.source("empathy"), situation=name)
        return added

    def explanation(self) -> bool:
        entry = self.ctx.entry
        if not entry:
            return False
        style = self.ctx.kb.empathy["emotions"][self.ctx.emotion]["style"]
        return self._pick("explanation", entry["explanations"][style], self._cause_source(), style=style)

    def ask_missing(self) -> bool:
        """The question asking for a fact that decides what can be offered."""
        entry = self.ctx.entry
        missing = self.ctx.missing_facts()
        if not entry or not missing:
            return False
        for name in missing:
            if self._pick("question", entry["questions"], self._cause_source(), wanted=_asks(name), asks=name):
                return True
        return False

    def question(self) -> bool:
        entry = self.ctx.entry
        if entry:
            known = {name for name, value in self.ctx.facts.items() if value is not None}
            return self._pick(
                "question", entry["questions"], self._cause_source(), wanted=lambda item: item.get("asks") not in known
            )
        return self._pick("question", self.ctx.kb.stages["clarify"]["lines"], self.ctx.kb.source("stages"))

    def choices(self) -> bool:
        options = offered_choices(self.ctx)
        if not options:
            return False
        source = self._cause_source()
        suggestion_id = line_id(source, "choices:" + ",".join(o["id"] for o in options))
        if suggestion_id in self._excluded():
            return False  # the same offer is not made twice in a case
        ranker = self.ctx.ranker
        if ranker is not None and ranker.retired(suggestion_id):
            return False
        if len(options) == 1:
            text = f"我这边可以先这样办：{options[0]['short']}。我跟您详细说一下，您看可以吗？"
        else:
            summary = "；".join(f"{ORDINALS[i]}是{o['short']}" for i, o in enumerate(options))
            text = f"我这边有{_count(len(options))}种办法：{summary}。您看哪种更合适？我再详细给您说。"
        why = ranker.why(suggestion_id, None) if ranker is not None else fit_only_why(None)
        self.picked.append(
            {"id": suggestion_id, "kind": "choices", "text": text, "source": source, "options": options, "why": why}
        )
        return True

    def commitment(self) -> bool:
        entry = self.ctx.entry
        return entry is not None and self._pick("commitment", entry["commitments"], self._cause_source())

    def stage_line(self) -> bool:
        stage = self.ctx.stage
        return self._pick(STAGE_LINE_KIND[stage], self.ctx.kb.stages[stage]["lines"], self.ctx.kb.source("stages"))

    def closing(self) -> bool:
        return self._pick("closing", self.ctx.kb.stages["close"]["lines"], self.ctx.kb.source("stages"))

    def escalation(self) -> bool:
        added = False
        for value in self.ctx.new_escalations:
            handling = self.ctx.kb.escalation["escalation"][value]
            added |= self._pick("escalation", handling["lines"], self.ctx.kb.source("escalation"), escalation=value)
        return added


def _count(number: int) -> str:
    return {1: "一", 2: "两", 3: "三", 4: "四"}.get(number, str(number))


def build_suggestions(context: SuggestContext, plan: List[str], limit: int) -> List[Dict[str, Any]]:
    """Follow the stage's plan of kinds until `limit` suggestions are picked.

    A kind whose lines were all suggested earlier in the case is skipped; only
    when nothing fresh is left at all (a very long case) are lines reused.
    """
    for allow_reuse in (False, True):
        builder = SuggestionBuilder(context, allow_reuse)
        for step in plan:
            if len(builder.picked) >= limit:
                break
            getattr(builder, step)()
        if builder.picked:
            break
    return builder.picked[:limit]
