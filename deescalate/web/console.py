"""The agent console: live case queue, case view with analysis, suggestions,
taboo check of the draft, case record, and the supervisors' high-risk banner.

Everything the console shows is read from the database (the `cases` table
and Rasa's `events` table) with SQLAlchemy, so any number of web processes
serve the same live view. The browser talks only to these routes; the
assist API token stays on the server, which forwards customer utterances
and agent drafts to Rasa's assist API.
"""
import asyncio
import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import aiohttp
import yaml
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from deescalate.assist.analysis import assist_of
from deescalate.assist.risk import approval_tier
from deescalate.contract import CAUSES, DOMAINS, EMOTIONS, ESCALATIONS
from deescalate.cases import overdue_cases
from deescalate.db.models import CASE_STATUSES, Case, utcnow
from deescalate.web.auth import (CsrfError, add_security_headers, check_csrf, db_session, render,
                                 require_role, wants_html)

logger = logging.getLogger(__name__)

bp = Blueprint("console")
bp.middleware(add_security_headers, "response")

AGENT_ROLES = ("agent", "supervisor", "admin")
SUPERVISOR_ROLES = ("supervisor", "admin")
KB_DIR = Path(__file__).resolve().parents[2] / "scripts_kb"
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
RISK_ORDER = {"high": 0, "medium": 1, "low": 2}
EMOTION_LEVEL = {name: level for level, name in enumerate(EMOTIONS)}
POLL_SECONDS = 0.6
STREAM_SECONDS = 120          # the browser reconnects (with Last-Event-ID) after this
HEARTBEAT_SECONDS = 15
QUEUE_LIMIT = 200
MAX_FIELD = {"demand_note": 2000, "narrative": 5000, "first_handler": 64}
ASSIST_TIMEOUT = aiohttp.ClientTimeout(total=60)


# ---------------------------------------------------------------- labels

class Labels:
    """Chinese names of contract values, from the knowledge base.

    Uses the full knowledge base when it loads; otherwise labels.yml and
    approval.yml alone, so a half-edited KB never takes the console down.
    """

    RETRY_SECONDS = 30.0

    def __init__(self, root: Path = KB_DIR) -> None:
        self.root = root
        self._kb: Any = None
        self._loaded_at = float("-inf")
        self._plain: Dict[str, Any] = {}
        self._approval: Dict[str, Any] = {}

    def _load(self) -> None:
        if self._kb is not None or time.monotonic() - self._loaded_at < self.RETRY_SECONDS:
            return
        self._loaded_at = time.monotonic()
        from deescalate.kb import load_kb
        try:
            self._kb = load_kb(self.root)
            self._approval = self._kb.approval
            return
        except Exception as error:  # any broken KB file: fall back to the plain label files
            logger.warning("knowledge base not loaded, showing plain labels: %s", error)
        for name, target in (("labels.yml", "_plain"), ("approval.yml", "_approval")):
            try:
                setattr(self, target, yaml.safe_load((self.root / name).read_text(encoding="utf-8")) or {})
            except (OSError, yaml.YAMLError):
                setattr(self, target, {})

    @property
    def kb(self) -> Any:
        """The loaded knowledge base, or None while it does not load."""
        self._load()
        return self._kb

    def label(self, group: str, name: Optional[str]) -> str:
        if not name:
            return ""
        self._load()
        if self._kb is not None:
            try:
                return self._kb.label(group, name)
            except (KeyError, AttributeError):
                return name
        return str((self._plain.get(group) or {}).get(name, name))

    def approver(self, role: Optional[str]) -> str:
        self._load()
        return str((self._approval.get("roles") or {}).get(role, role or ""))

    def approval(self, amount: Optional[float]) -> Optional[Dict[str, Any]]:
        self._load()
        if not self._approval.get("tiers"):
            return None
        return approval_tier(self._approval, amount)

    def group(self, group: str, names: List[str]) -> Dict[str, str]:
        return {name: self.label(group, name) for name in names}

    def for_client(self) -> Dict[str, Dict[str, str]]:
        """Every label the case page's script needs, in one object."""
        self._load()
        plain = self._kb.labels if self._kb is not None else self._plain
        result = {group: self.group(group, list((plain.get(group) or {}).keys()))
                  for group in ("stages", "demands", "risks", "kinds", "statuses", "channels", "alerts")}
        result["causes"] = {**self.group("intents", list((plain.get("intents") or {}).keys())),
                            **self.group("causes", list(CAUSES))}
        result["domains"] = self.group("domains", list(DOMAINS))
        result["emotions"] = self.group("emotions", list(EMOTIONS))
        result["escalation"] = self.group("escalation", list(ESCALATIONS))
        result["approvers"] = {role: self.approver(role) for role in (self._approval.get("roles") or {})}
        return result


