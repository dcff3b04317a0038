"""One assist turn: the case so far plus a parsed utterance -> the answer.

Pure logic with no Rasa or HTTP in it, so it is tested directly; the custom
action reads the tracker into `CaseState` and writes the result back as slots.
"""

import re
from typing import Any, Callable, Dict, List, Optional

from deescalate.assist.analysis import ParsedTurn, emotion_peak, emotion_trend, parse_turn
from deescalate.assist.cause_evidence import (
    COMPLAINT,
    MORE_FACTS,
    NEW_COMPLAINT,
    TurnReading,
    add_evidence,
    case_cause,
    ranking_of,
    read_turn,
)
from deescalate.assist.facts import derive_facts, fact_spans, read_facts, tag_facts
from deescalate.assist.knowledge import build_knowledge
from deescalate.assist.render import TemplateValues, format_amount
from deescalate.assist.risk import approval_tier, assess_risk
from deescalate.assist.stage import next_stage
from deescalate.assist.state import AssistResult, AssistSettings, CaseState
from deescalate.assist.suggest import SuggestContext, build_suggestions, offered_choices
from deescalate.contract import CAUSE_DOMAINS
from deescalate.kb.conditions import condition, first_known_sum
from deescalate.kb.loader import KnowledgeBase, known_fact_names
from deescalate.learning.ranking import Figures, Ranker, seeded
from deescalate.learning.settings import RankingSettings

FiguresSource = Callable[[], Optional[Figures]]

_ORDINAL = re.compile(r"第\s*([一二两三四1-4])|([一二两三四1-4])\s*[个种条项号]|选\s*([一二两三四1-4])|(最后|后面那)")
_ORDINAL_VALUE = {"一": 0, "1": 0, "二": 1, "两": 1, "2": 1, "三": 2, "3": 2, "四": 3, "4": 3}


def detect_domain(kb: KnowledgeBase, cause: Optional[str], text: str, previous: Optional[str]) -> Optional[str]:
    """The domain of the case: from the cause, and its cue words when it has several."""
    if not cause:
        return previous
    candidates = CAUSE_DOMAINS.get(cause, ())
    if len(candidates) == 1:
        return candidates[0]
    for domain in candidates:
        if any(cue.lower() in text.lower() for cue in kb.domains[domain]["cues"]):
            return domain
    return previous if previous in candidates else candidates[0]


