"""Trainer review: recorded cases, their transcripts, label corrections, statistics.

GET  /review                         cases with filters and a search over customer turns
GET  /review/case/<case_id>          transcript: predictions, suggestions shown and used, taboo flags
POST /review/case/<case_id>/correct  a trainer's intent/emotion for one customer turn (CSRF)
POST /review/export                  pending corrections -> data/nlu/corrections_<time>.yml (CSRF)
GET  /review/dashboard               charts of the recorded cases

Only trainers, supervisors and admins see these pages.
"""

import asyncio
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import inspect

from deescalate.contract import CAUSES, CONVERSATION_INTENTS, DOMAINS, EMOTIONS, ESCALATIONS
from deescalate.db.models import CASE_STATUSES, Case
from deescalate.db.session import session_factory
from deescalate.kb import KB_DIR
from deescalate.kb.labels import labels
from deescalate.review import charts
from deescalate.review.export import corrections_dir, export_corrections
from deescalate.review.queries import (
    EARLIEST_DAY,
    LATEST_DAY,
    CaseFilters,
    CorrectionError,
    case_events,
    case_page,
    corrections_of_case,
    pending_corrections,
    save_correction,
    utc_to_local,
)
from deescalate.review.stats import dashboard
from deescalate.review.transcript import build_transcript
from deescalate.validation import valid_case_id
from deescalate.web.auth import CsrfError, add_security_headers, check_csrf, db_session, render, require_role

if TYPE_CHECKING:  # imported when first used: the checker's model needs NumPy and scikit-learn
    from deescalate.assist.taboo import TabooChecker

logger = logging.getLogger(__name__)

bp = Blueprint("review")
bp.middleware(add_security_headers, "response")

REVIEW_ROLES = ("trainer", "supervisor", "admin")
DASHBOARD_DAYS = 30
KB_RETRY_SECONDS = 30.0


class _Taboo:
    """The knowledge base and its taboo checker, loaded once (retried while the KB is broken).

    Loaded when a page first needs them, not at start-up: the checker trains its model
    with scikit-learn, about 65 MiB of the web server's memory (docs/performance.md)."""

    def __init__(self) -> None:
        self.checker: Optional["TabooChecker"] = None
        self.kb: Any = None
        self.tried_at = float("-inf")

    def get(self) -> Optional["TabooChecker"]:
        if self.checker is None and time.monotonic() - self.tried_at > KB_RETRY_SECONDS:
            self.tried_at = time.monotonic()
            from deescalate.assist.taboo import TabooChecker
            from deescalate.kb import load_kb

            try:
                self.kb = load_kb(KB_DIR)
                self.checker = TabooChecker(self.kb.taboo)
            except Exception as error:  # a half-edited KB must not take the review down
                logger.warning("knowledge base not loaded, taboo flags shown by id: %s", error)
        return self.checker

    def knowledge_base(self) -> Any:
        """The knowledge base loaded with the checker, or None while it does not load."""
        self.get()
        return self.kb


taboo = _Taboo()


def _events_table_exists(session: Any) -> bool:
    """Rasa creates its table on first start; before that there is nothing to read."""
    return inspect(session.get_bind()).has_table("events")


def _named(group: str, names: Any, with_code: bool = False) -> List[Tuple[str, str]]:
    """(value, Chinese label) pairs; with_code adds the contract name, which trainers also use."""
    pairs = []
    for name in names:
        text = labels.label(group, name)
        pairs.append((name, f"{text}（{name}）" if with_code and text != name else text))
    return pairs


def label_options() -> Dict[str, Any]:
    """(value, label) lists of the contract's names for the filters and forms."""
    return {
        "domains": _named("domains", DOMAINS),
        "causes": _named("causes", CAUSES),
        "emotions": _named("emotions", EMOTIONS),
        "escalations": _named("escalation", ESCALATIONS),
        "statuses": _named("statuses", CASE_STATUSES),
        "intent_choices": _named("causes", CAUSES, True),
        "conversation_choices": _named("causes", CONVERSATION_INTENTS, True),
        "emotion_choices": _named("emotions", EMOTIONS, True),
    }


INPUT_CHANNELS = {"socketio": "chat", "assist": "hotline"}


def channel_label(input_channel: Optional[str]) -> str:
    """The Chinese name of the Rasa channel a turn came in on."""
    return labels.label("channels", INPUT_CHANNELS.get(input_channel or "", "")) or (input_channel or "")


def _common(request: Request) -> Dict[str, Any]:
    return {
        "label": labels.label,
        "local": utc_to_local,
        "options": label_options(),
        "channel_label": channel_label,
        "section": request.path.split("/")[2] if request.path.count("/") >= 2 else "cases",
    }


def _event_id(value: Optional[str]) -> Optional[int]:
    """An event id from a query or form value: ASCII digits that fit the database's integers."""
    value = value or ""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


# ---------------------------------------------------------------- pages


def csrf_refusal(request: Request) -> Optional[HTTPResponse]:
    """The error page for a review post without a valid CSRF token; None when the token is good."""
    try:
        check_csrf(request)
    except CsrfError:
        return render(request, "error.html", status=403, title="请求无效", message="页面已过期，请刷新后重试。")
    return None


