"""Ranking that learns, without servers: the posterior, exploration, pins, retirements, the fallback."""

import dataclasses
import datetime as dt
import random
import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deescalate.assist.engine import AssistEngine
from deescalate.assist.state import AssistSettings, CaseState
from deescalate.kb.loader import line_id
from deescalate.learning.figures import FiguresCache
from deescalate.learning.ranking import Figures, LineStats, Ranker
from deescalate.learning.settings import LearningSettings
from tests.conftest import examples

RANKING = LearningSettings.from_yaml().ranking


def ranker(stats=None, states=None, seed=0, **changes):
    return Ranker(Figures(stats or {}, states or {}), dataclasses.replace(RANKING, **changes), random.Random(seed))


def test_the_posterior_starts_at_the_prior_and_follows_the_data():
    r = ranker({"seen": LineStats(shown=40, sent=30, n=30, total_change=-45.0)})
    mean, spread = r.posterior("new")  # the prior: the pooled mean of the lines measured
    assert (mean, spread) == (pytest.approx(-1.5), pytest.approx(RANKING.prior_sd / RANKING.prior_strength**0.5))
    assert ranker().posterior("new")[0] == RANKING.prior_mean  # nothing measured: the configured mean
    mean, spread = r.posterior("seen")
    assert mean == pytest.approx(-1.5)
    assert spread < RANKING.prior_sd / 5
    assert r.pick_share("seen") > r.pick_share("new") > 0


@settings(max_examples=examples(200), deadline=None)
@given(st.integers(min_value=0, max_value=500), st.floats(min_value=-4, max_value=4))
def test_the_posterior_mean_lies_between_the_prior_and_the_data(n, mean_change):
    other = LineStats(shown=10, sent=10, n=10, total_change=5.0)
    r = ranker({"x": LineStats(shown=n, sent=n, n=n, total_change=mean_change * n), "y": other})
    mean, spread = r.posterior("x")
    low, high = sorted((r.prior_mean, mean_change))
    assert low - 1e-9 <= mean <= high + 1e-9
    assert 0 < spread <= RANKING.prior_sd / RANKING.prior_strength**0.5 + 1e-12


def picks(r_factory, candidates, rounds=400):
    return Counter(candidates[r_factory(seed).choose(candidates)][0] for seed in range(rounds))


def test_a_calming_line_wins_and_others_still_get_their_share():
    stats = {
        "calming": LineStats(shown=60, sent=40, n=40, total_change=-60.0),
        "flat": LineStats(shown=60, sent=40, n=40, total_change=0.0),
    }
    candidates = [("flat", 5), ("calming", 5), ("new", 5)]
    counts = picks(lambda seed: ranker(stats, seed=seed), candidates)
    assert counts["calming"] > 0.7 * sum(counts.values())
    assert counts["flat"] > 0 and counts["new"] > counts["flat"]  # explored; the new line starts as average
    sampled = picks(lambda seed: ranker(stats, seed=seed, exploration=0.0), candidates)
    assert sampled["flat"] == 0 and sampled["calming"] > 300
    uniform = picks(lambda seed: ranker(stats, seed=seed, exploration=1.0), candidates)
    assert min(uniform.values()) > 90


def test_fit_outside_the_margin_is_not_overruled():
    stats = {"calming": LineStats(shown=60, sent=40, n=40, total_change=-120.0)}
    candidates = [("fits_better", 5 + RANKING.fit_margin + 1), ("calming", 5)]
    assert picks(lambda seed: ranker(stats, seed=seed), candidates) == Counter({"fits_better": 400})


def test_pinned_first_retired_never():
    states = {"pinned": "pinned", "retired": "retired"}
    r = ranker({"great": LineStats(60, 60, 60, -200.0)}, states)
    assert r.choose([("great", 9), ("pinned", 1), ("retired", 9)]) == 1
    assert r.choose([("retired", 9)]) is None
    assert r.why("pinned", 1) == {"fit": 1, "used": 0, "effect": None, "n": 0, "pinned": True}
    assert r.why("great", 9) == {"fit": 9, "used": 60, "effect": pytest.approx(-3.333, abs=1e-3), "n": 60}


# ---------------------------------------------------------------- the engine


def furious_turn():
    return {
        "text": "你们乱扣费",
        "intent": {"name": "fees_and_charges", "confidence": 0.95},
        "intent_ranking": [{"name": "fees_and_charges", "confidence": 0.95}],
        "emotion": {"name": "furious", "confidence": 0.9},
        "entities": [],
    }


