"""Case records through the real tracker store on SQLite: nothing personal
reaches a table, the case row follows its conversation, the overdue list,
retention (`make purge`) and the Alembic migrations."""

import asyncio
import datetime as dt
import json
import re
import sqlite3
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import inspect

from deescalate import purge as purge_module
from deescalate.cases import overdue_cases, save_person_edit
from deescalate.channels.assist import case_record
from deescalate.db.migrate import upgrade
from deescalate.db.models import Case
from deescalate.db.session import get_engine, session_factory
from deescalate.tools.build import ROOT
from deescalate.tracker_store import MaskingSQLTrackerStore, stored_events
from tests.conftest import examples
from tests.test_privacy import bank_cards, mobiles, resident_ids

STORE_EXAMPLES = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def new_store(db_url: str) -> MaskingSQLTrackerStore:
    return MaskingSQLTrackerStore(domain=DOMAIN, host=db_url)


@pytest.fixture()
def store(db_url: str) -> MaskingSQLTrackerStore:
    return new_store(db_url)


def customer_turn(text: str, intent: str = "provide_info", emotion: str = "calm") -> UserUttered:
    return UserUttered(
        text,
        intent={"name": intent, "confidence": 0.9},
        parse_data={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": [],
            "emotion": {"name": emotion, "confidence": 0.8},
        },
        input_channel="assist",
    )


def assist_reply(text: str, **analysis: Any) -> BotUttered:
    """The bot event action_assist leaves: its answer under custom.assist, no text."""
    return BotUttered(
        text="",
        data={
            "custom": {
                "assist": {
                    "analysis": {"intent": {"name": "mis_selling"}, **analysis},
                    "suggestions": [{"id": "s1", "kind": "restate", "text": text}],
                    "alerts": [],
                }
            }
        },
    )


def agent_reply(text: str, agent: str, taboo: List[str]) -> BotUttered:
    """An agent's reply as the assist API records it."""
    return BotUttered(
        text=text, metadata={"author": "agent", "agent_name": agent, "suggestion_id": "s1", "taboo": taboo}
    )


def save_turns(store: MaskingSQLTrackerStore, case_id: str, events: List[Any]) -> None:
    tracker = asyncio.run(store.retrieve(case_id)) or DialogueStateTracker(case_id, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))


def table_text(db_url: str) -> str:
    """Every value of every table, as one string: what anyone with the database file reads."""
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [repr(row) for table in tables for row in connection.execute(f'SELECT * FROM "{table}"')]
    finally:
        connection.close()
    return "\n".join(rows)


def digit_runs(text: str) -> List[str]:
    return re.findall(r"\d{7,}", text)


# ---------------------------------------------------------------- privacy at rest


@STORE_EXAMPLES
@given(
    secret=st.one_of(mobiles(), resident_ids(), bank_cards()),
    before=st.sampled_from(["我的号码是", "卡号", "身份证 ", "你记一下：", ""]),
    after=st.sampled_from(["，快点处理", "", " 谢谢", "。"]),
)
def test_no_personal_number_reaches_any_table(tmp_path_factory, secret, before, after):
    written, digits = secret
    db_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'tracker.db'}"
    store = new_store(db_url)
    text = f"{before}{written}{after}"
    save_turns(
        store,
        "case-privacy",
        [
            customer_turn(text),
            ActionExecuted("action_assist"),
            assist_reply(f"您说的是{written}对吗"),
            SlotSet("demand", [text]),
        ],
    )
    stored = table_text(db_url)
    assert digits not in stored
    assert digits not in re.sub(r"\D", "", json.dumps(stored))  # not even with the separators gone
    assert "case-privacy" in stored


def test_masked_events_still_load_as_a_tracker(store, db_url):
    save_turns(
        store,
        "case-load",
        [customer_turn("我手机13912345678，卡号6222020200001234567"), ActionExecuted("action_assist")],
    )
    tracker = asyncio.run(store.retrieve("case-load"))
    texts = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert texts == ["我手机【手机号****5678】，卡号【银行卡****4567】"]


# ---------------------------------------------------------------- the case row


def test_the_case_row_follows_its_conversation(store, db_url):
    save_turns(
        store,
        "case-row",
        [
            customer_turn("我买的理财怎么变成保险了", "mis_selling", "angry"),
            SlotSet("cause", "mis_selling"),
            SlotSet("domain", "insurance"),
            SlotSet("risk", "medium"),
            SlotSet("emotion_history", ["angry"]),
            SlotSet("amount", 50000.0),
            ActionExecuted("action_assist"),
        ],
    )
    save_turns(
        store,
        "case-row",
        [
            customer_turn("我要去金融监管局", "mis_selling", "furious"),
            SlotSet("escalation", ["regulator"]),
            SlotSet("risk", "high"),
            SlotSet("emotion_history", ["angry", "furious"]),
            ActionExecuted("action_assist"),
        ],
    )
    with session_factory(db_url)() as session:
        case = session.get(Case, "case-row")
        assert (case.cause, case.domain, case.amount, case.risk) == ("mis_selling", "insurance", 50000.0, "high")
        assert case.turns == 2
        assert case.emotion_peak == "furious"
        assert case.escalation == ["regulator"]
        assert case.status == "open"
        assert case.reply_deadline is not None and case.reply_deadline > case.created_at


