"""The case record: what happened in a case, as data and as readable Chinese.

Built from the case's Rasa events (as stored in the tracker store), so the
assist API, the agent console and trainer review all show the same record.
"""
import datetime as dt
from typing import Any, Dict, List, Optional

from deescalate.assist.analysis import assist_of, emotion_peak, emotion_trend
from deescalate.assist.render import format_amount
from deescalate.kb.loader import KnowledgeBase

_QUOTE_CHARS = 40


def _time(timestamp: Optional[float]) -> Optional[str]:
    if not timestamp:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


def _turns(events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    turns = []
    for event in events:
        if event.get("event") == "user":
            parse = event.get("parse_data") or {}
            turns.append({"speaker": "customer", "time": _time(event.get("timestamp")), "text": event.get("text") or "",
                          "intent": (parse.get("intent") or {}).get("name"),
                          "emotion": (parse.get("emotion") or {}).get("name")})
        elif event.get("event") == "bot" and (event.get("metadata") or {}).get("author") == "agent":
            metadata = event["metadata"]
            turns.append({"speaker": "agent", "time": _time(event.get("timestamp")), "text": event.get("text") or "",
                          "agent": metadata.get("agent_name"), "suggestion_id": metadata.get("suggestion_id"),
                          "taboo": metadata.get("taboo") or []})
    return turns


def _status(turns: List[Dict[str, Any]], analysis: Dict[str, Any], alerts: List[Dict[str, Any]]) -> str:
    if analysis.get("stage") == "close":
        return "resolved"
    if any(alert.get("kind") == "approval" for alert in alerts) and analysis.get("chosen_option"):
        return "awaiting_approval"
    if any(turn["speaker"] == "agent" for turn in turns):
        return "in_progress"
    return "open"


def build_case_record(case_id: str, events: List[Dict[str, Any]], kb: KnowledgeBase) -> Dict[str, Any]:
    """The record of a case from its events."""
    slots: Dict[str, Any] = {}
    analysis: Dict[str, Any] = {}
    alerts: List[Dict[str, Any]] = []
    channel = None
    for event in events:
        if event.get("event") == "slot":
            slots[event.get("name")] = event.get("value")
        elif event.get("event") == "user":
            channel = channel or event.get("input_channel")
        payload = assist_of(event)
        if payload:
            analysis, alerts = payload.get("analysis") or {}, payload.get("alerts") or []
    turns = _turns(events)
    history = [t["emotion"] for t in turns if t["speaker"] == "customer" and t["emotion"]]
    agents = [t.get("agent") for t in turns if t["speaker"] == "agent" and t.get("agent")]
    record = {
        "case_id": case_id,
        "channel": "chat" if channel == "socketio" else "hotline",
        "created_at": turns[0]["time"] if turns else None,
        "updated_at": turns[-1]["time"] if turns else None,
        "cause": slots.get("cause"),
        "domain": slots.get("domain"),
        "demand": slots.get("demand") or [],
        "amount": slots.get("amount"),
        "approval": analysis.get("approval"),
        "first_handler": agents[0] if agents else None,
        "emotion_peak": emotion_peak(history),
        "emotion_last": history[-1] if history else None,
        "emotion_trend": emotion_trend(history),
        "escalation": slots.get("escalation") or [],
        "risk": analysis.get("risk"),
        "stage": slots.get("stage"),
        "status": _status(turns, analysis, alerts),
        "taboo_hits": sum(len(t.get("taboo") or []) for t in turns if t["speaker"] == "agent"),
        "turns": turns,
    }
    record["narrative"] = narrative(record, kb)
    return record


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "…"


def narrative(record: Dict[str, Any], kb: KnowledgeBase) -> str:
    """A few sentences of what happened, built from the turns and the analysis."""
    customer = [t for t in record["turns"] if t["speaker"] == "customer"]
    agent = [t for t in record["turns"] if t["speaker"] == "agent"]
    if not customer:
        return "客户尚未陈述问题。"
    parts = [f"客户通过{kb.label('channels', record['channel'])}反映"
             f"{kb.label('causes', record['cause']) or '问题（原因待确认）'}"
             + (f"（{kb.label('domains', record['domain'])}业务）" if record["domain"] else "")
             + f"，首次陈述：“{_quote(customer[0]['text'])}”。"]
    if len(customer) > 1:
        parts.append(f"共陈述{len(customer)}次，最近一次：“{_quote(customer[-1]['text'])}”。")
    if record["demand"]:
        parts.append("客户诉求：" + "、".join(kb.label("demands", d) for d in record["demand"]) + "。")
    if record["amount"]:
        approval = record.get("approval") or {}
        parts.append(f"涉及金额{format_amount(record['amount'])}"
                     + (f"，按权限需{approval['role_label']}审批" if approval.get("role_label") else "") + "。")
    if record["escalation"]:
        parts.append("客户提出：" + "、".join(kb.label("escalation", e) for e in record["escalation"]) + "。")
    parts.append(f"情绪最高为{kb.label('emotions', record['emotion_peak'])}，"
                 f"目前{kb.label('emotions', record['emotion_last'])}。")
    parts.append(f"坐席已回复{len(agent)}次" + (f"，首问负责人{record['first_handler']}" if record["first_handler"] else "")
                 + f"；当前阶段：{kb.label('stages', record['stage']) or '倾听'}。")
    return "".join(parts)


def render_record_zh(record: Dict[str, Any], kb: KnowledgeBase) -> str:
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