@bp.get("/review")
@require_role(*REVIEW_ROLES)
async def cases_page(request: Request) -> HTTPResponse:
    filters = CaseFilters.from_args(request.args)
    with db_session() as session:
        if filters.q and not _events_table_exists(session):
            filters.q = ""
        page = case_page(session, filters)
        pending = pending_corrections(session)
    pager = {
        n: "/review?" + urlencode(filters.as_args(page=n))
        for n in (page.page - 1, page.page + 1)
        if 1 <= n <= page.pages
    }
    exported = {key: request.args.get(key) for key in ("exported", "n", "present", "conflicts", "skipped")}
    return render(
        request,
        "review/cases.html",
        filters=filters,
        page=page,
        pager=pager,
        pending=pending,
        exported=exported if exported["n"] is not None else None,
        **_common(request),
    )


@bp.get("/review/case/<case_id>")
@require_role(*REVIEW_ROLES)
async def case_view(request: Request, case_id: str) -> HTTPResponse:
    if not valid_case_id(case_id):
        return render(request, "error.html", status=404, title="没有这个案件", message="案件编号无效。")
    with db_session() as session:
        case = session.get(Case, case_id)
        events = case_events(session, case_id) if _events_table_exists(session) else []
        corrections = corrections_of_case(session, case_id)
    if case is None and not events:
        return render(request, "error.html", status=404, title="没有这个案件", message="找不到这个案件的记录。")
    turns = build_transcript(events, taboo.get())
    return render(
        request,
        "review/case.html",
        case=case,
        case_id=case_id,
        turns=turns,
        corrections=corrections,
        saved=_event_id(request.args.get("saved")),
        error=request.args.get("error"),
        **_common(request),
    )


@bp.post("/review/case/<case_id>/correct")
@require_role(*REVIEW_ROLES)
async def correct(request: Request, case_id: str) -> HTTPResponse:
    refused = csrf_refusal(request)
    if refused:
        return refused
    if not valid_case_id(case_id):
        return render(request, "error.html", status=404, title="没有这个案件", message="案件编号无效。")
    form = request.form
    event_id = _event_id(form.get("event_id"))
    event_id = -1 if event_id is None else event_id
    target = f"/review/case/{case_id}"
    with db_session() as session:
        try:
            save_correction(
                session,
                case_id,
                event_id,
                form.get("intent") or "",
                form.get("emotion") or "",
                request.ctx.user.username,
            )
            session.commit()
        except CorrectionError as error:
            session.rollback()
            return response.redirect(f"{target}?{urlencode({'error': str(error)})}#turn-{event_id}", status=303)
    return response.redirect(f"{target}?saved={event_id}#turn-{event_id}", status=303)


@bp.post("/review/export")
@require_role(*REVIEW_ROLES)
async def export(request: Request) -> HTTPResponse:
    refused = csrf_refusal(request)
    if refused:
        return refused
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, export_corrections, session_factory(), corrections_dir())
    args = {
        "exported": result.path.name if result.path else "",
        "n": result.exported,
        "present": result.already_present,
        "conflicts": len(result.conflicts),
        "skipped": result.skipped,
    }
    return response.redirect("/review?" + urlencode(args), status=303)


def _date_arg(request: Request, name: str, default: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(request.args.get(name) or "")
    except ValueError:
        return default
    return day if EARLIEST_DAY <= day <= LATEST_DAY else default


@bp.get("/review/dashboard")
@require_role(*REVIEW_ROLES)
async def dashboard_page(request: Request) -> HTTPResponse:
    today = dt.date.today()
    date_to = _date_arg(request, "date_to", today)
    date_from = _date_arg(request, "date_from", date_to - dt.timedelta(days=DASHBOARD_DAYS - 1))
    with db_session() as session:
        board = dashboard(session, date_from, date_to, with_agents=_events_table_exists(session))
    return render(request, "review/dashboard.html", board=board, graphs=dashboard_charts(board), **_common(request))


def dashboard_charts(board: Any) -> Dict[str, Any]:
    causes = [(labels.label("causes", cause) if cause else "未确定", count) for cause, count in board.per_cause]
    days = [day.isoformat() for day in board.days]
    peaks = {day.isoformat(): counts for day, counts in board.emotion_peaks_per_day.items()}
    agents = sorted(board.agents.items(), key=lambda item: (-item[1].taboo_hits, item[0]))
    escalations = [(labels.label("escalation", name), count) for name, count in board.per_escalation]
    used = sum(a.with_suggestion for a in board.agents.values())
    return {
        "causes": charts.hbar_chart(causes, "各投诉原因的案件数"),
        "emotions": charts.stacked_columns(
            days, charts.emotion_series({e: labels.label("emotions", e) for e in EMOTIONS}), peaks, "每日案件的情绪峰值"
        ),
        "escalation_rate": charts.rate_gauge(
            board.escalation_rate, "升级率", f"{board.escalated} / {board.cases} 个案件", "#e53935"
        ),
        "escalations": charts.hbar_chart(escalations, "各类升级威胁的案件数", colour="#e53935"),
        "suggestion_rate": charts.rate_gauge(
            board.suggestion_use_rate, "建议采用率", f"{used} / {board.agent_turns} 次坐席回复", "#43a047"
        ),
        "taboo": charts.hbar_chart(
            [(name or "未署名", figures.taboo_hits) for name, figures in agents],
            "各坐席的禁忌用语次数",
            colour="#fb8c00",
        ),
        "taboo_families": charts.hbar_chart(
            [(family_label(f), n) for f, n in board.taboo_per_family], "各类禁忌的次数", colour="#fb8c00"
        ),
        "agents": agents,
        "family_label": family_label,
    }


def family_label(family: str) -> str:
    """The Chinese name of a taboo family; ids recorded before the families existed show as they are."""
    checker = taboo.get()
    return (checker.labels() if checker else {}).get(family, family)