def empathy_ids(kb):
    return [line_id(kb.source("empathy"), text) for text in kb.empathy["emotions"]["furious"]["lines"]]


def test_without_figures_the_engine_ranks_by_fit_and_says_so(kb):
    plain = AssistEngine(kb, AssistSettings.from_yaml())
    down = AssistEngine(kb, plain.settings, figures=lambda: None, ranking=RANKING)
    first = plain.turn(CaseState(), furious_turn(), "case-1").suggestions
    assert down.turn(CaseState(), furious_turn(), "case-1").suggestions == first
    assert all(s["why"]["used"] is None and s["why"]["n"] == 0 for s in first)
    assert all(isinstance(s["why"]["fit"], int) for s in first if s["kind"] != "choices")


def test_the_engine_offers_the_calming_line_and_explains_it(kb):
    ids = empathy_ids(kb)
    calming = ids[-1]
    stats = {line: LineStats(shown=50, sent=40, n=40, total_change=0.0) for line in ids[1:-1]}
    stats[calming] = LineStats(shown=50, sent=40, n=40, total_change=-80.0)
    figures = Figures(stats, {ids[0]: "retired"})
    engine = AssistEngine(
        kb,
        AssistSettings.from_yaml(),
        figures=lambda: figures,
        ranking=dataclasses.replace(RANKING, exploration=0.0),
    )
    first = Counter()
    for seed in range(30):
        shown = engine.turn(CaseState(), furious_turn(), f"case-{seed}").suggestions
        empathy = [s for s in shown if s["id"] in ids]
        first[empathy[0]["id"]] += 1
        assert ids[0] not in {s["id"] for s in shown}  # retired: never offered
        for suggestion in empathy:
            expected = -2.0 if suggestion["id"] == calming else 0.0
            assert suggestion["why"] == {"fit": suggestion["why"]["fit"], "used": 40, "effect": expected, "n": 40}
    assert first[calming] == 30


# ---------------------------------------------------------------- the cache


def test_the_cache_never_blocks_a_turn_and_falls_back_when_the_database_fails():
    gate = threading.Event()
    figures = Figures({"a": LineStats(1, 1, 1, -1.0)})

    def slow_reader(url, days):
        gate.wait(10)
        return figures

    now = [0.0]
    cache = FiguresCache(dataclasses.replace(RANKING, refresh_seconds=60), reader=slow_reader, clock=lambda: now[0])
    assert cache.current() is None  # the first read is running; the turn does not wait
    gate.set()
    cache.wait()
    assert cache.current() is figures

    failing = threading.Event()

    def broken(url, days):
        failing.wait(10)
        raise OSError("database down")

    cache.reader = broken
    now[0] = 61.0
    assert cache.current() is figures  # a refresh starts; the turn gets what is there
    failing.set()
    cache.wait()
    assert cache.current() is None  # database down: rank by fit alone
    cache.reader = lambda url, days: Figures()
    now[0] = 122.0
    cache.current()
    cache.wait()
    assert cache.current() is None  # nothing recorded yet: fit alone as well


def test_the_cache_reads_a_real_database_and_an_empty_one(tmp_path):
    from deescalate.db.migrate import upgrade
    from deescalate.db.session import session_factory
    from deescalate.learning.controls import set_line_state
    from deescalate.learning.figures import DayByDayReader

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    assert DayByDayReader()(url, 90).empty
    with session_factory(url)() as session:
        set_line_state(session, "empathy-abc", "retire", "zhou", "supervisor", "too stiff", url=url)
    assert DayByDayReader()(url, 90).states == {"empathy-abc": "retired"}


def test_pin_and_retire_are_recorded_audited_and_reversible(tmp_path):
    from deescalate.db.migrate import upgrade
    from deescalate.db.models import AccessLog
    from deescalate.db.session import session_factory
    from deescalate.learning.controls import line_history, line_states, set_line_state

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    with session_factory(url)() as session:
        with pytest.raises(PermissionError):
            set_line_state(session, "stages-1", "pin", "wang", "agent", url=url)
        with pytest.raises(ValueError):
            set_line_state(session, "stages-1", "delete", "zhou", "supervisor", url=url)
        with pytest.raises(ValueError):
            set_line_state(session, "x' OR 1=1", "pin", "zhou", "supervisor", url=url)
        assert set_line_state(session, "stages-1", "pin", "zhou", "supervisor", "best opener", url=url) == "pinned"
        assert set_line_state(session, "stages-2", "retire", "zhou", "supervisor", url=url) == "retired"
        assert line_states(session) == {"stages-1": "pinned", "stages-2": "retired"}
        set_line_state(session, "stages-1", "unpin", "li", "admin", url=url)
        set_line_state(session, "stages-2", "restore", "li", "admin", url=url)
        assert line_states(session) == {}
        history = line_history(session, "stages-1")
        assert [(h["action"], h["by"]) for h in history] == [("unpin", "li"), ("pin", "zhou")]
        assert history[1]["note"] == "best opener"
        audited = [(a.username, a.action, a.target) for a in session.query(AccessLog).order_by(AccessLog.id)]
    assert audited == [
        ("zhou", "script_line", "pin stages-1"),
        ("zhou", "script_line", "retire stages-2"),
        ("li", "script_line", "unpin stages-1"),
        ("li", "script_line", "restore stages-2"),
    ]


