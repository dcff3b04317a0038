"""Records every view of a case, transcript, export or dashboard, and shows the trail to admins.

A response middleware on the whole app (installed before the server starts)
looks at each answered request: when a signed-in user was let through
(`require_role` set `request.ctx.user`) and the answer is not an error, a
route listed in VIEWS is written to `access_log` with who, role, what, when
and from where. The surfaces' handlers stay as they are; the one list of
audited routes is here.

GET /admin/audit (admins only) queries the trail; nothing on the web server
changes or deletes an entry.
"""

import asyncio
import datetime as dt
import logging
import re
from typing import Any, Callable, List, Optional, Pattern, Tuple

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.audit import AuditQuery, record_access
from deescalate.db.models import AUDIT_ACTIONS
from deescalate.ratelimit import client_address
from deescalate.web.auth import add_security_headers, db_session, render, require_role

logger = logging.getLogger(__name__)

bp = Blueprint("audit")
bp.middleware(add_security_headers, "response")

Target = Callable[[Request, "re.Match[str]"], Optional[str]]


def _case(_request: Request, match: "re.Match[str]") -> Optional[str]:
    return match.group(1)


def _query(request: Request, _match: "re.Match[str]") -> Optional[str]:
    return request.query_string or None


def _stream_case(request: Request, _match: "re.Match[str]") -> Optional[str]:
    return request.args.get("case") or None


def _export(_request: Request, _match: "re.Match[str]") -> Optional[str]:
    return "corrections"


# (method, path, action, what the target is); case ids are URL path segments.
VIEWS: List[Tuple[str, Pattern[str], str, Target]] = [
    ("GET", re.compile(r"/console"), "queue", _query),
    ("GET", re.compile(r"/console/(?:api/)?overdue"), "overdue", _query),
    ("GET", re.compile(r"/console/case/([^/]+)"), "case", _case),
    ("GET", re.compile(r"/console/api/case/([^/]+)"), "case", _case),
    ("GET", re.compile(r"/console/stream"), "case", _stream_case),
    ("GET", re.compile(r"/review"), "case_list", _query),
    ("GET", re.compile(r"/review/case/([^/]+)"), "transcript", _case),
    ("POST", re.compile(r"/review/export"), "export", _export),
    ("GET", re.compile(r"/review/dashboard"), "dashboard", _query),
    ("GET", re.compile(r"/admin/audit"), "audit", _query),
]


def audited_view(request: Request) -> Optional[Tuple[str, Optional[str]]]:
    """(action, target) when the request is one of VIEWS, else None."""
    for method, pattern, action, target in VIEWS:
        match = pattern.fullmatch(request.path) if request.method == method else None
        if match:
            return action, target(request, match)
    return None


async def record_views(request: Request, resp: HTTPResponse) -> None:
    user = getattr(request.ctx, "user", None)
    if user is None or resp is None or resp.status >= 400:
        return
    view = audited_view(request)
    if view is None:
        return
    action, target = view
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(
        None, record_access, user.username, user.role, action, target, client_address(request), request.path
    )


@bp.listener("before_server_start")
async def _audit_every_surface(app: Any, _loop: Any) -> None:
    app.register_middleware(record_views, "response")


def _date(text: Optional[str]) -> Optional[dt.date]:
    try:
        return dt.date.fromisoformat(text or "")
    except ValueError:
        return None


def query_from_args(request: Request) -> AuditQuery:
    args = request.args
    action = args.get("action") if args.get("action") in AUDIT_ACTIONS else None
    try:
        limit = int(args.get("limit") or 200)
    except ValueError:
        limit = 200
    return AuditQuery(
        user=(args.get("user") or "").strip()[:64] or None,
        target=(args.get("case") or "").strip()[:256] or None,
        action=action,
        since=_date(args.get("since")),
        until=_date(args.get("until")),
        limit=limit,
    )


@bp.get("/admin/audit")
@require_role("admin")
async def audit_page(request: Request) -> HTTPResponse:
    query = query_from_args(request)
    with db_session() as session:
        rows = [row.as_dict() for row in query.rows(session)]
    return render(request, "admin/audit.html", query=query, rows=rows, actions=AUDIT_ACTIONS)
