"""The trainers' labelling queue: its score, its order, one-click labels and what leaves it."""

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from deescalate.db.migrate import upgrade
from deescalate.db.models import Case, Correction
from deescalate.db.session import session_factory
from deescalate.review.export import export_corrections
from deescalate.review.queries import EVENTS, CorrectionError
from deescalate.review.queue import (
    QueueFilters,
    QueueSettings,
    default_settings,
    label_turn,
    queue_page,
    turn_reasons,
)

NOW = dt.datetime(2026, 3, 10, 10, 0).timestamp()


@pytest.fixture()
def db(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    upgrade(url)
    factory = session_factory(url)
    EVENTS.create(factory.kw["bind"], checkfirst=True)
    return factory


def parse(
    intent: str, confidence: float, emotion: str, cause: Optional[str] = None, cause_confidence: float = 0.9
) -> Dict[str, Any]:
    data: Dict[str, Any] = {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}, {"name": "ask_status", "confidence": 0.05}],
        "emotion": {"name": emotion, "confidence": 0.8},
        "entities": [],
    }
    if cause:
        data["cause"] = {
            "name": cause,
            "confidence": cause_confidence,
            "ranking": [{"name": cause, "confidence": cause_confidence}],
        }
    return data


def add(db: Any, case_id: str, text: str, parsed: Dict[str, Any], at: float = NOW, cause: Optional[str] = None) -> int:
    with db() as session:
        if session.get(Case, case_id) is None:
            session.add(Case(case_id=case_id, channel="hotline", status="open", demand=[], escalation=[], cause=cause))
        data = {"event": "user", "timestamp": at, "text": text, "parse_data": {"text": text, **parsed}}
        result = session.execute(
            EVENTS.insert().values(sender_id=case_id, type_name="user", timestamp=at, data=json.dumps(data))
        )
        session.commit()
        return int(result.inserted_primary_key[0])


def ids(db: Any, **filters: Any) -> list:
    with db() as session:
        return [t.event_id for t in queue_page(session, QueueFilters(**filters)).turns]


def test_each_reason_counts_by_its_configured_weight():
    settings = default_settings()
    w = settings.weights
    assert (
        turn_reasons(parse("atm_malfunction", 0.95, "angry", "atm_malfunction"), "angry", "atm_malfunction", settings)
        == []
    )

    fallback = turn_reasons(parse("nlu_fallback", 0.3, "calm"), None, None, settings)
    assert [r.kind for r in fallback] == ["fallback", "low_confidence"]
    assert fallback[0].points == w["fallback"]
    # under a fallback the confidence is that of the best guess behind it (ask_status, 0.05)
    assert fallback[1].points == pytest.approx(w["low_confidence"] * (0.6 - 0.05) / 0.6)

    # the cause component's confidence counts when it is the lower one
    low_cause = turn_reasons(parse("atm_malfunction", 0.9, "calm", "atm_malfunction", 0.15), None, None, settings)
    assert [(r.kind, r.detail["of"]) for r in low_cause] == [("low_confidence", "cause")]

    differs = turn_reasons(parse("fees_and_charges", 0.9, "calm"), None, "mis_selling", settings)
    assert [(r.kind, r.points, r.detail) for r in differs] == [
        ("cause_differs", w["cause_differs"], {"case": "mis_selling", "turn": "fees_and_charges"})
    ]
    # a dialogue act is not a cause: it does not disagree with the case's
    assert turn_reasons(parse("provide_info", 0.9, "calm"), None, "mis_selling", settings) == []

    jump = turn_reasons(parse("greet", 0.9, "furious"), "calm", None, settings)
    assert [(r.kind, r.points) for r in jump] == [("emotion_jump", w["emotion_jump"] * 4 / 4)]
    assert turn_reasons(parse("greet", 0.9, "confused"), "calm", None, settings) == []  # one level: not a jump
    assert [r.kind for r in turn_reasons(parse("greet", 0.9, "calm"), "angry", None, settings)] == ["emotion_jump"]


def test_weights_come_from_the_yaml(tmp_path: Path):
    path = tmp_path / "queue.yml"
    text = Path("deescalate/review/queue.yml").read_text(encoding="utf-8")
    path.write_text(text.replace("cause_differs: 2.0", "cause_differs: 0"), encoding="utf-8")
    settings = QueueSettings.from_yaml(path)
    assert settings.weights["cause_differs"] == 0
    # a reason weighted 0 does not queue a turn
    assert turn_reasons(parse("fees_and_charges", 0.9, "calm"), None, "mis_selling", settings) == []
    path.write_text(text.replace("cause_differs:", "made_up:"), encoding="utf-8")
    with pytest.raises(ValueError, match="weights"):
        QueueSettings.from_yaml(path)


