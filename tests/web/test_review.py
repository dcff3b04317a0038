"""Trainer review: label corrections exported as Rasa NLU data, the pages in headless
Chromium against the real stack, and who may see them."""

import datetime as dt
import json
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Set

import pytest
import requests
import yaml
from playwright.sync_api import expect

from deescalate.db.migrate import upgrade
from deescalate.db.models import Case, Correction
from deescalate.db.session import session_factory
from deescalate.review.export import annotate, export_corrections, plain_text
from deescalate.review.queries import EVENTS, CaseFilters, case_page, save_correction, utc_to_local
from tests.conftest import ROOT, screenshot

COMPLAINT = "我妈在你们网点存的钱被说成理财，结果买成了分红险，现在退保要亏好几千"
SECOND = "你们当时根本没讲清楚，我要求全额退还"
TABOO_DRAFT = "公司规定就是这样，我也没办法"


def domain_intents() -> Set[str]:
    return set(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"])


def load_nlu(path: Path) -> Any:
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(path))


# ---------------------------------------------------------------- export, on its own database


@pytest.fixture()
def review_db(tmp_path: Path) -> Any:
    """An empty product database with Rasa's events table, as the tracker store leaves it."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    upgrade(url)
    factory = session_factory(url)
    EVENTS.create(factory.kw["bind"], checkfirst=True)
    return factory


def add_turn(
    factory: Any, case_id: str, text: str, intent: str, emotion: str, entities: List[Dict[str, Any]] = ()
) -> int:
    data = {
        "event": "user",
        "timestamp": time.time(),
        "text": text,
        "input_channel": "assist",
        "parse_data": {
            "text": text,
            "intent": {"name": intent, "confidence": 0.6},
            "emotion": {"name": emotion, "confidence": 0.7},
            "entities": list(entities),
        },
    }
    with factory() as session:
        if session.get(Case, case_id) is None:
            session.add(Case(case_id=case_id, channel="hotline", status="open", demand=[], escalation=[]))
        result = session.execute(
            EVENTS.insert().values(
                sender_id=case_id,
                type_name="user",
                timestamp=data["timestamp"],
                intent_name=intent,
                data=json.dumps(data),
            )
        )  # ensure_ascii, as Rasa writes it
        session.commit()
        return int(result.inserted_primary_key[0])


def test_annotate_writes_entities_in_the_training_data_syntax():
    text = "我存的五万块变成了分红险，我要投诉到12378"
    entities = [
        {"entity": "amount", "start": 3, "end": 6, "value": 50000.0},
        {"entity": "product", "start": 9, "end": 12, "value": "分红险"},
        {"entity": "escalation", "start": 18, "end": 23, "value": "regulator"},
        {"entity": "product", "start": 10, "end": 12, "value": "红险"},  # overlaps: dropped
        {"entity": "made_up", "start": 0, "end": 1, "value": "x"},  # not in the contract
    ]
    assert annotate(text, entities) == (
        '我存的[五万块]{"entity": "amount", "value": "50000"}变成了[分红险](product)，'
        '我要投诉到[12378]{"entity": "escalation", "value": "regulator"}'
    )
    masked = "我的卡号是【银行卡****1234】 [急]"
    assert (
        annotate(masked, [{"entity": "amount", "start": 5, "end": 17, "value": 1234}])
        == "我的卡号是【银行卡****1234】 ［急］"
    )
    assert plain_text(annotate(text, entities)) == text


def test_corrections_export_as_valid_rasa_nlu(review_db: Any, tmp_path: Path):
    case_id = "case-export"
    first = add_turn(
        review_db,
        case_id,
        "ATM把我的卡吞了 三千块也没吐出来",
        "out_of_scope",
        "calm",
        [{"entity": "amount", "start": 10, "end": 13, "value": 3000}],
    )
    second = add_turn(review_db, case_id, "我就是想问问 你们到底什么时候给我处理", "greet", "angry")
    fallback = add_turn(review_db, case_id, "嗯嗯", "nlu_fallback", "calm")
    with review_db() as session:
        save_correction(session, case_id, first, "atm_malfunction", "anxious", "trainer1")
        save_correction(session, case_id, second, "ask_status", "angry", "trainer1")
        save_correction(session, case_id, second, "ask_status", "furious", "trainer1")  # re-corrected before export
        with pytest.raises(ValueError):
            save_correction(session, case_id, fallback, "not_an_intent", "calm", "trainer1")
        save_correction(session, case_id, fallback, "affirm", "calm", "trainer1")
        session.commit()
        assert session.query(Correction).count() == 3
    with review_db() as session:  # the fallback turn's intent reverted: nothing usable to export
        row = session.query(Correction).filter_by(event_id=fallback).one()
        row.intent = None
        session.commit()

    out = tmp_path / "nlu"
    result = export_corrections(review_db, out, now=dt.datetime(2024, 5, 6, 7, 8, 9))
    assert result.path == out / "corrections_20240506_070809.yml"
    assert result.exported == 2 and result.skipped == 1
    text = result.path.read_text(encoding="utf-8")
    assert text.startswith('version: "3.1"\nnlu:\n- intent: atm_malfunction\n  examples:\n  - text: |\n')
    data = load_nlu(result.path)
    examples = {e.get("text"): e for e in data.intent_examples}
    assert set(examples) == {"ATM把我的卡吞了 三千块也没吐出来", "我就是想问问 你们到底什么时候给我处理"}
    atm = examples["ATM把我的卡吞了 三千块也没吐出来"]
    assert atm.get("intent") == "atm_malfunction" and atm.get("metadata") == {"example": {"emotion": "anxious"}}
    assert [(e["entity"], e["value"]) for e in atm.get("entities")] == [("amount", "3000")]
    assert examples["我就是想问问 你们到底什么时候给我处理"].get("metadata") == {"example": {"emotion": "furious"}}
    assert {e.get("intent") for e in data.intent_examples} <= domain_intents()

    with review_db() as session:
        exported = session.query(Correction).filter(Correction.exported_at.isnot(None)).all()
        assert sorted(c.event_id for c in exported) == [first, second]
    again = export_corrections(review_db, out)
    assert again.path is None and again.exported == 0 and again.skipped == 1
    assert len(list(out.glob("corrections_*.yml"))) == 1


def test_export_skips_what_the_training_data_already_says(review_db: Any, tmp_path: Path):
    out = tmp_path / "nlu"
    out.mkdir()
    (out / "existing.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples:\n  - text: |\n      你好\n', encoding="utf-8"
    )
    event = add_turn(review_db, "case-dup", "你好", "thank", "calm")
    with review_db() as session:
        save_correction(session, "case-dup", event, "greet", "calm", "trainer1")
        session.commit()
    result = export_corrections(review_db, out)
    assert result.path is None and result.already_present == 1
    with review_db() as session:
        assert session.query(Correction).one().exported_at is not None


def add_agent_turn(factory: Any, case_id: str, agent: str, families: List[str]) -> None:
    data = {
        "event": "bot",
        "timestamp": time.time(),
        "text": "…",
        "metadata": {"author": "agent", "agent_name": agent, "taboo": families},
    }
    with factory() as session:
        session.execute(
            EVENTS.insert().values(
                sender_id=case_id, type_name="bot", timestamp=data["timestamp"], data=json.dumps(data)
            )
        )
        session.commit()


def test_dashboard_counts_taboo_hits_per_agent_and_per_family(review_db: Any):
    from deescalate.review.stats import dashboard

    add_agent_turn(review_db, "case-1", "wang", ["flat_no", "impatience"])
    add_agent_turn(review_db, "case-1", "wang", ["flat_no"])
    add_agent_turn(review_db, "case-2", "li", ["guaranteeing"])
    add_agent_turn(review_db, "case-2", "li", [])
    today = dt.date.today()
    with review_db() as session:
        board = dashboard(session, today - dt.timedelta(days=1), today + dt.timedelta(days=1))
    assert board.agents["wang"].taboo_hits == 3 and board.agents["wang"].turns_with_taboo == 2
    assert dict(board.agents["wang"].taboo_families) == {"flat_no": 2, "impatience": 1}
    assert dict(board.agents["li"].taboo_families) == {"guaranteeing": 1} and board.agents["li"].turns == 2
    assert board.taboo_per_family == [("flat_no", 2), ("guaranteeing", 1), ("impatience", 1)]


def test_search_finds_chinese_in_rasa_escaped_json(review_db: Any):
    add_turn(review_db, "case-atm", "取款机吞卡了 100%是你们的问题", "atm_malfunction", "angry")
    add_turn(review_db, "case-metro", "地铁又晚点了", "metro_delay", "angry")
    with review_db() as session:

        def found(query: str) -> List[str]:
            return [c.case_id for c in case_page(session, CaseFilters(q=query)).cases]

        assert found("吞卡") == ["case-atm"]
        assert found("100%") == ["case-atm"]  # % is a character here, not a wildcard
        assert found("%") == ["case-atm"]
        assert found("晚点") == ["case-metro"]
        assert found("退款") == []


def test_filters_drop_values_outside_the_contract():
    filters = CaseFilters.from_args(
        {
            "cause": ["mis_selling"],
            "emotion_peak": ["rage"],
            "page": ["x"],
            "date_from": ["2024-13-01"],
            "escalation": ["any"],
        }
    )
    assert (filters.cause, filters.emotion_peak, filters.page, filters.date_from, filters.escalation) == (
        "mis_selling",
        "",
        1,
        None,
        "any",
    )
    assert filters.as_args(page=2) == {"cause": "mis_selling", "escalation": "any", "page": "2"}


# ---------------------------------------------------------------- the pages, against the real stack


def agent_says(
    servers: Any, case_id: str, text: str, suggestion_id: Any = None, agent: str = "agent1"
) -> Dict[str, Any]:
    reply = requests.post(
        f"{servers.stack.rasa_url}/webhooks/assist/agent",
        timeout=60,
        headers={"Authorization": f"Bearer {servers.token}"},
        json={"sender": case_id, "text": text, "send": True, "suggestion_id": suggestion_id, "agent": agent},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_trainer_corrects_a_label_and_exports_it(web: Any, servers: Any, page: Any, kb: Any):
    case_id = f"review-{uuid.uuid4().hex[:8]}"
    answer = servers.assist(case_id, COMPLAINT).json()
    used = answer["suggestions"][0]
    agent_says(servers, case_id, used["text"], used["id"])
    flagged = agent_says(servers, case_id, TABOO_DRAFT)
    assert flagged["taboo"]
    assert servers.assist(case_id, SECOND).status_code == 200
    web.wait_for_case(case_id)

    web.login(page, "trainer", next_path="/review")
    page.fill("input[name=q]", "分红险")
    page.click(".filters button[type=submit]")
    link = page.locator(f'table.cases a[href="/review/case/{case_id}"]')
    expect(link).to_be_visible()
    screenshot(page, "review_cases_search")
    link.click()

    turns = page.locator(".turn.customer")
    expect(turns).to_have_count(2)
    expect(turns.first.locator(".said")).to_have_text(COMPLAINT)
    expect(turns.first.locator(f'li.used[data-suggestion-id="{used["id"]}"]')).to_contain_text("坐席采用")
    expect(page.locator(".turn.agent.has-taboo mark.taboo")).to_have_count(len(flagged["taboo"]))
    expect(page.locator(".turn.agent.has-taboo .taboo-note").first).to_contain_text(flagged["taboo"][0]["phrase"])

    first_user = next(d for kind, d in servers.stored_events(case_id) if kind == "user")
    predicted = first_user["parse_data"]["intent"]["name"]
    predicted_emotion = first_user["parse_data"]["emotion"]["name"]
    intent = "surrender_loss" if predicted != "surrender_loss" else "mis_selling"
    emotion = "anxious" if predicted_emotion != "anxious" else "angry"
    form = turns.first.locator("form.correct")
    form.locator("select[name=intent]").select_option(intent)
    form.locator("select[name=emotion]").select_option(emotion)
    form.locator("button[type=submit]").click()
    expect(page.locator(".turn.customer.saved .ok")).to_have_text("已保存")
    expect(page.locator(".turn.customer.saved .fix-state")).to_contain_text("待导出")
    screenshot(page, "review_case_corrected")

    with web.sessions() as session:
        correction = session.query(Correction).filter_by(case_id=case_id).one()
        assert (correction.intent, correction.emotion, correction.trainer) == (intent, emotion, web.username("trainer"))
        assert correction.text == COMPLAINT and correction.predicted_intent == predicted

    page.goto(f"{web.url}/review")
    page.click("#export-button")
    expect(page.locator("#export-result")).to_contain_text("已导出")
    screenshot(page, "review_exported")
    out = Path(servers.stack.extra_env["CORRECTIONS_DIR"])
    name = page.locator("#export-result code").inner_text()
    path = out / name
    assert path.exists() and name.startswith("corrections_")
    data = load_nlu(path)
    examples = [e for e in data.intent_examples if plain_text(e.get("text")) == COMPLAINT]
    assert len(examples) == 1 and examples[0].get("intent") == intent
    assert examples[0].get("metadata") == {"example": {"emotion": emotion}}
    assert {e.get("intent") for e in data.intent_examples} <= domain_intents()
    with web.sessions() as session:
        assert session.query(Correction).filter_by(case_id=case_id).one().exported_at is not None
    expect(page.locator("#pending-count")).to_have_text("0")


def test_agent_gets_403_on_review(web: Any, page: Any):
    anonymous = page.goto(f"{web.url}/review")
    assert anonymous.url.startswith(f"{web.url}/login?next=/review")

    web.login(page, "agent")
    for path in ("/review", "/review/dashboard", "/review/case/any-case"):
        reply = page.goto(f"{web.url}{path}")
        assert reply.status == 403, path
        expect(page.locator("h1")).to_have_text("无权访问")
    screenshot(page, "review_agent_403")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    reply = page.request.post(f"{web.url}/review/export", headers={"X-CSRF-Token": token})
    assert reply.status == 403


def test_review_posts_need_the_csrf_token(web: Any, page: Any):
    web.login(page, "trainer", next_path="/review")
    reply = page.request.post(f"{web.url}/review/export", form={"csrf_token": "forged"})
    assert reply.status == 403
    reply = page.request.post(
        f"{web.url}/review/case/any-case/correct", form={"event_id": "1", "intent": "greet", "emotion": "calm"}
    )
    assert reply.status == 403


def test_filters_and_dashboard_show_the_recorded_cases(web: Any, servers: Any, page: Any, kb: Any):
    metro = f"metro-{uuid.uuid4().hex[:8]}"
    assert servers.assist(metro, "地铁二号线又停了半个小时，我上班迟到被扣钱，我要去12345投诉").status_code == 200
    agent = f"坐席{uuid.uuid4().hex[:4]}"
    flagged = agent_says(servers, metro, TABOO_DRAFT, agent=agent)["taboo"]
    assert flagged
    web.wait_for_case(metro)
    cause = web.case(metro).cause
    assert cause

    web.login(page, "supervisor", next_path=f"/review?cause={cause}")
    rows = page.locator("table.cases tbody tr")
    expect(rows.first).to_be_visible()
    with web.sessions() as session:
        expected = session.query(Case).filter(Case.cause == cause).count()
    expect(page.locator("#result-count")).to_contain_text(f"共 {expected} 个案件")
    for label in rows.locator("td:nth-child(5)").all_inner_texts()[:25]:
        assert label == kb.label("causes", cause)

    page.goto(f"{web.url}/review/dashboard")
    expect(page.locator("svg.chart")).to_have_count(7)
    today = dt.date.today()  # the dashboard shows the last 30 days by default, local time
    with web.sessions() as session:
        recent = [c for c in session.query(Case).all() if 0 <= (today - utc_to_local(c.created_at).date()).days < 30]
    expect(page.locator("#case-total")).to_have_text(str(len(recent)))
    expect(page.locator("svg.chart").first).to_contain_text(kb.label("causes", cause))
    expect(page.locator("svg.chart").last).to_contain_text(agent)  # taboo hits per agent
    expect(page.locator("table.numbers tr", has_text=agent).locator("td").nth(3)).to_have_text(str(len(flagged)))
    expect(page.locator("table.numbers tr", has_text=agent).locator("td").nth(5)).to_contain_text(flagged[0]["label"])
    screenshot(page, "review_dashboard")
