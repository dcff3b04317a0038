"""The console's live updates: server-sent events read from the database.

Every web process polls the database, so a turn recorded through any Rasa
instance reaches every open console page.
"""

import asyncio
import json
import time
from typing import Any, Dict, List, Optional

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.validation import valid_case_id
from deescalate.web.auth import add_security_headers, require_role
from deescalate.web.console import AGENT_ROLES, json_error
from deescalate.web.console_cases import high_risk_cases, items_from_events, live_cases, load_case, read_events

bp = Blueprint("console_stream")
bp.middleware(add_security_headers, "response")

POLL_SECONDS = 0.6
STREAM_SECONDS = 120  # the browser reconnects (with Last-Event-ID) after this
HEARTBEAT_SECONDS = 15


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
async def stream(request: Request) -> Optional[HTTPResponse]:
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
    if not 0 <= after < 2**63:  # beyond the database's integers: from the start, like a bad value
        after = 0
    want_queue = request.args.get("queue") == "1"
    supervisor = request.ctx.user.role == "supervisor"
    resp = await request.respond(
        content_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
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
    return None
