"""Script effectiveness without servers: the tallies, the interval, the report from a stored case."""

import asyncio
import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from scipy import stats

from deescalate.db.migrate import upgrade
from deescalate.db.models import Case
from deescalate.db.session import session_factory
from deescalate.learning.controls import record_insert
from deescalate.learning.effectiveness import Interval, mean_interval, script_effectiveness, tally_cases
from deescalate.learning.report import main as report_main
from deescalate.learning.settings import LearningSettings
from deescalate.tools.build import ROOT
from deescalate.tracker_store import MaskingSQLTrackerStore
from tests.conftest import examples

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
SETTINGS = LearningSettings.from_yaml()


def customer(emotion: str, text: str = "我要投诉") -> Dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"text": text, "emotion": {"name": emotion}}}


def offered(*lines: str) -> Dict[str, Any]:
    suggestions = [
        {"id": line, "kind": "empathy", "text": f"话术{line}", "source": "scripts_kb/empathy.yml"} for line in lines
    ]
    return {"event": "bot", "text": "", "data": {"custom": {"assist": {"suggestions": suggestions}}}}


def sent(line: str, text: str) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": {"author": "agent", "suggestion_id": line}}


# ---------------------------------------------------------------- tallies


def test_a_send_counts_the_emotion_change_to_the_next_customer_turn():
    events = [
        customer("furious"),
        offered("a", "b"),
        sent("a", "话术a"),
        customer("anxious"),
        offered("a"),
        sent("a", "话术a，我马上帮您查"),  # edited
    ]
    tallies = tally_cases({"case-1": events}.items())
    assert (tallies["a"].shown, tallies["a"].sent, tallies["a"].edited) == (2, 2, 1)
    assert tallies["a"].changes == [-2.0]  # furious (4) -> anxious (2); the second send has no reply yet
    assert (tallies["b"].shown, tallies["b"].sent, tallies["b"].changes) == (1, 0, [])
    assert tallies["a"].cases == {"case-1"}


def test_several_sends_before_one_reply_all_get_that_reply():
    events = [customer("angry"), offered("a", "b"), sent("a", "话术a"), sent("b", "x"), customer("calm")]
    tallies = tally_cases({"c": events}.items())
    assert tallies["a"].changes == [-3.0] and tallies["b"].changes == [-3.0]


def test_a_send_before_any_customer_turn_has_no_change():
    tallies = tally_cases({"c": [offered("a"), sent("a", "话术a"), customer("calm")]}.items())
    assert tallies["a"].sent == 1 and tallies["a"].changes == []


# ---------------------------------------------------------------- the interval


def test_the_interval_is_the_t_interval():
    values = [-2.0, -1.0, 0.0, -1.0, -3.0]
    found = mean_interval(values, 0.95)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=-1.4, scale=stats.sem(values))
    assert found.mean == pytest.approx(-1.4)
    assert (found.low, found.high) == (pytest.approx(low), pytest.approx(high))


def test_edge_cases_of_the_interval():
    assert mean_interval([]) == Interval(None, None, None, 0)
    assert mean_interval([1.0]) == Interval(1.0, None, None, 1)
    assert mean_interval([2.0, 2.0, 2.0]) == Interval(2.0, 2.0, 2.0, 3)


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(st.integers(min_value=-4, max_value=4).map(float), min_size=2, max_size=60),
    st.floats(min_value=0.5, max_value=0.99),
)
def test_the_interval_holds_the_mean_and_widens_with_confidence(values: List[float], confidence: float):
    narrow, wide = mean_interval(values, confidence), mean_interval(values, min(0.995, confidence + 0.004))
    assert narrow.low is not None and narrow.high is not None
    assert narrow.low <= narrow.mean <= narrow.high
    assert -4 - 1e-9 <= narrow.mean <= 4 + 1e-9
    assert wide.low <= narrow.low + 1e-12 and wide.high >= narrow.high - 1e-12
    assert math.isclose(narrow.mean - narrow.low, narrow.high - narrow.mean, abs_tol=1e-9)


# ---------------------------------------------------------------- from the database


def event(kind: str, **fields: Any) -> Any:
    if kind == "user":
        return UserUttered(
            fields["text"],
            intent={"name": "fees_and_charges", "confidence": 0.9},
            parse_data={"text": fields["text"], "emotion": {"name": fields["emotion"], "confidence": 0.9}},
            input_channel="assist",
        )
    if kind == "assist":
        return BotUttered(text="", data={"custom": {"assist": {"suggestions": fields["suggestions"], "alerts": []}}})
    return BotUttered(text=fields["text"], metadata={"author": "agent", "suggestion_id": fields["line"]})


