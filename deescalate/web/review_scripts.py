"""The script-effectiveness page of the trainer dashboard.

GET  /review/scripts         which knowledge-base lines calm customers: a sortable table and a chart
POST /review/scripts/line    a supervisor restores a retired line or unpins a pinned one

The figures are deescalate/learning/effectiveness.py's; only trainers,
supervisors and admins see the page. The lines pinned or retired now are
listed with who changed them last; a retired line is never suggested, so
this page is where a supervisor brings it back.
"""

import asyncio
import datetime as dt
from typing import Any, Dict, List
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.db.models import SUPERVISOR_ROLES
from deescalate.db.session import session_factory
from deescalate.kb.labels import labels
from deescalate.learning.controls import line_history, line_states, set_line_state, valid_line_id
from deescalate.learning.effectiveness import kb_catalog, script_effectiveness
from deescalate.learning.settings import LearningSettings
from deescalate.ratelimit import client_address
from deescalate.review import charts
from deescalate.review.effects import EffectFilters, chart_rows, table_rows
from deescalate.web.auth import add_security_headers, db_session, render, require_role
from deescalate.web.review import REVIEW_ROLES, _common, csrf_refusal, taboo

bp = Blueprint("review_scripts")
bp.middleware(add_security_headers, "response")


# What a supervisor may undo here, and what the page then says.
UNDO_ACTIONS = {"restore": "已恢复推荐", "unpin": "已取消置顶"}


def _controlled_lines() -> List[Dict[str, Any]]:
    """The lines pinned or retired now, with their text and their latest change."""
    catalog = kb_catalog(taboo.knowledge_base())
    with session_factory()() as session:
        states = line_states(session)
        rows = []
        for line, state in sorted(states.items()):
            text, source = catalog.get(line, ("", ""))
            latest = (line_history(session, line, limit=1) or [{}])[0]
            rows.append({"line_id": line, "state": state, "text": text, "source": source, "latest": latest})
    return rows


def _effects(date_from: dt.date, date_to: dt.date, settings: LearningSettings) -> List[Any]:
    with session_factory()() as session:
        return script_effectiveness(session, date_from, date_to, kb=taboo.knowledge_base(), settings=settings)


@bp.get("/review/scripts")
@require_role(*REVIEW_ROLES)
async def scripts_view(request: Request) -> HTTPResponse:
    filters = EffectFilters.from_args(request.args)
    loop = asyncio.get_running_loop()
    settings = LearningSettings.from_yaml()
    rows = await loop.run_in_executor(None, _effects, filters.date_from, filters.date_to, settings)
    shown = table_rows(rows, filters)
    chart = charts.interval_chart(chart_rows(rows), "发送后下一句客户情绪的平均变化（负数为缓和）")
    return render(
        request,
        "review/scripts.html",
        filters=filters,
        rows=shown,
        measured=sum(1 for row in rows if row.mean_change is not None),
        chart=chart,
        controlled=await loop.run_in_executor(None, _controlled_lines),
        may_control=request.ctx.user.role in SUPERVISOR_ROLES,
        saved=request.args.get("saved") or "",
        settings=settings,
        kind_label=lambda kind: labels.label("kinds", kind),
        **_common(request),
    )


@bp.post("/review/scripts/line")
@require_role(*SUPERVISOR_ROLES)
async def undo_line_state(request: Request) -> HTTPResponse:
    """Restore a retired line or unpin a pinned one (recorded in script_actions and audited)."""
    refused = csrf_refusal(request)
    if refused:
        return refused
    line, action = request.form.get("line_id") or "", request.form.get("action") or ""
    if action not in UNDO_ACTIONS or not valid_line_id(line):
        return response.redirect("/review/scripts?" + urlencode({"saved": "操作或话术编号无效"}), status=303)
    user = request.ctx.user
    with db_session() as session:
        set_line_state(session, line, action, user.username, user.role, None, client_address(request), request.path)
    return response.redirect("/review/scripts?" + urlencode({"saved": UNDO_ACTIONS[action]}), status=303)
