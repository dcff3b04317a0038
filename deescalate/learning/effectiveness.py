"""Script effectiveness: for every knowledge-base line, what happened when agents used it.

Over a period, per line (a suggestion id, `deescalate.kb.loader.line_id`):

- shown: how many assist answers offered it (the answers are stored with the
  case's events);
- inserted: how often an agent put it into the draft (the console records the
  click, table `script_actions`);
- sent: agent turns recorded with its `suggestion_id`; edited: of those, the
  ones whose text differs from the text the line was offered with;
- the emotion change: the level (contract order, calm 0 ... furious 4) of the
  first customer turn after the send minus that of the customer turn before
  it; its mean with a t confidence interval. Negative means calmer. A send
  with no customer turn after it (yet) has no change;
- the outcomes (deescalate/cases.py `case_outcomes`) of the cases it was sent in.

A line sent fewer than `min_uses` times (actions/learning.yml) is marked as
not having enough data. Events are read through deescalate/events.py.
"""

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deescalate import events as stored
from deescalate.assist.analysis import EMOTION_LEVEL
from deescalate.cases import OUTCOMES, case_outcomes
from deescalate.db.models import Case, ScriptAction
from deescalate.kb.lines import customer_lines
from deescalate.kb.loader import KnowledgeBase, line_id
from deescalate.learning.settings import LearningSettings


@dataclass
class Tally:
    """What the events of a period show about one line."""

    shown: int = 0
    sent: int = 0
    edited: int = 0
    changes: List[float] = field(default_factory=list)  # emotion level after minus before, per measured send
    cases: Set[str] = field(default_factory=set)  # cases it was sent in
    text: str = ""  # the text it was last offered with
    source: str = ""
    kind: str = ""


@dataclass(frozen=True)
class Interval:
    """A mean with its confidence interval (bounds None when fewer than two values)."""

    mean: Optional[float]
    low: Optional[float]
    high: Optional[float]
    n: int


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The mean of `values` with a Student t interval at `confidence`.

    No values: everything None. One value: no spread to estimate, so the
    bounds are None. Several equal values: the interval is the mean itself.
    """
    n = len(values)
    if n == 0:
        return Interval(None, None, None, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Interval(mean, None, None, 1)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    if variance <= 0.0:
        return Interval(mean, mean, mean, n)
    from scipy import stats  # imported here: the action server uses this module but not the interval

    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(variance / n)
    return Interval(mean, mean - half, mean + half, n)


def _level(emotion: Optional[str]) -> Optional[int]:
    return EMOTION_LEVEL.get(emotion) if emotion else None


def tally_case(case_id: str, events: Iterable[stored.EventLike], tallies: Dict[str, Tally]) -> None:
    """Add one case's shows, sends, edits and emotion changes to `tallies`."""
    offered: Dict[str, str] = {}  # line id -> the text it was last offered with in this case
    before: Optional[int] = None  # emotion level of the latest customer turn
    waiting: List[Tuple[str, int]] = []  # sends whose next customer turn has not come yet
    for turn in stored.iter_timeline(events):
        if turn.assist is not None:
            for suggestion in turn.assist.get("suggestions") or []:
                if not isinstance(suggestion, dict) or not suggestion.get("id"):
                    continue
                tally = tallies.setdefault(str(suggestion["id"]), Tally())
                tally.shown += 1
                tally.text = str(suggestion.get("text") or tally.text)
                tally.source = str(suggestion.get("source") or tally.source)
                tally.kind = str(suggestion.get("kind") or tally.kind)
                offered[str(suggestion["id"])] = tally.text
        elif turn.speaker == "customer":
            after = _level(turn.emotion)
            if after is not None:
                for line, level in waiting:
                    tallies[line].changes.append(float(after - level))
                waiting = []
                before = after
        elif turn.speaker == "agent" and turn.suggestion_id:
            line = str(turn.suggestion_id)
            tally = tallies.setdefault(line, Tally())
            tally.sent += 1
            tally.cases.add(case_id)
            if line in offered and turn.text.strip() != offered[line].strip():
                tally.edited += 1
            if before is not None:
                waiting.append((line, before))


def tally_cases(cases: Iterable[Tuple[str, Iterable[stored.EventLike]]]) -> Dict[str, Tally]:
    """Per line, the tallies of every case's events: (case id, its events oldest first) pairs,
    consumed one case at a time."""
    tallies: Dict[str, Tally] = {}
    for case_id, events in cases:
        tally_case(case_id, events, tallies)
    return tallies


