"""The agent console: live case queue, case view with analysis, suggestions,
taboo check of the draft, case record, and the supervisors' high-risk banner.

This module holds the pages and their JSON API. What they show is read by
console_cases.py, the live stream is console_stream.py, the assist API is
reached through assist_client.py (its token stays on the server), and every
case write goes through deescalate/cases.py.
"""

from typing import Any, Dict, Optional, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.cases import default_settings, record_changes, save_person_edit
from deescalate.contract import CAUSES
from deescalate.db.models import CASE_STATUSES, SUPERVISOR_ROLES
from deescalate.kb.labels import labels
from deescalate.learning.controls import line_history, line_states, record_insert, set_line_state, valid_line_id
from deescalate.ratelimit import client_address
from deescalate.validation import json_object, valid_case_id
from deescalate.web.assist_client import call_assist, close_client, open_client
from deescalate.web.auth import (
    CsrfError,
    add_security_headers,
    check_csrf,
    db_session,
    render,
    require_role,
    wants_html,
)
from deescalate.web.console_cases import case_snapshot, high_risk_cases, live_cases, load_case, overdue_summaries

bp = Blueprint("console")
bp.middleware(add_security_headers, "response")
bp.listener("before_server_start")(open_client)
bp.listener("after_server_stop")(close_client)

AGENT_ROLES = ("agent", "supervisor", "admin")


def save_record(case_id: str, changes: Dict[str, Any]) -> None:
    save_person_edit(db_session, case_id, changes)


def json_error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status, ensure_ascii=False)


def _json_body(request: Request) -> Dict[str, Any]:
    try:
        return json_object(request)
    except ValueError:
        raise ValueError("请求内容必须是 JSON 对象") from None


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
    return render(
        request,
        "console/case.html",
        case_id=case_id,
        statuses=CASE_STATUSES,
        causes=[(c, labels.label("causes", c)) for c in CAUSES],
        status_labels={s: labels.label("statuses", s) for s in CASE_STATUSES},
        **_page_context(request),
    )


# ---------------------------------------------------------------- JSON API of the pages


@bp.get("/console/api/labels")
@require_role(*AGENT_ROLES)
async def api_labels(request: Request) -> HTTPResponse:
    return response.json(labels.for_client(), ensure_ascii=False)


@bp.get("/console/api/queue")
@require_role(*AGENT_ROLES)
async def api_queue(request: Request) -> HTTPResponse:
    user = request.ctx.user
    return response.json(
        {"cases": live_cases(), "high_risk": high_risk_cases() if user.role == "supervisor" else []}, ensure_ascii=False
    )


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
    status, answer = await call_assist(
        request,
        "webhook",
        {
            "sender": case_id,
            "message": body.get("text"),
            "channel": case.channel if case else default_settings().default_channel,
        },
    )
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
    status, answer = await call_assist(request, "agent", {"sender": case_id, "text": body.get("text"), "send": False})
    return response.json(answer, status=status, ensure_ascii=False)


@bp.post("/console/api/case/<case_id>/send")
@require_role(*AGENT_ROLES)
async def api_send(request: Request, case_id: str) -> HTTPResponse:
    """Record the agent's reply in the case (with the suggestion it came from)."""
    body, refused = _guarded_json(request, case_id)
    if refused:
        return refused
    forward: Dict[str, Any] = {
        "sender": case_id,
        "text": body.get("text"),
        "send": True,
        "agent": request.ctx.user.username,
    }
    if isinstance(body.get("suggestion_id"), str) and body["suggestion_id"]:
        forward["suggestion_id"] = body["suggestion_id"]
    status, answer = await call_assist(request, "agent", forward)
    return response.json(answer, status=status, ensure_ascii=False)


@bp.post("/console/api/case/<case_id>/insert")
@require_role(*AGENT_ROLES)
async def api_insert(request: Request, case_id: str) -> HTTPResponse:
    """The agent put a suggestion into the draft (counted as `inserted` by script effectiveness)."""
    body, refused = _guarded_json(request, case_id)
    if refused:
        return refused
    line = str(body.get("suggestion_id") or "")
    if not valid_line_id(line):
        return json_error(400, "invalid_suggestion_id", "建议编号无效")
    user = request.ctx.user
    with db_session() as session:
        record_insert(session, line, user.username, user.role, case_id)
        session.commit()
    return response.json({"case_id": case_id, "suggestion_id": line, "recorded": True})


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
        case = load_case(case_id)
        domain = case.domain if case else None
        changes = record_changes(body, lambda amount: labels.approval(amount, domain))
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


# ---------------------------------------------------------------- supervisors: pin and retire lines

LINE_ACTION_MESSAGES = {"pin": "已置顶", "unpin": "已取消置顶", "retire": "已停用，不再推荐", "restore": "已恢复推荐"}


@bp.get("/console/api/scripts")
@require_role(*SUPERVISOR_ROLES)
async def api_scripts(request: Request) -> HTTPResponse:
    """The lines pinned or retired now, each with its history (who, when, what)."""
    with db_session() as session:
        states = line_states(session)
        lines = [
            {"line_id": line, "state": state, "history": line_history(session, line)}
            for line, state in sorted(states.items())
        ]
    return response.json({"lines": lines}, ensure_ascii=False)


@bp.post("/console/api/script/<line_id>")
@require_role(*SUPERVISOR_ROLES)
async def api_script(request: Request, line_id: str) -> HTTPResponse:
    """Pin, unpin, retire or restore a line: `{"action": ..., "note": ...}` (recorded and audited)."""
    try:
        check_csrf(request)
    except CsrfError:
        return json_error(403, "csrf", "安全令牌无效，请刷新页面")
    try:
        body = _json_body(request)
    except ValueError as error:
        return json_error(400, "invalid_json", str(error))
    action = str(body.get("action") or "")
    if action not in LINE_ACTION_MESSAGES or not valid_line_id(line_id):
        return json_error(400, "invalid_line_action", "操作或话术编号无效")
    user = request.ctx.user
    note = body.get("note") if isinstance(body.get("note"), str) else None
    with db_session() as session:
        state = set_line_state(
            session, line_id, action, user.username, user.role, note, client_address(request), request.path
        )
    return response.json(
        {"line_id": line_id, "state": state, "message": LINE_ACTION_MESSAGES[action]}, ensure_ascii=False
    )