def test_overdue_lists_only_pending_cases_past_their_deadline(store, db_url):
    for case_id in ("late-open", "late-closed", "on-time"):
        save_turns(store, case_id, [customer_turn("我的事情怎么样了", "ask_status")])
    now = dt.datetime.utcnow()
    with session_factory(db_url)() as session:
        for case_id, hours, status in (
            ("late-open", -5, "open"),
            ("late-closed", -5, "closed"),
            ("on-time", 5, "open"),
        ):
            case = session.get(Case, case_id)
            case.reply_deadline, case.status = now + dt.timedelta(hours=hours), status
        session.commit()
        assert [case.case_id for case in overdue_cases(session, now=now)] == ["late-open"]


def test_an_empty_conversation_makes_no_case(store, db_url):
    save_turns(store, "case-empty", [ActionExecuted("action_session_start")])
    with session_factory(db_url)() as session:
        assert session.get(Case, "case-empty") is None


# ---------------------------------------------------------------- GET /case and the case table


def served_record(store: MaskingSQLTrackerStore, case_id: str, kb) -> Dict[str, Any]:
    """The record GET /webhooks/assist/case/<id> answers for this store."""
    tracker = asyncio.run(store.retrieve(case_id))
    return case_record(store, tracker, asyncio.run(stored_events(store, case_id)), kb)


def assert_agree(record: Dict[str, Any], case: Case) -> None:
    assert (record["channel"], record["status"], record["taboo_hits"]) == (case.channel, case.status, case.taboo_hits)


def test_get_case_and_the_case_table_agree(store, db_url, kb):
    chat = UserUttered(
        "你们这个扣费到底怎么回事",
        parse_data={"intent": {"name": "fees_and_charges"}, "entities": [], "emotion": {"name": "angry"}},
        input_channel="socketio",
    )
    save_turns(
        store,
        "case-agree",
        [
            chat,
            SlotSet("stage", "close"),
            assist_reply("您是说扣费有疑问", stage="close"),
            agent_reply("马上给您查", "li.na", ["t_wait", "t_rule"]),
            agent_reply("再稍等一下", "li.na", ["t_wait"]),
        ],
    )
    counter = UserUttered(
        "柜台这边办不了",
        parse_data={"intent": {"name": "provide_info"}, "entities": []},
        input_channel="assist",
        metadata={"channel": "counter"},
    )
    save_turns(store, "case-counter", [counter, agent_reply("我来处理", "wang.qiang", [])])
    with session_factory(db_url)() as session:
        chat_case, counter_case = session.get(Case, "case-agree"), session.get(Case, "case-counter")
        session.expunge_all()
    # channel by the cases.yml map, status untouched by a close stage, every taboo phrase counted
    assert (chat_case.channel, chat_case.status, chat_case.taboo_hits) == ("chat", "in_progress", 3)
    assert (counter_case.channel, counter_case.taboo_hits, counter_case.first_handler) == ("counter", 0, "wang.qiang")
    assert_agree(served_record(store, "case-agree", kb), chat_case)
    assert_agree(served_record(store, "case-counter", kb), counter_case)

    save_person_edit(session_factory(db_url), "case-agree", {"status": "resolved"})
    with session_factory(db_url)() as session:
        resolved = session.get(Case, "case-agree")
        session.expunge_all()
    assert resolved.status == "resolved"
    assert_agree(served_record(store, "case-agree", kb), resolved)


def test_a_store_without_the_case_table_derives_the_same_record(store, db_url, kb):
    save_turns(
        store,
        "case-derived",
        [
            UserUttered(
                "ATM吞卡了",
                parse_data={"intent": {"name": "atm_malfunction"}, "entities": []},
                input_channel="socketio",
            ),
            assist_reply("卡被吞了对吗"),
            agent_reply("我帮您联系网点", "li.na", ["t_wait"]),
        ],
    )
    with session_factory(db_url)() as session:
        case = session.get(Case, "case-derived")
        session.expunge_all()
    tracker = asyncio.run(store.retrieve("case-derived"))
    assert_agree(case_record(object(), tracker, asyncio.run(stored_events(store, "case-derived")), kb), case)


# ---------------------------------------------------------------- retention