def save(store: MaskingSQLTrackerStore, case_id: str, events: List[Any]) -> None:
    tracker = DialogueStateTracker(case_id, DOMAIN.slots)
    for item in events:
        tracker.update(item)
    asyncio.run(store.save(tracker))


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    upgrade(url)
    return url


def test_the_report_reads_stored_cases_inserts_and_outcomes(db_url, tmp_path, kb, monkeypatch):
    store = MaskingSQLTrackerStore(domain=DOMAIN, host=db_url)
    line = next(iter(kb.empathy["emotions"]["angry"]["lines"]))
    from deescalate.kb.loader import line_id

    line_key = line_id(kb.source("empathy"), line)
    shown = [{"id": line_key, "kind": "empathy", "text": line, "source": kb.source("empathy")}]
    for number, after in enumerate(["calm", "anxious", "angry"]):
        save(
            store,
            f"case-{number}",
            [
                event("user", text="你们乱扣我的钱", emotion="furious"),
                event("assist", suggestions=shown),
                event("agent", text=line if number else line + "我来处理", line=line_key),
                event("user", text="好吧", emotion=after),
            ],
        )
    with session_factory(db_url)() as session:
        case = session.get(Case, "case-0")
        case.status, case.stage = "closed", "agree"
        session.get(Case, "case-2").handoff = True
        record_insert(session, line_key, "wang", "agent", "case-0")
        session.commit()
    today = dt.datetime.now(dt.timezone.utc).date()
    with session_factory(db_url)() as session:
        rows = script_effectiveness(session, today - dt.timedelta(days=1), today, kb=kb)
    row = next(r for r in rows if r.line_id == line_key)
    assert (row.shown, row.inserted, row.sent, row.edited, row.n, row.cases) == (3, 1, 3, 1, 3, 3)
    assert row.mean_change == pytest.approx(-7 / 3)  # furious (4) -> calm 0, anxious 2, angry 3
    assert row.ci_low < -7 / 3 < row.ci_high
    assert row.outcomes == {"agreed": 1, "escalated": 0, "handed_off": 1}
    assert row.enough_data is False and row.text == line
    assert rows[0].line_id == line_key  # the only measured line comes first
    assert any(r.sent == 0 and r.shown == 0 for r in rows)  # every KB line is listed

    out = tmp_path / "scripts.csv"
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert report_main(["--from", str(today), "--out", str(out)]) == 0
    with out.open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert first["line_id"] == line_key and first["mean_change"] == "-2.333" and first["enough_data"] == "no"
    assert first["agreed"] == "1" and first["sent"] == "3"


def test_an_empty_or_new_database_gives_every_line_with_no_data(tmp_path, kb):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)  # no events table yet: Rasa has not started
    with session_factory(url)() as session:
        rows = script_effectiveness(session, dt.date(2026, 1, 1), dt.date(2026, 1, 31), kb=kb)
    assert rows and all(r.sent == 0 and r.mean_change is None and not r.enough_data for r in rows)


def test_the_threshold_comes_from_the_settings_file(tmp_path):
    text = (ROOT / "actions" / "learning.yml").read_text(encoding="utf-8").replace("min_uses: 20", "min_uses: 3")
    (tmp_path / "learning.yml").write_text(text, encoding="utf-8")
    assert LearningSettings.from_yaml(tmp_path / "learning.yml").min_uses == 3
    assert SETTINGS.min_uses == 20


def test_stored_events_are_read_one_case_and_one_event_at_a_time(db_url, monkeypatch):
    from deescalate import events as stored

    store = MaskingSQLTrackerStore(domain=DOMAIN, host=db_url)
    trackers = {case_id: DialogueStateTracker(case_id, DOMAIN.slots) for case_id in ("case-b", "case-a")}
    for turn in range(3):  # turns of two cases stored in turn, so their rows interleave
        for tracker in trackers.values():
            tracker.update(event("user", text=f"第{turn}次来问", emotion="angry"))
            asyncio.run(store.save(tracker))
    decoded = []
    monkeypatch.setattr(stored, "decode", lambda row, real=stored.decode: decoded.append(row.id) or real(row))
    with session_factory(db_url)() as session:
        cases = stored.spoken_between(session, 0.0, float("inf"))
        first_id, first_events = next(cases)
        assert decoded == []  # events are decoded as they are read
        first = [next(first_events)]
        assert len(decoded) == 1
        first += list(first_events)
        assert len(decoded) == len(first)  # the other case is not read yet
        rest = [(case_id, list(events)) for case_id, events in cases]
    assert [first_id] + [case_id for case_id, _ in rest] == ["case-a", "case-b"]
    for _case_id, events in [(first_id, first), *rest]:
        assert [e.data.get("text") for e in events if e.kind == "user"] == ["第0次来问", "第1次来问", "第2次来问"]
        assert [e.id for e in events] == sorted(e.id for e in events)
