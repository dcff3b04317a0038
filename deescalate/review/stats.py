"""Figures for the review dashboard, from the recorded cases and the agents' turns."""

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from deescalate.contract import EMOTIONS
from deescalate.db.models import Case
from deescalate.events import EVENTS
from deescalate.review.queries import LIKE_ESCAPE, day_start_utc, like_pattern, utc_to_local

MAX_DAYS = 92  # days drawn in the per-day chart
UNSIGNED = ""  # agent turns recorded without an agent name


@dataclass
class AgentFigures:
    turns: int = 0
    with_suggestion: int = 0
    taboo_hits: int = 0
    turns_with_taboo: int = 0
    taboo_families: Counter = field(default_factory=Counter)  # taboo family id -> hits


@dataclass
class Dashboard:
    date_from: dt.date
    date_to: dt.date
    cases: int = 0
    per_cause: List[Tuple[Optional[str], int]] = field(default_factory=list)
    days: List[dt.date] = field(default_factory=list)
    emotion_peaks_per_day: Dict[dt.date, Dict[str, int]] = field(default_factory=dict)
    escalated: int = 0
    per_escalation: List[Tuple[str, int]] = field(default_factory=list)
    agents: Dict[str, AgentFigures] = field(default_factory=dict)

    @property
    def escalation_rate(self) -> Optional[float]:
        return self.escalated / self.cases if self.cases else None

    @property
    def taboo_per_family(self) -> List[Tuple[str, int]]:
        """Taboo hits per family over all agents, most frequent first."""
        total: Counter = Counter()
        for figures in self.agents.values():
            total.update(figures.taboo_families)
        return sorted(total.items(), key=lambda item: (-item[1], item[0]))

    @property
    def agent_turns(self) -> int:
        return sum(a.turns for a in self.agents.values())

    @property
    def suggestion_use_rate(self) -> Optional[float]:
        turns = self.agent_turns
        return sum(a.with_suggestion for a in self.agents.values()) / turns if turns else None


def _case_figures(session: Session, board: Dashboard) -> None:
    rows = (
        session.query(Case.cause, Case.emotion_peak, Case.escalation, Case.created_at)
        .filter(
            Case.created_at >= day_start_utc(board.date_from),
            Case.created_at < day_start_utc(board.date_to + dt.timedelta(days=1)),
        )
        .all()
    )
    causes: Counter = Counter()
    escalations: Counter = Counter()
    per_day: Dict[dt.date, Counter] = defaultdict(Counter)
    for cause, peak, escalation, created_at in rows:
        causes[cause] += 1
        if escalation:
            board.escalated += 1
            escalations.update(set(escalation))
        local = utc_to_local(created_at)
        if local is not None and peak in EMOTIONS:
            per_day[local.date()][peak] += 1
    board.cases = len(rows)
    board.per_cause = sorted(causes.items(), key=lambda item: (-item[1], item[0] or "~"))
    board.per_escalation = escalations.most_common()
    first = max(board.date_from, board.date_to - dt.timedelta(days=MAX_DAYS - 1))
    board.days = [first + dt.timedelta(days=n) for n in range((board.date_to - first).days + 1)]
    board.emotion_peaks_per_day = {day: dict(per_day.get(day, {})) for day in board.days}


def _agent_figures(session: Session, board: Dashboard) -> None:
    start = dt.datetime.combine(board.date_from, dt.time()).timestamp()
    end = dt.datetime.combine(board.date_to + dt.timedelta(days=1), dt.time()).timestamp()
    rows = session.execute(
        select(EVENTS.c.data).where(
            and_(
                EVENTS.c.type_name == "bot",
                EVENTS.c.timestamp >= start,
                EVENTS.c.timestamp < end,
                EVENTS.c.data.like(like_pattern('"author"'), escape=LIKE_ESCAPE),
                EVENTS.c.data.like(like_pattern('"agent"'), escape=LIKE_ESCAPE),
            )
        )
    ).fetchall()
    for (raw,) in rows:
        try:
            metadata = (json.loads(raw) or {}).get("metadata") or {}
        except (ValueError, AttributeError):
            continue
        if metadata.get("author") != "agent":
            continue
        name = str(metadata.get("agent_name") or metadata.get("agent") or UNSIGNED)
        figures = board.agents.setdefault(name, AgentFigures())
        figures.turns += 1
        figures.with_suggestion += 1 if metadata.get("suggestion_id") else 0
        families = [str(family) for family in (metadata.get("taboo") or [])]
        hits = len(families)
        figures.taboo_families.update(families)
        figures.taboo_hits += hits
        figures.turns_with_taboo += 1 if hits else 0


def dashboard(session: Session, date_from: dt.date, date_to: dt.date, with_agents: bool = True) -> Dashboard:
    """The figures of cases created between the two days (inclusive, local time).

    with_agents=False skips the agents' turns (Rasa's events table not created yet).
    """
    board = Dashboard(date_from=min(date_from, date_to), date_to=max(date_from, date_to))
    _case_figures(session, board)
    if with_agents:
        _agent_figures(session, board)
    return board