def test_figures_are_empty_until_a_line_is_sent_or_a_supervisor_acts():
    assert Figures().empty
    assert Figures({"a": LineStats(shown=5)}).empty  # shown only: nothing learned yet, rank by fit
    assert not Figures({"a": LineStats(shown=5, sent=1)}).empty
    assert not Figures({}, {"a": "retired"}).empty


def test_the_window_is_read_day_by_day_and_only_today_is_read_again(tmp_path):
    import json

    from deescalate.db.migrate import upgrade
    from deescalate.db.session import session_factory
    from deescalate.events import EVENTS
    from deescalate.learning.figures import DayByDayReader

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    factory = session_factory(url)
    EVENTS.create(factory.kw["bind"], checkfirst=True)

    def one_send(case_id: str, day: dt.date, hour: int, before: str, after: str) -> None:
        """A customer turn, the assist offering line `l1`, the agent sending it, the customer again."""
        at = dt.datetime.combine(day, dt.time(hour)).replace(tzinfo=dt.timezone.utc).timestamp()
        offered = {"custom": {"assist": {"suggestions": [{"id": "l1", "text": "好的", "kind": "empathy"}]}}}
        rows = [
            ("user", {"text": "我要投诉", "parse_data": {"emotion": {"name": before}}}),
            ("bot", {"text": "", "data": offered}),
            ("bot", {"text": "好的", "metadata": {"author": "agent", "suggestion_id": "l1"}}),
            ("user", {"text": "嗯", "parse_data": {"emotion": {"name": after}}}),
        ]
        with factory() as session:
            for second, (kind, data) in enumerate(rows):
                data = {"event": kind, "timestamp": at + second, **data}
                session.execute(
                    EVENTS.insert().values(
                        sender_id=case_id, type_name=kind, timestamp=at + second, data=json.dumps(data)
                    )
                )
            session.commit()

    today = dt.date(2026, 3, 10)
    now = [dt.datetime.combine(today, dt.time(12))]
    one_send("old", today - dt.timedelta(days=5), 9, "furious", "calm")  # outside a 3-day window
    one_send("a", today - dt.timedelta(days=2), 9, "angry", "calm")  # -3
    one_send("b", today - dt.timedelta(days=1), 9, "angry", "anxious")  # -1
    one_send("c", today, 9, "angry", "angry")  # 0
    reader = DayByDayReader(now=lambda: now[0])

    stats = reader(url, 3).stats["l1"]
    assert (stats.shown, stats.sent, stats.n, stats.total_change) == (3, 3, 3, -4.0)
    assert reader.reads == 4  # the three days before today and today

    one_send("d", today, 11, "furious", "calm")  # -4, today: seen on the next refresh
    one_send("e", today - dt.timedelta(days=1), 10, "angry", "calm")  # written late into a kept day: not re-read
    stats = reader(url, 3).stats["l1"]
    assert (stats.sent, stats.n, stats.total_change) == (4, 4, -8.0)
    assert reader.reads == 5  # only today again

    now[0] = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0, 5))  # just past midnight
    reader(url, 3)
    assert reader.reads == 7  # yesterday is still settling, and the new today
    now[0] = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0, 30))
    stats = reader(url, 3).stats["l1"]
    assert reader.reads == 9  # yesterday read once more, now kept; today
    assert (stats.sent, stats.total_change) == (4, -8.0)  # a, b, c, d: "e" came into a day already kept

    now[0] = dt.datetime.combine(today + dt.timedelta(days=2), dt.time(9))
    stats = reader(url, 3).stats["l1"]
    assert (stats.sent, stats.total_change) == (3, -5.0)  # the day of case "a" has left the window
    assert reader.reads == 11
