"""The case record: what happened in a case, as data and as readable Chinese.

The record is the case row (deescalate/cases.py owns every rule that derives
it) with the case's turns (deescalate/events.py reads them) and one narrative,
so the assist API, the agent console and trainer review show the same case.
"""

import datetime as dt
from typing import Any, Dict, List, Optional, Protocol

from deescalate import events as stored
from deescalate.assist.analysis import emotion_trend
from deescalate.assist.render import format_amount
from deescalate.cases import derived_case
from deescalate.db.models import Case
from deescalate.events import Turn

_QUOTE_CHARS = 40


class LabelSource(Protocol):
    """Chinese names of contract values: the knowledge base, or the console's labels when it does not load."""

    def label(self, group: str, name: Optional[str]) -> str: ...


def _time(timestamp: Optional[float]) -> Optional[str]:
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


def turn_view(turn: Turn) -> Dict[str, Any]:
    """A customer or agent turn as the record shows it."""
    if turn.speaker == "customer":
        return {
            "speaker": "customer",
            "time": _time(turn.timestamp),
            "text": turn.text,
            "intent": turn.intent,
            "emotion": turn.emotion,
        }
    return {
        "speaker": "agent",
        "time": _time(turn.timestamp),
        "text": turn.text,
        "agent": turn.agent,
        "suggestion_id": turn.suggestion_id,
        "taboo": turn.taboo,
    }


def build_case_record(
    case_id: str,
    events: List[Dict[str, Any]],
    kb: LabelSource,
    case: Optional[Case] = None,
    slots: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """The record of a case: its row (derived from the events by the case rules when there is none
    to read), its turns and its narrative."""
    if case is None:
        case = derived_case(case_id, events, slots)
    payloads = stored.assist_payloads(events)
    analysis = (payloads[-1].get("analysis") or {}) if payloads else {}
    turns = [turn_view(t) for t in stored.turns(events)]
    history = [t["emotion"] for t in turns if t["speaker"] == "customer" and t["emotion"]]
    record = {
        "case_id": case_id,
        "channel": case.channel,
        "created_at": turns[0]["time"] if turns else None,
        "updated_at": turns[-1]["time"] if turns else None,
        "cause": case.cause,
        "domain": case.domain,
        "demand": list(case.demand or []),
        "amount": case.amount,
        "approval": analysis.get("approval"),
        "first_handler": case.first_handler,
        "emotion_peak": case.emotion_peak,
        "emotion_last": case.emotion_last,
        "emotion_trend": emotion_trend(history),
        "escalation": list(case.escalation or []),
        "risk": case.risk,
        "stage": case.stage,
        "status": case.status,
        "taboo_hits": case.taboo_hits or 0,
        "turns": turns,
    }
    record["narrative"] = case.narrative or narrative(record, kb)
    return record


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "…"


def narrative(record: Dict[str, Any], kb: LabelSource) -> str:
    """A few sentences of what happened, built from the turns and the analysis."""
    customer = [t for t in record["turns"] if t["speaker"] == "customer"]
    agent = [t for t in record["turns"] if t["speaker"] == "agent"]
    if not customer:
        return "客户尚未陈述问题。"
    parts = [
        f"客户通过{kb.label('channels', record['channel'])}反映"
        f"{kb.label('causes', record['cause']) or '问题（原因待确认）'}"
        + (f"（{kb.label('domains', record['domain'])}业务）" if record["domain"] else "")
        + f"，首次陈述：“{_quote(customer[0]['text'])}”。"
    ]
    if len(customer) > 1:
        parts.append(f"共陈述{len(customer)}次，最近一次：“{_quote(customer[-1]['text'])}”。")
    if record["demand"]:
        parts.append("客户诉求：" + "、".join(kb.label("demands", d) for d in record["demand"]) + "。")
    if record["amount"]:
        approval = record.get("approval") or {}
        parts.append(
            f"涉及金额{format_amount(record['amount'])}"
            + (f"，按权限需{approval['role_label']}审批" if approval.get("role_label") else "")
            + "。"
        )
    if record["escalation"]:
        parts.append("客户提出：" + "、".join(kb.label("escalation", e) for e in record["escalation"]) + "。")
    parts.append(
        f"情绪最高为{kb.label('emotions', record['emotion_peak'])}，"
        f"目前{kb.label('emotions', record['emotion_last'])}。"
    )
    parts.append(
        f"坐席已回复{len(agent)}次"
        + (f"，首问负责人{record['first_handler']}" if record["first_handler"] else "")
        + f"；当前阶段：{kb.label('stages', record['stage']) or '倾听'}。"
    )
    return "".join(parts)


def render_record_zh(record: Dict[str, Any], kb: LabelSource) -> str:
    """The record as readable Chinese text, one field per line."""
    approval = record.get("approval") or {}
    lines = [
        f"案件编号：{record['case_id']}",
        f"渠道：{kb.label('channels', record['channel'])}",
        f"投诉原因：{kb.label('causes', record['cause']) or '待确认'}",
        f"业务领域：{kb.label('domains', record['domain']) or '待确认'}",
        f"客户诉求：{'、'.join(kb.label('demands', d) for d in record['demand']) or '未明确'}",
        f"涉及金额：{format_amount(record['amount']) or '无'}"
        + (f"（第{approval['tier']}档，需{approval['role_label']}审批）" if approval else ""),
        f"首问负责人：{record['first_handler'] or '未指定'}",
        f"情绪峰值：{kb.label('emotions', record['emotion_peak']) or '无'}",
        f"升级风险：{'、'.join(kb.label('escalation', e) for e in record['escalation']) or '无'}",
        f"风险等级：{kb.label('risks', record['risk']) or '无'}",
        f"当前阶段：{kb.label('stages', record['stage']) or '倾听'}",
        f"处理状态：{kb.label('statuses', record['status'])}",
        f"事件经过：{record['narrative']}",
    ]
    return "\n".join(lines)