def test_queue_orders_by_score_and_skips_what_teaches_nothing(db: Any):
    sure = add(
        db,
        "q-1",
        "卡被机器吞了，钱也没出来",
        parse("atm_malfunction", 0.97, "angry", "atm_malfunction"),
        cause="atm_malfunction",
    )
    jumped = add(db, "q-1", "你们到底管不管", parse("atm_malfunction", 0.95, "calm", "atm_malfunction"), NOW + 1)
    differs = add(db, "q-2", "这个月又多扣了一笔年费", parse("fees_and_charges", 0.9, "anxious"), cause="mis_selling")
    fallback = add(db, "q-3", "嗯……那个，就是", parse("nlu_fallback", 0.2, "confused"), cause=None)
    unsure = add(
        db, "q-4", "保单的事情你们说清楚", parse("mis_selling", 0.5, "calm", "mis_selling", 0.5), cause="mis_selling"
    )
    with db() as session:
        page = queue_page(session, QueueFilters())
    order = [t.event_id for t in page.turns]
    assert order == [fallback, differs, jumped, unsure] and sure not in order
    scores = [t.score for t in page.turns]
    assert scores == sorted(scores, reverse=True)
    w = default_settings().weights
    assert page.turns[0].score == pytest.approx(w["fallback"] + w["low_confidence"] * (0.6 - 0.05) / 0.6, abs=1e-4)
    assert page.turns[2].reasons[0].detail == {"from": "angry", "to": "calm", "levels": 3}
    assert page.turns[1].intent_choices[:2] == ["fees_and_charges", "mis_selling"]  # the guess, then the case's cause


def test_turns_without_a_case_record_are_not_queued(db: Any):
    event = add(db, "q-orphan", "喂喂，听得到吗", parse("nlu_fallback", 0.1, "calm"))
    with db() as session:
        session.query(Case).filter_by(case_id="q-orphan").delete()
        session.commit()
    assert event not in ids(db)


def test_one_click_labels_and_the_turn_leaves_the_queue(db: Any, tmp_path: Path):
    differs = add(db, "q-5", "这个月又多扣了一笔年费", parse("fees_and_charges", 0.9, "anxious"), cause="mis_selling")
    fallback = add(db, "q-6", "嗯……那个，就是", parse("nlu_fallback", 0.2, "confused"), cause=None)
    jumped_first = add(db, "q-7", "我想查一下进度", parse("ask_status", 0.9, "calm"), cause=None)
    jumped = add(db, "q-7", "三次了还没人回我！", parse("ask_status", 0.9, "furious"), NOW + 1)
    assert set(ids(db)) == {differs, fallback, jumped} and jumped_first not in ids(db)

    with db() as session:
        with pytest.raises(CorrectionError, match="先点选正确意图"):
            label_turn(session, "q-6", fallback, "emotion", "confused", "trainer1")  # no intent behind a fallback
        with pytest.raises(CorrectionError):
            label_turn(session, "q-5", differs, "intent", "no_such_intent", "trainer1")
        with pytest.raises(CorrectionError):
            label_turn(session, "q-5", differs, "amount", "3", "trainer1")
        with pytest.raises(CorrectionError):
            label_turn(session, "q-6", differs, "intent", "mis_selling", "trainer1")  # another case's turn
        session.rollback()
        label_turn(session, "q-5", differs, "intent", "mis_selling", "trainer1")
        label_turn(session, "q-6", fallback, "intent", "ask_status", "trainer1")
        label_turn(session, "q-7", jumped, "both", "", "trainer1")
        session.commit()
        rows = {c.event_id: c for c in session.query(Correction).all()}
    assert ids(db) == []
    assert (rows[differs].intent, rows[differs].emotion) == ("mis_selling", None)  # emotion kept as predicted
    assert (rows[fallback].intent, rows[fallback].predicted_intent) == ("ask_status", "nlu_fallback")
    assert (rows[jumped].intent, rows[jumped].emotion) == (None, None)  # confirmed as it stands

    result = export_corrections(db, tmp_path / "nlu")
    assert result.exported == 3
    text = result.path.read_text(encoding="utf-8")
    assert "- intent: mis_selling" in text and "年费" in text and "emotion: anxious" in text
    assert "emotion: furious" in text  # the confirmed turn exports its prediction


def test_dates_filter_the_turns_and_pages_split_them(db: Any):
    day = dt.date(2026, 3, 10)
    before = add(db, "q-8", "嗯……那个，就是", parse("nlu_fallback", 0.2, "calm"), NOW - 3 * 86400)
    on_day = add(db, "q-9", "嗯，还有个事", parse("nlu_fallback", 0.2, "calm"), NOW)
    assert ids(db, date_from=day, date_to=day) == [on_day]
    assert ids(db, date_to=day - dt.timedelta(days=2)) == [before]
    assert set(ids(db)) == {before, on_day}

    small = dataclasses.replace(default_settings(), per_page=1)
    with db() as session:
        first = queue_page(session, QueueFilters(), small)
        second = queue_page(session, QueueFilters(page=2), small)
        beyond = queue_page(session, QueueFilters(page=9), small)
    assert (first.total, first.pages) == (2, 2)
    assert [first.turns[0].event_id, second.turns[0].event_id] == [on_day, before]  # same score: newest first
    assert beyond.page == 2
    assert QueueFilters.from_args({"date_from": ["2026-13-01"], "page": ["x"]}) == QueueFilters()
    assert QueueFilters(date_from=day, page=2).as_args() == {"date_from": "2026-03-10", "page": "2"}


def test_only_the_newest_turns_are_scanned(db: Any):
    for n in range(4):
        add(db, f"q-many-{n}", "嗯……", parse("nlu_fallback", 0.2, "calm"), NOW + n)
    small = dataclasses.replace(default_settings(), max_turns=3)
    with db() as session:
        page = queue_page(session, QueueFilters(), small)
    assert page.truncated and page.scanned == 3 and page.total == 3


def test_shown_text_is_masked(db: Any):
    event = add(db, "q-mask", "我的手机13812345678一直收到催收电话", parse("nlu_fallback", 0.2, "angry"))
    with db() as session:
        (turn,) = [t for t in queue_page(session, QueueFilters()).turns if t.event_id == event]
    assert "13812345678" not in turn.text and "5678" in turn.text
