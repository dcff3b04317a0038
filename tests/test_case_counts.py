"""The case row counts a long call turn by turn, and catches up after a failed update."""

import asyncio
from typing import Any, Tuple

from rasa.shared.core.events import ActionExecuted
from sqlalchemy.exc import OperationalError

from deescalate import tracker_store as tracker_store_module
from deescalate.db.models import Case
from deescalate.db.session import session_factory
from deescalate.tracker_store import MaskingSQLTrackerStore, stored_events
from tests.test_records import agent_reply, assist_reply, customer_turn, db_url, new_store, save_turns, store  # noqa: F401


def case_counts(db_url: str, case_id: str) -> Tuple[int, int, str]:
    with session_factory(db_url)() as session:
        case = session.get(Case, case_id)
        return case.turns, case.taboo_hits, case.status


def a_call(store: MaskingSQLTrackerStore, case_id: str, turns: int) -> None:
    """`turns` rounds of customer, assist answer and agent reply, each saved on its own."""
    for turn in range(turns):
        save_turns(store, case_id, [customer_turn(f"第{turn}次说明情况"), ActionExecuted("action_assist")])
        save_turns(store, case_id, [assist_reply(f"回应{turn}")])
        save_turns(store, case_id, [agent_reply(f"我来核实{turn}", "agent-1", ["t1"] if turn % 2 else [])])


def test_a_long_call_is_counted_turn_by_turn(store, db_url):
    a_call(store, "case-long", 12)
    assert case_counts(db_url, "case-long") == (12, 6, "in_progress")
    # Another instance (or this one after a restart) goes on counting from the row.
    a_call(new_store(db_url), "case-long", 3)
    assert case_counts(db_url, "case-long")[:2] == (15, 7)


def test_turns_saved_while_the_case_update_failed_are_counted_later(store, db_url, monkeypatch):
    a_call(store, "case-gap", 2)
    real_update = tracker_store_module.update_case

    def failing(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("UPDATE cases", {}, Exception("database is locked"))

    monkeypatch.setattr(tracker_store_module, "update_case", failing)
    a_call(store, "case-gap", 2)  # events stored, the case row not updated
    assert case_counts(db_url, "case-gap")[:2] == (2, 1)
    assert len([e for e in asyncio.run(stored_events(store, "case-gap")) if e["event"] == "user"]) == 4
    monkeypatch.setattr(tracker_store_module, "update_case", real_update)
    a_call(store, "case-gap", 1)
    assert case_counts(db_url, "case-gap")[:2] == (5, 2)