def age_case(db_url: str, case_id: str, days: int) -> None:
    old = dt.datetime.utcnow() - dt.timedelta(days=days)
    with session_factory(db_url)() as session:
        session.get(Case, case_id).updated_at = old
        session.commit()
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    with connection:
        connection.execute("UPDATE events SET timestamp = ? WHERE sender_id = ?", (old.timestamp(), case_id))
    connection.close()


def count_rows(db_url: str, table: str, case_id: str) -> int:
    column = "sender_id" if table == "events" else "case_id"
    connection = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        return connection.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (case_id,)).fetchone()[0]
    finally:
        connection.close()


def test_purge_deletes_old_cases_with_their_events_and_keeps_recent_ones(store, db_url, capsys):
    for case_id in ("old-case", "new-case"):
        save_turns(store, case_id, [customer_turn("ATM吞了我的卡", "atm_malfunction"), ActionExecuted("action_assist")])
    age_case(db_url, "old-case", days=400)

    assert purge_module.main(["--url", db_url, "--days", "180", "--dry-run"]) == 0
    assert "would delete 1" in capsys.readouterr().out
    assert count_rows(db_url, "cases", "old-case") == 1  # a dry run deletes nothing

    assert purge_module.main(["--url", db_url, "--days", "180"]) == 0
    assert count_rows(db_url, "cases", "old-case") == 0
    assert count_rows(db_url, "events", "old-case") == 0
    assert count_rows(db_url, "cases", "new-case") == 1
    assert count_rows(db_url, "events", "new-case") > 0


def test_purge_refuses_a_retention_below_one_day(db_url):
    with pytest.raises(SystemExit):
        purge_module.main(["--url", db_url, "--days", "0"])


# ---------------------------------------------------------------- migrations


def test_migrations_create_the_tables_and_run_twice_without_harm(db_url):
    upgrade(db_url)
    upgrade(db_url)
    tables = set(inspect(get_engine(db_url)).get_table_names())
    assert {"cases", "users", "corrections", "alembic_version"} <= tables
    columns = {c["name"] for c in inspect(get_engine(db_url)).get_columns("cases")}
    assert {c.name for c in Case.__table__.columns} <= columns


def test_a_database_that_predates_the_migrations_is_brought_up_to_date(tmp_path):
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, type_name TEXT, "
        "timestamp REAL, intent_name TEXT, action_name TEXT, data TEXT)"
    )
    connection.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES ('kept', 'user', 1, '{}')")
    connection.commit()
    connection.close()
    upgrade(f"sqlite:///{path}")
    assert count_rows(f"sqlite:///{path}", "events", "kept") == 1
    assert "cases" in inspect(get_engine(f"sqlite:///{path}")).get_table_names()


# ---------------------------------------------------------------- reading a case again


def texts_of(tracker) -> List[str]:
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


def test_a_case_reads_the_turns_another_instance_stored(db_url):
    first, second = new_store(db_url), new_store(db_url)  # two Rasa instances, one database
    save_turns(first, "case-shared", [customer_turn("第一句")])
    save_turns(second, "case-shared", [customer_turn("第二句")])
    save_turns(first, "case-shared", [customer_turn("第三句")])
    assert texts_of(asyncio.run(first.retrieve("case-shared"))) == ["第一句", "第二句", "第三句"]
    assert texts_of(asyncio.run(second.retrieve("case-shared"))) == ["第一句", "第二句", "第三句"]


def test_a_purged_case_is_not_served_from_memory(store, db_url):
    save_turns(store, "case-gone", [customer_turn("ATM吞卡了", "atm_malfunction")])
    assert asyncio.run(store.retrieve("case-gone")) is not None
    age_case(db_url, "case-gone", days=400)
    purge_module.main(["--url", db_url, "--days", "180"])
    assert asyncio.run(store.retrieve("case-gone")) is None


def test_only_the_latest_session_is_read(store):
    from rasa.shared.core.events import SessionStarted

    save_turns(store, "case-sessions", [customer_turn("上次的事")])
    save_turns(store, "case-sessions", [SessionStarted(), customer_turn("这次的事")])
    assert texts_of(asyncio.run(store.retrieve("case-sessions"))) == ["这次的事"]
    assert texts_of(asyncio.run(store.retrieve_full_tracker("case-sessions"))) == ["上次的事", "这次的事"]


def test_the_memory_of_cases_is_bounded(db_url):
    store = MaskingSQLTrackerStore(domain=DOMAIN, host=db_url, cache_size=3)
    for index in range(6):
        save_turns(store, f"case-{index}", [customer_turn("你好", "greet")])
        asyncio.run(store.retrieve(f"case-{index}"))
    assert list(store._cases) == ["case-3", "case-4", "case-5"]