labels = Labels()


# ---------------------------------------------------------------- reading cases and events

def valid_case_id(case_id: str) -> bool:
    return bool(CASE_ID.match(case_id or ""))


def case_summary(case: Case) -> Dict[str, Any]:
    """A case row for the queue and banner, with Chinese labels."""
    return {
        "case_id": case.case_id,
        "channel": labels.label("channels", case.channel),
        "cause": labels.label("causes", case.cause),
        "emotion": case.emotion_last or "",
        "emotion_label": labels.label("emotions", case.emotion_last),
        "risk": case.risk or "",
        "risk_label": labels.label("risks", case.risk),
        "stage": labels.label("stages", case.stage),
        "status": case.status,
        "status_label": labels.label("statuses", case.status),
        "handoff": bool(case.handoff),
        "escalation": [labels.label("escalation", e) for e in (case.escalation or [])],
        "turns": case.turns or 0,
        "first_handler": case.first_handler or "",
        "updated_at": case.updated_at.isoformat(timespec="seconds") + "Z" if case.updated_at else "",
    }


def queue_order(case: Case) -> Tuple[int, int, float]:
    """Hand-offs first, then riskiest, then most recently active."""
    updated = case.updated_at.timestamp() if case.updated_at else 0.0
    return (0 if case.handoff else 1, RISK_ORDER.get(case.risk or "", 3), -updated)


def live_cases() -> List[Dict[str, Any]]:
    with db_session() as session:
        cases = session.query(Case).filter(Case.status != "closed").limit(QUEUE_LIMIT * 5).all()
    return [case_summary(c) for c in sorted(cases, key=queue_order)[:QUEUE_LIMIT]]


def high_risk_cases() -> List[Dict[str, Any]]:
    with db_session() as session:
        cases = (session.query(Case).filter(Case.status != "closed", Case.risk == "high")
                 .order_by(Case.updated_at.desc()).limit(50).all())
    return [case_summary(c) for c in cases]


def overdue_summaries() -> List[Dict[str, Any]]:
    """The supervisor's list: cases still waiting for an answer past their reply deadline."""
    now = utcnow()
    with db_session() as session:
        cases = overdue_cases(session, now=now)[:QUEUE_LIMIT]
    return [{**case_summary(c), "reply_deadline": c.reply_deadline.isoformat(timespec="minutes"),
             "hours_late": round((now - c.reply_deadline).total_seconds() / 3600, 1)} for c in cases]


def load_case(case_id: str) -> Optional[Case]:
    with db_session() as session:
        return session.get(Case, case_id)


def read_events(case_id: str, after: int = 0, limit: int = 500,
                every_kind: bool = False) -> List[Tuple[int, str, float, Dict[str, Any]]]:
    """Rasa's stored user and bot events (or all events) of a case with id > after, oldest first."""
    kinds = "" if every_kind else "AND type_name IN ('user', 'bot') "
    query = text("SELECT id, type_name, timestamp, data FROM events WHERE sender_id = :sender "
                 f"AND id > :after {kinds}ORDER BY id LIMIT :limit")
    try:
        with db_session() as session:
            rows = session.execute(query, {"sender": case_id, "after": after, "limit": limit}).fetchall()
    except (OperationalError, ProgrammingError):  # Rasa has not created its table yet
        return []
    events = []
    for row in rows:
        try:
            data = json.loads(row[3]) if row[3] else {}
        except ValueError:
            data = {}
        events.append((int(row[0]), row[1], float(row[2] or 0.0), data))
    return events


