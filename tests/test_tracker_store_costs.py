"""What keeps a long case cheap in the tracker store: Rasa gets the conversation
without the assist answers (they stay stored, once), and a save writes the new
events without reading the stored ones."""

import asyncio
import json
import sqlite3
from typing import List

from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event as sqlalchemy_event

from deescalate.tracker_store import lean_event, stored_events
from tests.test_records import DOMAIN, customer_turn, db_url, new_store, save_turns  # noqa: F401 (db_url: a fixture)

ANSWER = {
    "analysis": {"intent": {"name": "mis_selling"}, "risk": "high"},
    "suggestions": [{"id": "s1", "kind": "empathy", "text": "非常理解您的心情"}],
    "alerts": [],
}


def assist_turn(text: str) -> List:
    return [
        customer_turn(text),
        ActionExecuted("action_assist"),
        BotUttered(data={"custom": {"assist": ANSWER}}),
        SlotSet("cause", "mis_selling"),
        ActionExecuted("action_listen"),
    ]


def stored_rows(db_url: str, case_id: str) -> List[tuple]:
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        return connection.execute(
            "SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id", (case_id,)
        ).fetchall()
    finally:
        connection.close()


def test_rasa_gets_the_bot_events_without_the_answers_which_stay_stored_once(db_url):
    store = new_store(db_url)
    for index in range(3):
        save_turns(store, "case-lean", assist_turn(f"第{index}句"))
    tracker = asyncio.run(store.retrieve("case-lean"))
    bots = [e for e in tracker.events if isinstance(e, BotUttered)]
    assert len(bots) == 3 and all("assist" not in json.dumps(e.data) for e in bots)
    assert tracker.get_slot("cause") == "mis_selling"
    rows = stored_rows(db_url, "case-lean")
    answers = [json.loads(data)["data"]["custom"]["assist"] for kind, data in rows if kind == "bot"]
    assert answers == [ANSWER] * 3
    assert len(rows) == len(tracker.events)


def test_whatever_shows_the_answers_reads_them_from_the_stored_events(db_url):
    store = new_store(db_url)
    save_turns(store, "case-shown", assist_turn("我要投诉"))
    for wrapped in (store, FailSafeTrackerStore(store)):  # Rasa wraps the configured store
        events = asyncio.run(stored_events(wrapped, "case-shown"))
        assert [e["data"]["custom"]["assist"] for e in events if e["event"] == "bot"] == [ANSWER]
    assert asyncio.run(stored_events(store, "case-unknown")) is None
    fresh = new_store(db_url)  # another instance, nothing kept yet
    assert asyncio.run(stored_events(fresh, "case-shown")) == asyncio.run(stored_events(store, "case-shown"))


def test_lean_event_keeps_everything_but_the_answer():
    data = {
        "event": "bot",
        "text": "您好",
        "data": {"buttons": [{"title": "退款"}], "custom": {"assist": ANSWER, "other": 1}},
    }
    assert lean_event(data) == {
        "event": "bot",
        "text": "您好",
        "data": {"buttons": [{"title": "退款"}], "custom": {"other": 1}},
    }
    assert lean_event({"event": "bot", "data": {"custom": {"assist": ANSWER}}}) == {"event": "bot", "data": {}}
    user = {"event": "user", "text": "assist", "parse_data": {}}
    assert lean_event(user) is user


def statements_during(store, action) -> List[str]:
    seen: List[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sqlalchemy_event.listen(store.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sqlalchemy_event.remove(store.engine, "before_cursor_execute", record)
    return seen


def test_a_save_does_not_read_the_stored_events(db_url):
    store = new_store(db_url)
    for index in range(5):
        save_turns(store, "case-long", assist_turn(f"第{index}句"))
    tracker = asyncio.run(store.retrieve("case-long"))
    for event in assist_turn("第五句"):
        tracker.update(event)
    statements = statements_during(store, lambda: asyncio.run(store.save(tracker)))
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "events" in s]
    assert not any("events.data" in s or "session_start" in s for s in reads), reads
    assert len(stored_rows(db_url, "case-long")) == 6 * 5


def test_saves_from_two_instances_store_every_event_once(db_url):
    first, second = new_store(db_url), new_store(db_url)
    for index in range(4):
        save_turns(first if index % 2 == 0 else second, "case-two", assist_turn(f"第{index}句"))
    save_turns(first, "case-two", [SessionStarted(), ActionExecuted("action_listen")])
    save_turns(second, "case-two", assist_turn("新的一次"))
    save_turns(first, "case-two", assist_turn("再问一次"))
    texts = [json.loads(data)["text"] for kind, data in stored_rows(db_url, "case-two") if kind == "user"]
    assert texts == ["第0句", "第1句", "第2句", "第3句", "新的一次", "再问一次"]
    assert len(stored_rows(db_url, "case-two")) == 4 * 5 + 2 + 2 * 5
    latest = asyncio.run(first.retrieve("case-two"))
    assert [e.text for e in latest.events if e.type_name == "user"] == ["新的一次", "再问一次"]


def test_a_long_case_reaches_rasa_as_its_state_and_latest_turns(db_url):
    store = new_store(db_url)
    save_turns(
        store, "case-state", [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    )
    for index in range(40):
        events = assist_turn(f"第{index}句")
        events.insert(3, SlotSet("turns", float(index + 1)))
        if index == 3:
            events.insert(3, SlotSet("amount", 20000.0))  # set once, early
        save_turns(store, "case-state", events)
    given = asyncio.run(store.retrieve("case-state"))
    stored = asyncio.run(stored_events(store, "case-state"))
    replayed = DialogueStateTracker.from_dict("case-state", [lean_event(e) for e in stored], DOMAIN.slots)
    assert len(given.events) <= store.tail_events + len(DOMAIN.slots) + 2 < len(replayed.events)
    assert given.current_slot_values() == replayed.current_slot_values()
    assert given.get_slot("amount") == 20000.0 and given.get_slot("turns") == 40.0
    assert given.latest_message.text == replayed.latest_message.text == "第39句"
    assert given.latest_action_name == replayed.latest_action_name == "action_listen"
    assert given.applied_events() and given.get_latest_input_channel() == "assist"
    tracker = given
    for event in assist_turn("第四十句"):
        tracker.update(event)
    asyncio.run(store.save(tracker))
    asyncio.run(store.save(tracker))  # saved twice: nothing written twice
    texts = [json.loads(data)["text"] for kind, data in stored_rows(db_url, "case-state") if kind == "user"]
    assert texts == [f"第{index}句" for index in range(40)] + ["第四十句"]
    fresh = new_store(db_url)  # another instance reads it from the rows
    assert asyncio.run(fresh.retrieve("case-state")).current_slot_values() == tracker.current_slot_values()
