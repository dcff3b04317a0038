"""Trainer review pages that learn from the recorded cases.

GET  /review/queue         customer turns a label would teach the model most, highest score first
POST /review/queue/label   one click: one field of one turn labelled (CSRF); the turn leaves the queue

Only trainers, supervisors and admins see these pages.
"""

import datetime as dt
from typing import Any, Dict
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.review.queries import CorrectionError, pending_corrections
from deescalate.review.queue import QueueFilters, default_settings, label_turn, queue_page
from deescalate.validation import valid_case_id
from deescalate.web.auth import add_security_headers, db_session, render, require_role
from deescalate.web.review import REVIEW_ROLES, _common, _event_id, csrf_refusal

bp = Blueprint("review_learning")
bp.middleware(add_security_headers, "response")


def _local_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "—"


@bp.get("/review/queue")
@require_role(*REVIEW_ROLES)
async def queue_view(request: Request) -> HTTPResponse:
    filters = QueueFilters.from_args(request.args)
    with db_session() as session:
        page = queue_page(session, filters)
        pending = pending_corrections(session)
    pager = {
        n: "/review/queue?" + urlencode(filters.as_args(page=n))
        for n in (page.page - 1, page.page + 1)
        if 1 <= n <= page.pages
    }
    notice: Dict[str, Any] = {"saved": request.args.get("saved"), "error": request.args.get("error")}
    return render(
        request,
        "review/queue.html",
        filters=filters,
        page=page,
        pager=pager,
        pending=pending,
        notice=notice,
        back=urlencode(filters.as_args(page=page.page)),
        settings=default_settings(),
        turn_time=_local_time,
        **_common(request),
    )


@bp.post("/review/queue/label")
@require_role(*REVIEW_ROLES)
async def queue_label(request: Request) -> HTTPResponse:
    refused = csrf_refusal(request)
    if refused:
        return refused
    form = request.form
    case_id = form.get("case_id") or ""
    event_id = _event_id(form.get("event_id"))
    back = QueueFilters.from_args({k: form.get(k) or "" for k in ("date_from", "date_to", "page")}).as_args()
    which, _, value = (form.get("label") or form.get("label_other") or "").partition(":")
    if not valid_case_id(case_id) or event_id is None:
        return response.redirect("/review/queue?" + urlencode({**back, "error": "案件或发言编号无效。"}), status=303)
    with db_session() as session:
        try:
            label_turn(session, case_id, event_id, which, value, request.ctx.user.username)
            session.commit()
        except CorrectionError as error:
            session.rollback()
            return response.redirect("/review/queue?" + urlencode({**back, "error": str(error)}), status=303)
    return response.redirect("/review/queue?" + urlencode({**back, "saved": str(event_id)}), status=303)