def period_tallies(session: Session, start: dt.datetime, end: dt.datetime) -> Dict[str, Tally]:
    """The tallies of the events recorded from `start` to before `end` (naive UTC), read one case at a time."""
    return tally_cases(stored.spoken_between(session, _epoch(start), _epoch(end)))


def _epoch(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.timezone.utc).timestamp()


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class LineEffect:
    """One line's figures over a period: a row of the report and of the review table."""

    line_id: str
    text: str
    source: str
    kind: str
    shown: int
    inserted: int
    edited: int
    sent: int
    mean_change: Optional[float]  # emotion levels, after minus before; negative is calmer
    ci_low: Optional[float]
    ci_high: Optional[float]
    n: int  # sends with a customer turn before and after
    outcomes: Dict[str, int]  # OUTCOMES -> cases it was sent in that ended so
    cases: int  # cases it was sent in
    enough_data: bool

    def as_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def kb_catalog(kb: KnowledgeBase) -> Dict[str, Tuple[str, str]]:
    """Every line a customer may hear: line id -> (text, source file)."""
    return {line_id(source, text): (text, source) for source, _key, text in customer_lines(kb)}


def inserted_counts(session: Session, start: dt.datetime, end: dt.datetime) -> Dict[str, int]:
    """How often each line was inserted into a draft in the period (none before the table exists)."""
    query = (
        select(ScriptAction.line_id, func.count())
        .where(ScriptAction.action == "insert", ScriptAction.at >= start, ScriptAction.at < end)
        .group_by(ScriptAction.line_id)
    )
    return {str(line): int(count) for line, count in session.execute(query).all()}


def outcome_counts(session: Session, case_ids: Iterable[str]) -> Dict[str, List[str]]:
    """Case id -> its outcomes, for the cases that have a record."""
    ids = sorted(set(case_ids))
    found: Dict[str, List[str]] = {}
    for start in range(0, len(ids), 500):
        for case in session.scalars(select(Case).where(Case.case_id.in_(ids[start : start + 500]))):
            found[case.case_id] = case_outcomes(case)
    return found


def script_effectiveness(
    session: Session,
    date_from: dt.date,
    date_to: dt.date,
    kb: Optional[KnowledgeBase] = None,
    settings: Optional[LearningSettings] = None,
) -> List[LineEffect]:
    """Every line's effectiveness from `date_from` to `date_to` (inclusive days, UTC).

    Lists every line of `kb` (also those never shown) and every line the
    events name (a line since edited out of the knowledge base keeps its
    record under its old id, with the text it was offered with). Sorted by
    mean change, calmest first; lines without a measured send last, by sends.
    """
    settings = settings or LearningSettings.from_yaml()
    start = dt.datetime.combine(min(date_from, date_to), dt.time())
    end = dt.datetime.combine(max(date_from, date_to) + dt.timedelta(days=1), dt.time())
    tallies = period_tallies(session, start, end)
    inserted = inserted_counts(session, start, end)
    catalog = kb_catalog(kb) if kb is not None else {}
    outcomes = outcome_counts(session, (case for tally in tallies.values() for case in tally.cases))
    rows = []
    for line in sorted(set(catalog) | set(tallies) | set(inserted)):
        tally = tallies.get(line, Tally())
        text, source = catalog.get(line, (tally.text, tally.source))
        interval = mean_interval(tally.changes, settings.confidence)
        counted: Counter = Counter(o for case in tally.cases for o in outcomes.get(case, []))
        rows.append(
            LineEffect(
                line_id=line,
                text=text,
                source=source,
                kind=tally.kind,
                shown=tally.shown,
                inserted=inserted.get(line, 0),
                edited=tally.edited,
                sent=tally.sent,
                mean_change=interval.mean,
                ci_low=interval.low,
                ci_high=interval.high,
                n=interval.n,
                outcomes={name: counted.get(name, 0) for name in OUTCOMES},
                cases=len(tally.cases),
                enough_data=tally.sent >= settings.min_uses,
            )
        )
    rows.sort(key=lambda r: (r.mean_change is None, r.mean_change or 0.0, -r.sent, r.line_id))
    return rows