def chosen_option(text: str, options: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Which offered choice the customer picked: by ordinal, or by its wording."""
    match = _ORDINAL.search(text)
    if match and options:
        number = match.group(1) or match.group(2) or match.group(3)
        index = _ORDINAL_VALUE[number] if number else len(options) - 1
        return options[index] if index < len(options) else None
    for option in options:
        wording = option.get("offer") or option.get("text") or ""
        if (
            option["id"] in text
            or (wording and wording[:4] in text)
            or (option.get("short") and option["short"] in text)
        ):
            return option
    return None


class AssistEngine:
    """Holds the loaded knowledge base and settings; answers one turn at a time."""

    def __init__(
        self,
        kb: KnowledgeBase,
        settings: AssistSettings,
        figures: Optional[FiguresSource] = None,
        ranking: Optional[RankingSettings] = None,
    ) -> None:
        """`figures` gives the latest per-line figures (None: rank by fit alone); `ranking` how to use them."""
        self.kb = kb
        self.settings = settings
        self.tag_facts = tag_facts(kb.case_facts)
        known = set(known_fact_names(kb))
        for expressions in settings.demand_borne.values():
            for source in expressions:
                unknown = condition(source).names - known
                if unknown:
                    raise ValueError(
                        f"actions/assist.yml demand_borne '{source}' reads unknown facts {sorted(unknown)}"
                    )
        self.figures = figures
        self.ranking = ranking

    def ranker(self, case_id: str, turn_number: int) -> Optional[Ranker]:
        """The learned ranking for this turn, or None when there are no figures to learn from."""
        if self.figures is None or self.ranking is None:
            return None
        figures = self.figures()
        return Ranker(figures, self.ranking, seeded(case_id, turn_number)) if figures is not None else None

    def read(self, state: CaseState, turn: ParsedTurn) -> TurnReading:
        """What this turn is to the case's cause (cause_evidence.read_turn), reading its facts' spans
        in the case's domain so that their words are not taken for a grievance."""
        return read_turn(
            self.settings.cause_evidence,
            state.cause,
            turn.intent,
            turn.low_confidence,
            turn.cause_ranking,
            turn.text,
            fact_spans(self.kb.case_facts, turn.text, state.domain),
        )

    def turn(self, state: CaseState, parse: Dict[str, Any], case_id: str = "") -> AssistResult:
        turn = parse_turn(parse)
        reading = self.read(state, turn)
        new_state = self._remember(state, turn, reading)
        stated = reading.role in (COMPLAINT, NEW_COMPLAINT)
        new_cause = stated and new_state.cause != state.cause
        # A turn of facts the NLU filed under another cause moves the stage as information does.
        act = "provide_info" if reading.role == MORE_FACTS else turn.intent
        new_state.stage = next_stage(state.stage, act, turn.emotion, stated, new_cause, turn.low_confidence)

        trend = emotion_trend(new_state.emotion_history)
        wants_person = turn.intent == "request_human" or "escalate_to_manager" in turn.demands
        risk, reasons = assess_risk(
            self.settings.risk,
            new_state.escalation,
            turn.emotion,
            trend,
            new_state.amount,
            new_state.demand,
            wants_person,
        )
        facts = self.facts(new_state, turn.emotion)
        values = self._template_values(new_state, turn)
        situations = self._situations(turn.text, facts)
        context = SuggestContext(
            kb=self.kb,
            stage=new_state.stage,
            emotion=turn.emotion,
            text=turn.text,
            values=values,
            cause=new_state.cause,
            domain=new_state.domain,
            new_escalations=[e for e in turn.escalations if e not in state.escalation] or turn.escalations,
            used=set(state.suggested_ids),
            facts=facts,
            tag_facts=self.tag_facts,
            situations=situations,
            approve=lambda borne: approval_tier(self.kb.approval, borne, new_state.domain),
            ranker=self.ranker(case_id, new_state.turns),
        )
        if turn.intent == "choose_option" and new_state.cause:
            # Ordinals count the choices as they were offered, best fit first.
            picked = chosen_option(turn.text, offered_choices(context))
            new_state.chosen_option = picked["id"] if picked else new_state.chosen_option
        approval = self._approval(new_state, context)
        # An unsure turn in a case whose cause is known goes on with the case; without a cause, ask.
        plan_name = new_state.stage if new_state.cause and (not turn.low_confidence or state.cause) else "no_cause"
        suggestions = build_suggestions(context, self.settings.plans[plan_name], self.settings.max_suggestions)
        shown = state.suggested_ids + [s["id"] for s in suggestions if s["id"] not in state.suggested_ids]
        new_state.suggested_ids = shown[-self.settings.remember_suggestions :]

        analysis = {
            "intent": {"name": turn.intent, "confidence": turn.confidence},
            "low_confidence": turn.low_confidence,
            "emotion": {"name": turn.emotion, "confidence": turn.emotion_confidence},
            "emotion_trend": trend,
            "emotion_peak": new_state.emotion_peak,
            "cause": new_state.cause,
            "turn_cause": turn.cause_summary(),
            "turn_reading": {"role": reading.role, "reasons": list(reading.reasons)},
            "cause_ranking": ranking_of(new_state.cause_scores),
            "domain": new_state.domain,
            "escalation": new_state.escalation,
            "risk": risk,
            "risk_reasons": reasons,
            "stage": new_state.stage,
            "amount": new_state.amount,
            "approval": approval,
            "demand": new_state.demand,
            "product": new_state.product,
            "chosen_option": new_state.chosen_option,
            "facts": dict(new_state.case_facts),
            "situations": situations,
            "abnormal": list(new_state.abnormal),
        }
        alerts = self._alerts(turn, new_state, risk, reasons, approval, wants_person)
        knowledge = build_knowledge(
            self.kb,
            cause=new_state.cause,
            domain=new_state.domain,
            stage=new_state.stage,
            facts=facts,
            tag_facts=self.tag_facts,
            situations=situations,
            escalations=new_state.escalation,
            abnormal=new_state.abnormal,
        )
        return AssistResult(
            analysis=analysis, suggestions=suggestions, alerts=alerts, state=new_state, knowledge=knowledge
        )

    def _remember(self, state: CaseState, turn: ParsedTurn, reading: TurnReading) -> CaseState:
        """The case after this turn: its cause evidence weighed by what the turn is to the case."""
        evidence = self.settings.cause_evidence
        scores = add_evidence(evidence, state.cause_scores, turn.cause_ranking, reading.weight)
        cause = case_cause(evidence, scores, state.cause, reading.may_switch)
        # The domain is settled with the cause: a bank branch named later in a
        # mis-sold policy case does not turn it into a bank case.
        domain = (
            state.domain
            if cause == state.cause and state.domain
            else detect_domain(self.kb, cause, turn.text, state.domain)
        )
        return CaseState(
            cause=cause,
            domain=domain,
            stage=state.stage,
            amount=turn.amount if turn.amount is not None else state.amount,
            product=turn.product or state.product,
            chosen_option=state.chosen_option,
            demand=state.demand + [d for d in turn.demands if d not in state.demand],
            escalation=state.escalation + [e for e in turn.escalations if e not in state.escalation],
            emotion_history=(state.emotion_history + [turn.emotion])[-self.settings.remember_emotions :],
            emotion_peak=emotion_peak([e for e in (state.emotion_peak, turn.emotion) if e]),
            turns=state.turns + 1,
            suggested_ids=list(state.suggested_ids),
            case_facts={**state.case_facts, **read_facts(self.kb.case_facts, turn.text, domain)},
            abnormal=state.abnormal
            + [
                name
                for name, detail in self.kb.escalation["abnormal"].items()
                if name not in state.abnormal and any(cue in turn.text for cue in detail["cues"])
            ],
            cause_scores=scores,
        )

    def facts(self, state: CaseState, emotion: str) -> Dict[str, Any]:
        """Everything a condition may test: the customer's facts and what the engine knows."""
        heated = 0
        for name in reversed(state.emotion_history):
            if name not in ("angry", "furious"):
                break
            heated += 1
        facts = {
            **state.case_facts,
            "amount": state.amount,
            "product": state.product,
            "emotion": emotion,
            "heated_turns": heated,
            "domain": state.domain,
            "cause": state.cause,
            "stage": state.stage,
            "demands": list(state.demand),
            "escalations": list(state.escalation),
            "turns": state.turns,
            "abnormal": list(state.abnormal),
        }
        return {**facts, **derive_facts(self.kb.case_facts, facts)}

    def _situations(self, text: str, facts: Dict[str, Any]) -> List[str]:
        """Situations whose condition the case facts meet (first), or named by a cue in this turn."""
        by_facts, by_cue = [], []
        for name, situation in self.kb.empathy["situations"].items():
            if situation.get("when") and condition(situation["when"]).evaluate(facts) is True:
                by_facts.append(name)
            elif any(cue in text for cue in situation["cues"]):
                by_cue.append(name)
        return by_facts + by_cue

    def _approval(self, state: CaseState, context: SuggestContext) -> Optional[Dict[str, Any]]:
        """Who approves what the company would bear: the chosen option's cost, or a money demand's."""
        borne, basis = None, None
        if state.chosen_option:
            card = next((o for o in offered_choices(context) if o["id"] == state.chosen_option), None)
            if card and card["approver"] != "none":
                borne, basis = card["borne"], "chosen_option"
        if borne is None and any(d in self.settings.money_demands for d in state.demand):
            borne, basis = self._demand_borne(state.demand, context.facts), "demand"
        tier = approval_tier(self.kb.approval, borne, state.domain)
        if not tier:
            return None
        return {**tier, "borne": borne, "borne_from": basis, "customer_phrase": self.kb.approval["customer_phrase"]}

    def _demand_borne(self, demands: List[str], facts: Dict[str, Any]) -> Optional[float]:
        """What a money demand would cost the company: the first known `demand_borne` expression
        of the first listed demand the case has (the sums' roles as the customer said them)."""
        for demand, sources in self.settings.demand_borne.items():
            value = first_known_sum(sources, facts) if demand in demands else None
            if value is not None:
                return value
        return None

    def _template_values(self, state: CaseState, turn: ParsedTurn) -> TemplateValues:
        values = TemplateValues()
        if state.product:
            values["product"] = state.product
        if state.amount is not None:
            values["amount"] = format_amount(state.amount)
        for name, value in state.case_facts.items():
            if self.kb.case_facts.get(name, {}).get("kind") in ("text", "number"):
                values[name] = str(value)
            elif self.kb.case_facts.get(name, {}).get("kind") == "money":
                values[name] = format_amount(value)
        if state.cause:
            values["cause_label"] = self.kb.causes[state.cause]["label"]
        if state.domain:
            values["domain_label"] = self.kb.domains[state.domain]["label"]
        values["emotion_label"] = self.kb.empathy["emotions"][turn.emotion]["label"]
        return values

    def _needs_approval(self, state: CaseState) -> bool:
        if any(d in self.settings.money_demands for d in state.demand):
            return True
        if state.chosen_option and state.cause:
            entry = self.kb.causes[state.cause]["domains"].get(state.domain) or {"choices": []}
            return any(c["id"] == state.chosen_option and c["approver"] != "none" for c in entry["choices"])
        return False

    def _alerts(
        self,
        turn: ParsedTurn,
        state: CaseState,
        risk: str,
        reasons: List[str],
        approval: Optional[Dict[str, Any]],
        wants_person: bool,
    ) -> List[Dict[str, str]]:
        alerts = []
        if risk == "high":
            notes = [self.kb.escalation["escalation"][e]["supervisor_note"] for e in state.escalation]
            alerts.append(
                {
                    "kind": "supervisor",
                    "text": "高风险案件，请主管关注（" + "；".join(reasons) + "）。" + "".join(notes),
                }
            )
        if approval and self._needs_approval(state):
            domain_label = self.kb.domains[state.domain]["label"] if state.domain else ""
            alerts.append(
                {
                    "kind": "approval",
                    "role": approval["role"],
                    "text": f"公司预计承担{format_amount(approval['borne'])}，按{domain_label}审批权限需"
                    f"{approval['role_label']}审批后才能承诺；对客户只说“{approval['customer_phrase']}”。",
                }
            )
        if wants_person:
            alerts.append(
                {"kind": "handoff", "text": "客户要求转人工或找主管，请尽快安排接手，并告诉客户多久会有人联系。"}
            )
        return alerts