def items_from_events(events: List[Tuple[int, str, float, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """Transcript turns (customer, agent, bot) and assist answers, in order."""
    items: List[Dict[str, Any]] = []
    for event_id, kind, timestamp, data in events:
        if kind == "user":
            parse = data.get("parse_data") or {}
            items.append({"type": "turn", "id": event_id, "who": "customer", "time": timestamp,
                          "text": data.get("text") or "",
                          "emotion": (parse.get("emotion") or {}).get("name"),
                          "intent": (parse.get("intent") or {}).get("name")})
            continue
        metadata = data.get("metadata") or {}
        assist = assist_of(data)
        if assist is not None:
            items.append({"type": "assist", "id": event_id, "time": timestamp,
                          "analysis": assist.get("analysis") or {},
                          "suggestions": assist.get("suggestions") or [],
                          "alerts": assist.get("alerts") or []})
        if data.get("text"):
            who = "agent" if metadata.get("author") == "agent" else "bot"
            items.append({"type": "turn", "id": event_id, "who": who, "time": timestamp,
                          "text": data["text"], "suggestion_id": metadata.get("suggestion_id"),
                          "taboo": metadata.get("taboo") or []})
    return items


def emotion_levels(items: List[Dict[str, Any]]) -> List[int]:
    return [EMOTION_LEVEL.get(i.get("emotion") or "calm", 0)
            for i in items if i["type"] == "turn" and i["who"] == "customer"]


def latest_assist(items: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return next((i for i in reversed(items) if i["type"] == "assist"), None)


def draft_narrative(case_id: str, case: Optional[Case], items: List[Dict[str, Any]]) -> str:
    """A short Chinese account of the case from the customer's turns and the analysis:
    the same narrative as the assist API's case record when the knowledge base is
    loaded, else a plainer one from the console's own reading of the turns."""
    customer = [i for i in items if i["type"] == "turn" and i["who"] == "customer"]
    if not customer:
        return ""
    if labels.kb is not None:
        from deescalate.assist.record import build_case_record, narrative
        events = [data for _id, _kind, _time, data in read_events(case_id, limit=5000, every_kind=True)]
        return narrative(build_case_record(case_id, events, labels.kb), labels.kb)
    assist = latest_assist(items)
    analysis = assist["analysis"] if assist else {}
    cause = analysis.get("cause") or (case.cause if case else None)
    channel = labels.label("channels", case.channel if case else "hotline")
    parts = [f"客户通过{channel}反映" + (f"“{labels.label('causes', cause)}”问题" if cause else "问题") + "。"]
    first = customer[0]["text"].strip()
    parts.append(f"客户称：“{first[:80]}{'…' if len(first) > 80 else ''}”。")
    emotions = [i.get("emotion") for i in customer if i.get("emotion")]
    if emotions:
        start, end = labels.label("emotions", emotions[0]), labels.label("emotions", emotions[-1])
        parts.append(f"情绪{start}" + (f"，后为{end}" if end != start else "") + "。")
    demands = analysis.get("demand") or (case.demand if case else []) or []
    if demands:
        parts.append("诉求：" + "、".join(labels.label("demands", d) for d in demands) + "。")
    amount = analysis.get("amount") if analysis.get("amount") is not None else (case.amount if case else None)
    if amount:
        parts.append(f"涉及金额{amount:,.0f}元。")
    escalation = analysis.get("escalation") or (case.escalation if case else []) or []
    if escalation:
        parts.append("客户提及" + "、".join(labels.label("escalation", e) for e in escalation) + "。")
    parts.append(f"共{len(customer)}轮客户陈述。")
    return "".join(parts)


def record_view(case_id: str, case: Optional[Case], items: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The editable case record; narrative pre-filled from the turns when empty."""
    assist = latest_assist(items)
    analysis = assist["analysis"] if assist else {}
    return {
        "exists": case is not None,
        "cause": (case.cause if case else None) or analysis.get("cause") or "",
        "demand_note": (case.demand_note if case else None) or "、".join(
            labels.label("demands", d) for d in ((case.demand if case else None) or analysis.get("demand") or [])),
        "amount": case.amount if case and case.amount is not None else analysis.get("amount"),
        "approval_tier": case.approval_tier if case else None,
        "approval_role": labels.approver(case.approval_role) if case and case.approval_role else "",
        "first_handler": (case.first_handler if case else None) or "",
        "narrative": (case.narrative if case else None) or draft_narrative(case_id, case, items),
        "narrative_drafted": not (case and case.narrative),
        "status": case.status if case else "open",
        "updated_at": case.updated_at.isoformat(timespec="seconds") + "Z" if case and case.updated_at else "",
    }


def case_snapshot(case_id: str) -> Dict[str, Any]:
    items = items_from_events(read_events(case_id))
    case = load_case(case_id)
    return {"case_id": case_id, "items": items, "record": record_view(case_id, case, items),
            "summary": case_summary(case) if case else None,
            "last_event": max((i["id"] for i in items), default=0)}


# ---------------------------------------------------------------- writing the record

def _clean_text(value: Any, field: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field} 必须是文字")
    value = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
    if len(value) > MAX_FIELD[field]:
        raise ValueError(f"{field} 太长（最多 {MAX_FIELD[field]} 字）")
    return value or None


def _clean_amount(value: Any) -> Optional[float]:
    if value in (None, ""):
        return None
    try:
        amount = float(str(value).replace(",", "").replace("，", ""))
    except ValueError:
        raise ValueError("金额必须是数字") from None
    if not 0 <= amount <= 1e12:
        raise ValueError("金额超出范围")
    return amount


def record_changes(body: Dict[str, Any]) -> Dict[str, Any]:
    """The validated fields of a record edit; raises ValueError with a Chinese message."""
    changes: Dict[str, Any] = {}
    if "cause" in body:
        cause = body.get("cause") or None
        if cause is not None and cause not in CAUSES:
            raise ValueError("未知的投诉原因")
        changes["cause"] = cause
    for field in ("demand_note", "narrative", "first_handler"):
        if field in body:
            changes[field] = _clean_text(body.get(field), field)
    if "amount" in body:
        changes["amount"] = _clean_amount(body.get("amount"))
        tier = labels.approval(changes["amount"])
        changes["approval_tier"] = tier["tier"] if tier else None
        changes["approval_role"] = tier["role"] if tier else None
    if "status" in body:
        if body.get("status") not in CASE_STATUSES:
            raise ValueError("未知的案件状态")
        changes["status"] = body["status"]
    return changes


def save_record(case_id: str, changes: Dict[str, Any]) -> Case:
    """Apply the edit; the case row is created if the tracker has not made it yet."""
    for _attempt in range(2):
        with db_session() as session:
            case = session.get(Case, case_id)
            if case is None:
                case = Case(case_id=case_id, channel="hotline", status="open", demand=[], escalation=[])
                session.add(case)
            for key, value in changes.items():
                setattr(case, key, value)
            try:
                session.commit()
                return case
            except IntegrityError:  # created at the same moment by the tracker store: apply again
                session.rollback()
    raise RuntimeError("could not save the case record")


def mark_agent_reply(case_id: str, username: str) -> None:
    """The first agent to reply becomes the first handler; an open case is now in progress."""
    with db_session() as session:
        case = session.get(Case, case_id)
        if case is None:
            return
        if not case.first_handler:
            case.first_handler = username
        if case.status == "open":
            case.status = "in_progress"
        session.commit()


# ---------------------------------------------------------------- talking to the assist API

@bp.listener("before_server_start")
async def _open_http(app: Any, _loop: Any) -> None:
    app.ctx.console_http = aiohttp.ClientSession(timeout=ASSIST_TIMEOUT)


@bp.listener("after_server_stop")
async def _close_http(app: Any, _loop: Any) -> None:
    await app.ctx.console_http.close()


async def call_assist(request: Request, path: str, body: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    """POST to Rasa's assist API with the server's token; (status, JSON answer)."""
    url = request.app.config.RASA_URL.rstrip("/") + f"/webhooks/assist/{path}"
    headers = {"Authorization": f"Bearer {request.app.config.ASSIST_API_TOKEN}"}
    try:
        async with request.app.ctx.console_http.post(url, json=body, headers=headers) as reply:
            try:
                answer = await reply.json(content_type=None)
            except ValueError:
                answer = {"error": "bad_answer", "message": "助手服务返回了无法识别的内容"}
            return reply.status, answer if isinstance(answer, dict) else {"error": "bad_answer"}
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        logger.warning("assist API unreachable at %s: %s", url, error)
        return 502, {"error": "assist_unavailable", "message": "助手服务暂时无法连接，请稍后重试"}


def json_error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status, ensure_ascii=False)


def _json_body(request: Request) -> Dict[str, Any]:
    try:
        body = request.json
    except Exception:  # Sanic raises InvalidUsage on malformed JSON
        body = None
    if not isinstance(body, dict):
        raise ValueError("请求内容必须是 JSON 对象")
    return body


def _guard_post(request: Request, case_id: str) -> Optional[HTTPResponse]:
    """CSRF and case id checks shared by the console's state-changing routes."""
    try:
        check_csrf(request)
    except CsrfError:
        return json_error(403, "csrf", "安全令牌无效，请刷新页面")
    if not valid_case_id(case_id):
        return json_error(400, "invalid_case_id", "案件编号无效")
    return None


def _guarded_json(request: Request, case_id: str) -> Tuple[Dict[str, Any], Optional[HTTPResponse]]:
    """The JSON object posted about a case, or the refusal to answer instead."""
    refused = _guard_post(request, case_id)
    if refused:
        return {}, refused
    try:
        return _json_body(request), None
    except ValueError as error:
        return {}, json_error(400, "invalid_json", str(error))


# ---------------------------------------------------------------- pages

def _page_context(request: Request) -> Dict[str, Any]:
    user = request.ctx.user
    return {"banner": high_risk_cases() if user.role == "supervisor" else None}


@bp.get("/console")
@require_role(*AGENT_ROLES)
async def queue_page(request: Request) -> HTTPResponse:
    return render(request, "console/queue.html", cases=live_cases(), **_page_context(request))


@bp.get("/console/overdue")
@require_role(*SUPERVISOR_ROLES)
async def overdue_page(request: Request) -> HTTPResponse:
    return render(request, "console/overdue.html", cases=overdue_summaries(), **_page_context(request))


@bp.get("/console/case/<case_id>")
@require_role(*AGENT_ROLES)
async def case_page(request: Request, case_id: str) -> HTTPResponse:
    if not valid_case_id(case_id):
        return render(request, "error.html", status=404, title="没有这个案件", message="案件编号无效。")
    return render(request, "console/case.html", case_id=case_id, statuses=CASE_STATUSES,
                  causes=[(c, labels.label("causes", c)) for c in CAUSES],
                  status_labels={s: labels.label("statuses", s) for s in CASE_STATUSES},
                  **_page_context(request))


# ---------------------------------------------------------------- JSON API of the pages

@bp.get("/console/api/labels")
@require_role(*AGENT_ROLES)
async def api_labels(request: Request) -> HTTPResponse:
    return response.json(labels.for_client(), ensure_ascii=False)


@bp.get("/console/api/queue")
@require_role(*AGENT_ROLES)
async def api_queue(request: Request) -> HTTPResponse:
    user = request.ctx.user
    return response.json({"cases": live_cases(),
                          "high_risk": high_risk_cases() if user.role == "supervisor" else []},
                         ensure_ascii=False)


@bp.get("/console/api/overdue")
@require_role(*SUPERVISOR_ROLES)
async def api_overdue(request: Request) -> HTTPResponse:
    return response.json({"cases": overdue_summaries()}, ensure_ascii=False)


@bp.get("/console/api/case/<case_id>")
@require_role(*AGENT_ROLES)
async def api_case(request: Request, case_id: str) -> HTTPResponse:
    if not valid_case_id(case_id):
        return json_error(400, "invalid_case_id", "案件编号无效")
    return response.json(case_snapshot(case_id), ensure_ascii=False)


@bp.post("/console/api/case/<case_id>/customer")
@require_role(*AGENT_ROLES)
async def api_customer(request: Request, case_id: str) -> HTTPResponse:
    """What the customer said, typed by the agent (demo, training, counter)."""
    body, refused = _guarded_json(request, case_id)
    if refused:
        return refused
    case = load_case(case_id)
    status, answer = await call_assist(request, "webhook", {
        "sender": case_id, "message": body.get("text"), "channel": case.channel if case else "hotline"})
    return response.json(answer, status=status, ensure_ascii=False)


@bp.post("/console/api/case/<case_id>/draft")
@require_role(*AGENT_ROLES)
async def api_draft(request: Request, case_id: str) -> HTTPResponse:
    """Taboo check of the draft, nothing recorded."""
    body, refused = _guarded_json(request, case_id)
    if refused:
        return refused
    if not str(body.get("text") or "").strip():
        return response.json({"case_id": case_id, "taboo": [], "recorded": False})
    status, answer = await call_assist(request, "agent", {"sender": case_id, "text": body.get("text"),
                                                          "send": False})
    return response.json(answer, status=status, ensure_ascii=False)


@bp.post("/console/api/case/<case_id>/send")
@require_role(*AGENT_ROLES)
async def api_send(request: Request, case_id: str) -> HTTPResponse:
    """Record the agent's reply in the case (with the suggestion it came from)."""
    body, refused = _guarded_json(request, case_id)
    if refused:
        return refused
    forward: Dict[str, Any] = {"sender": case_id, "text": body.get("text"), "send": True,
                               "agent": request.ctx.user.username}
    if isinstance(body.get("suggestion_id"), str) and body["suggestion_id"]:
        forward["suggestion_id"] = body["suggestion_id"]
    status, answer = await call_assist(request, "agent", forward)
    if status == 200 and answer.get("recorded"):
        mark_agent_reply(case_id, request.ctx.user.username)
    return response.json(answer, status=status, ensure_ascii=False)


@bp.post("/console/api/case/<case_id>/record")
@require_role(*AGENT_ROLES)
async def api_record(request: Request, case_id: str) -> HTTPResponse:
    """Save the case record (JSON with X-CSRF-Token, or a plain form post)."""
    refused = _guard_post(request, case_id)
    if refused:
        return refused
    is_form = not request.content_type.startswith("application/json")
    try:
        body = {k: request.form.get(k) for k in request.form} if is_form else _json_body(request)
        changes = record_changes(body)
    except ValueError as error:
        return json_error(400, "invalid_record", str(error))
    save_record(case_id, changes)
    if is_form or wants_html(request):
        return response.redirect(f"/console/case/{case_id}", status=303)
    return response.json(case_snapshot(case_id)["record"], ensure_ascii=False)


@bp.post("/console/api/case/<case_id>/close")
@require_role(*AGENT_ROLES)
async def api_close(request: Request, case_id: str) -> HTTPResponse:
    refused = _guard_post(request, case_id)
    if refused:
        return refused
    save_record(case_id, {"status": "closed"})
    if wants_html(request):
        return response.redirect("/console", status=303)
    return response.json({"case_id": case_id, "status": "closed"})


# ---------------------------------------------------------------- live updates

def _poll(case_id: Optional[str], after: int, want_queue: bool, supervisor: bool) -> Dict[str, Any]:
    """One look at the database for everything a console page shows live."""
    result: Dict[str, Any] = {}
    if case_id:
        result["items"] = items_from_events(read_events(case_id, after))
        case = load_case(case_id)
        result["case_stamp"] = case.updated_at.isoformat() if case and case.updated_at else ""
    if want_queue:
        result["queue"] = live_cases()
    if supervisor:
        result["high_risk"] = high_risk_cases()
    return result


def sse(event: str, data: Any, event_id: Optional[int] = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@bp.get("/console/stream")
@require_role(*AGENT_ROLES)
async def stream(request: Request) -> None:
    """Server-sent events: `turn` and `assist` items of a case (`?case=`), `record`
    when the case row changes, `queue` (with `?queue=1`) and `high_risk` (for
    supervisors) whenever they change. Reads the database every POLL_SECONDS."""
    case_id = request.args.get("case") or None
    if case_id is not None and not valid_case_id(case_id):
        return json_error(400, "invalid_case_id", "案件编号无效")
    try:
        after = int(request.headers.get("Last-Event-ID") or request.args.get("after") or 0)
    except ValueError:
        after = 0
    if not 0 <= after < 2 ** 63:   # beyond the database's integers: from the start, like a bad value
        after = 0
    want_queue = request.args.get("queue") == "1"
    supervisor = request.ctx.user.role == "supervisor"
    resp = await request.respond(content_type="text/event-stream; charset=utf-8",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await resp.send("retry: 1000\n\n")
    loop = asyncio.get_running_loop()
    seen: Dict[str, str] = {}
    started = last_sent = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        state = await loop.run_in_executor(None, _poll, case_id, after, want_queue, supervisor)
        out: List[str] = []
        for item in state.get("items", []):
            after = max(after, item["id"])
            out.append(sse(item["type"], item, after))
        for key in ("case_stamp", "queue", "high_risk"):
            if key in state:
                encoded = json.dumps(state[key], ensure_ascii=False, sort_keys=True)
                if seen.get(key) != encoded:
                    if key == "case_stamp":
                        if key in seen:  # the first look is the state the page loaded
                            out.append(sse("record", {"updated_at": state[key]}))
                    else:
                        out.append(sse(key, state[key]))
                    seen[key] = encoded
        if not out and time.monotonic() - last_sent > HEARTBEAT_SECONDS:
            out.append(": keep-alive\n\n")
        if out:
            await resp.send("".join(out))
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)
    await resp.eof()
