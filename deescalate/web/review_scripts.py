"""The script-effectiveness page of the trainer dashboard.

GET  /review/scripts   which knowledge-base lines calm customers: a sortable table and a chart

The figures are deescalate/learning/effectiveness.py's; only trainers,
supervisors and admins see the page.
"""

import asyncio
import datetime as dt
from typing import Any, List

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.db.session import session_factory
from deescalate.kb.labels import labels
from deescalate.learning.effectiveness import script_effectiveness
from deescalate.learning.settings import LearningSettings
from deescalate.review import charts
from deescalate.review.effects import EffectFilters, chart_rows, table_rows
from deescalate.web.auth import add_security_headers, render, require_role
from deescalate.web.review import REVIEW_ROLES, _common, taboo

bp = Blueprint("review_scripts")
bp.middleware(add_security_headers, "response")


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
        settings=settings,
        kind_label=lambda kind: labels.label("kinds", kind),
        **_common(request),
    )
