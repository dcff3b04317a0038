"""Ranks knowledge-base lines into the suggestions for one moment of a case.

Which kinds come first depends on the stage (the plan is configuration, in
actions/assist.yml); the explanation style follows the emotion; a line already
suggested in this case is not suggested again while another is left.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set

from deescalate.assist.render import ORDINALS, TemplateValues, render
from deescalate.kb.loader import KnowledgeBase, line_id

# Which suggestion kind a stage's own lines are shown as.
STAGE_LINE_KIND = {
    "listen": "empathy", "empathize": "empathy", "clarify": "question",
    "offer_choices": "choices", "agree": "commitment", "follow_up": "commitment",
    "close": "closing",
}


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

    @property
    def entry(self) -> Optional[Dict[str, Any]]:
        if not self.cause or self.cause not in self.kb.causes:
            return None
        return self.kb.causes[self.cause]["domains"].get(self.domain)


class SuggestionBuilder:
    """Builds suggestions of each kind for a SuggestContext."""

    def __init__(self, context: SuggestContext, allow_reuse: bool = False) -> None:
        self.ctx = context
        self.allow_reuse = allow_reuse
        self.picked: List[Dict[str, Any]] = []

    def _pick(self, kind: str, lines: Iterable[str], source: str, **extra: Any) -> bool:
        """Add the first line not yet suggested in this case (or in this answer)."""
        excluded = {s["id"] for s in self.picked} | (set() if self.allow_reuse else self.ctx.used)
        candidates = [line for line in lines if line_id(source, line) not in excluded]
        if not candidates:
            return False
        text = candidates[0]
        self.picked.append({"id": line_id(source, text), "kind": kind,
                            "text": render(text, self.ctx.values), "source": source, **extra})
        return True

    def _cause_source(self) -> str:
        return self.ctx.kb.source(self.ctx.cause or "")

    def empathy(self) -> bool:
        lines = self.ctx.kb.empathy["emotions"][self.ctx.emotion]["lines"]
        return self._pick("empathy", lines, self.ctx.kb.source("empathy"))

    def restate(self) -> bool:
        entry = self.ctx.entry
        return entry is not None and self._pick("empathy", entry["restate"], self._cause_source())

    def situation(self) -> bool:
        added = False
        for name, situation in self.ctx.kb.empathy["situations"].items():
            if any(cue in self.ctx.text for cue in situation["cues"]):
                added |= self._pick("empathy", situation["lines"], self.ctx.kb.source("empathy"),
                                    situation=name)
        return added

    def explanation(self) -> bool:
        entry = self.ctx.entry
        if not entry:
            return False
        style = self.ctx.kb.empathy["emotions"][self.ctx.emotion]["style"]
        return self._pick("explanation", entry["explanations"][style], self._cause_source(), style=style)

    def question(self) -> bool:
        entry = self.ctx.entry
        if entry:
            return self._pick("question", entry["questions"], self._cause_source())
        return self._pick("question", self.ctx.kb.stages["clarify"]["lines"], self.ctx.kb.source("stages"))

    def choices(self) -> bool:
        entry = self.ctx.entry
        if not entry:
            return False
        options = [
            {"id": c["id"], "text": render(c["offer"], self.ctx.values),
             "means": render(c["means"], self.ctx.values), "cost": render(c["cost"], self.ctx.values),
             "approver": c["approver"]}
            for c in entry["choices"]
        ]
        text = "您看这几种办法哪一种更合适：" + "；".join(
            f"第{ORDINALS[i]}，{o['text'].rstrip('。')}" for i, o in enumerate(options)) + "。"
        source = self._cause_source()
        suggestion_id = line_id(source, "choices:" + ",".join(o["id"] for o in options))
        if suggestion_id in {s["id"] for s in self.picked}:
            return False  # the offer itself is repeated whenever the stage calls for it
        self.picked.append({"id": suggestion_id, "kind": "choices", "text": text,
                            "source": source, "options": options})
        return True

    def commitment(self) -> bool:
        entry = self.ctx.entry
        return entry is not None and self._pick("commitment", entry["commitments"], self._cause_source())

    def stage_line(self) -> bool:
        stage = self.ctx.stage
        return self._pick(STAGE_LINE_KIND[stage], self.ctx.kb.stages[stage]["lines"],
                          self.ctx.kb.source("stages"))

    def closing(self) -> bool:
        return self._pick("closing", self.ctx.kb.stages["close"]["lines"], self.ctx.kb.source("stages"))

    def escalation(self) -> bool:
        added = False
        for value in self.ctx.new_escalations:
            handling = self.ctx.kb.escalation["escalation"][value]
            added |= self._pick("escalation", handling["lines"], self.ctx.kb.source("escalation"),
                                escalation=value)
        return added


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
