"""The trainers' labelling queue in headless Chromium against the real stack."""

import datetime as dt
import json
import uuid
from typing import Any, Dict, Optional

from playwright.sync_api import expect

from deescalate.db.models import Case, Correction
from deescalate.review.queries import EVENTS
from tests.conftest import screenshot

# A day of its own, so the turns other tests record today stay out of the filtered queue.
DAY = dt.date(2025, 1, 15)


def stored_parse(intent: str, confidence: float, emotion: str, runner_up: str = "ask_status") -> Dict[str, Any]:
    return {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}, {"name": runner_up, "confidence": 0.04}],
        "emotion": {"name": emotion, "confidence": 0.8},
        "entities": [],
    }


def record_turn(
    web: Any, case_id: str, text: str, parse: Dict[str, Any], minute: int, cause: Optional[str] = None
) -> int:
    """A customer turn as the tracker store leaves it, spoken on DAY, and its case row."""
    at = dt.datetime.combine(DAY, dt.time(10, minute)).timestamp()
    data = {
        "event": "user",
        "timestamp": at,
        "text": text,
        "input_channel": "assist",
        "parse_data": {"text": text, **parse},
    }
    with web.sessions() as session:
        if session.get(Case, case_id) is None:
            session.add(Case(case_id=case_id, channel="hotline", status="open", demand=[], escalation=[], cause=cause))
        result = session.execute(
            EVENTS.insert().values(sender_id=case_id, type_name="user", timestamp=at, data=json.dumps(data))
        )
        session.commit()
        return int(result.inserted_primary_key[0])


def test_queue_orders_turns_and_one_click_labels_them(web: Any, page: Any):
    tag = uuid.uuid4().hex[:6]
    differs = record_turn(
        web,
        f"queue-a-{tag}",
        "上个月又多扣了一笔年费，我从来没开通过",
        stored_parse("fees_and_charges", 0.92, "anxious"),
        1,
        "mis_selling",
    )
    fallback = record_turn(
        web, f"queue-b-{tag}", "嗯……就是那个，你懂的", stored_parse("nlu_fallback", 0.3, "confused"), 2
    )
    record_turn(web, f"queue-c-{tag}", "我想问下退款到哪一步了", stored_parse("ask_status", 0.95, "calm"), 3)
    jumped = record_turn(web, f"queue-c-{tag}", "等了三个星期还没到账！", stored_parse("ask_status", 0.95, "angry"), 4)

    web.login(page, "trainer")
    page.goto(f"{web.url}/review/queue?date_from={DAY}&date_to={DAY}")
    cards = page.locator("article.queued")
    expect(cards).to_have_count(3)
    assert [int(x) for x in cards.evaluate_all("els => els.map(e => e.dataset.eventId)")] == [fallback, differs, jumped]
    scores = [float(x) for x in cards.evaluate_all("els => els.map(e => e.dataset.score)")]
    assert scores == sorted(scores, reverse=True)
    card = page.locator(f"#queued-{differs}")
    expect(card.locator(".reason")).to_have_attribute("data-reason", "cause_differs")
    expect(page.locator(f"#queued-{fallback} .reason").first).to_have_attribute("data-reason", "fallback")
    expect(page.locator(f"#queued-{jumped} .reason")).to_have_attribute("data-reason", "emotion_jump")
    expect(page.locator("#queue-count")).to_contain_text("共 3 条")
    screenshot(page, "review_queue")

    # one click on the case's cause labels the turn, which leaves the queue
    card.locator('button[value="intent:mis_selling"]').click()
    expect(page.locator("#queue-saved")).to_be_visible()
    expect(cards).to_have_count(2)
    expect(page.locator(f"#queued-{differs}")).to_have_count(0)
    with web.sessions() as session:
        row = session.query(Correction).filter_by(event_id=differs).one()
        assert (row.intent, row.emotion, row.trainer) == ("mis_selling", None, web.username("trainer"))
    screenshot(page, "review_queue_labelled")

    # under a fallback the intent comes first; an emotion click says so and keeps the turn
    page.locator(f'#queued-{fallback} button[value="emotion:anxious"]').click()
    expect(page.locator("#queue-error")).to_contain_text("意图")
    expect(cards).to_have_count(2)
    # the full list of intents saves on choosing
    page.locator(f"#queued-{fallback} select.other-intent").select_option("intent:request_human")
    expect(page.locator("#queue-saved")).to_be_visible()
    expect(cards).to_have_count(1)
    page.locator(f'#queued-{jumped} button[value="emotion:anxious"]').click()
    expect(page.locator("#queue-empty")).to_be_visible()
    with web.sessions() as session:
        rows = {r.event_id: r for r in session.query(Correction).filter(Correction.event_id.in_([fallback, jumped]))}
    assert (rows[fallback].intent, rows[fallback].emotion) == ("request_human", None)
    assert (rows[jumped].intent, rows[jumped].emotion) == (None, "anxious")


def test_agent_gets_403_on_the_queue(web: Any, page: Any):
    web.login(page, "agent")
    assert page.goto(f"{web.url}/review/queue").status == 403
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    reply = page.request.post(
        f"{web.url}/review/queue/label",
        form={"csrf_token": token, "case_id": "x", "event_id": "1", "label": "intent:greet"},
    )
    assert reply.status == 403


def test_queue_posts_need_the_csrf_token(web: Any, page: Any):
    web.login(page, "supervisor", next_path="/review/queue")
    expect(page.locator("h1")).to_have_text("待标注队列")
    reply = page.request.post(
        f"{web.url}/review/queue/label", form={"case_id": "x", "event_id": "1", "label": "intent:greet"}
    )
    assert reply.status == 403
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    for form in (
        {"case_id": "../../etc", "event_id": "1", "label": "intent:greet"},
        {"case_id": "queue-none", "event_id": "9" * 40, "label": "intent:greet"},
        {"case_id": "queue-none", "event_id": "1", "label": "intent:" + "x" * 5000},
        {"case_id": "queue-none", "event_id": "1"},
    ):
        reply = page.request.post(f"{web.url}/review/queue/label", form={"csrf_token": token, **form})
        assert reply.status == 200 and "queue-error" in reply.text(), form  # back to the queue, with the reason


# ---------------------------------------------------------------- script effectiveness


def record_event(web: Any, case_id: str, kind: str, data: Dict[str, Any], second: int) -> None:
    at = dt.datetime.combine(DAY, dt.time(12, 0, second), tzinfo=dt.timezone.utc).timestamp()
    with web.sessions() as session:
        session.execute(
            EVENTS.insert().values(
                sender_id=case_id,
                type_name=kind,
                timestamp=at,
                data=json.dumps({"event": kind, "timestamp": at, **data}),
            )
        )
        session.commit()


def play_case(web: Any, case_id: str, shown: list, sent: Any, before: str, after: str, **case: Any) -> None:
    """A case of DAY: the customer, the assist offering `shown`, the agent sending one, the customer again."""
    web.add_case(case_id, **case)
    record_event(
        web, case_id, "user", {"text": "我的钱到底什么时候退", "parse_data": stored_parse("ask_status", 0.9, before)}, 1
    )
    suggestions = [{"id": i, "text": text, "source": source, "kind": "empathy"} for i, (text, source) in shown]
    record_event(web, case_id, "bot", {"text": None, "data": {"custom": {"assist": {"suggestions": suggestions}}}}, 2)
    line, text = sent
    record_event(web, case_id, "bot", {"text": text, "metadata": {"author": "agent", "suggestion_id": line}}, 3)
    record_event(
        web, case_id, "user", {"text": "好吧，那我再等等", "parse_data": stored_parse("affirm", 0.9, after)}, 4
    )


def test_effectiveness_table_sorts_and_marks_thin_data(web: Any, page: Any, kb: Any):
    from deescalate.learning.effectiveness import kb_catalog

    (calming, (calm_text, calm_source)), (raising, (raise_text, raise_source)) = sorted(kb_catalog(kb).items())[:2]
    shown = [(calming, (calm_text, calm_source)), (raising, (raise_text, raise_source))]
    tag = uuid.uuid4().hex[:6]
    for n in range(20):
        play_case(web, f"fx-calm-{tag}-{n}", shown, (calming, calm_text), "angry", "calm")
    for n in range(3):
        play_case(
            web, f"fx-raise-{tag}-{n}", shown, (raising, raise_text + "。"), "calm", "angry", escalation=["media"]
        )

    web.login(page, "trainer")
    page.goto(f"{web.url}/review/scripts?date_from={DAY}&date_to={DAY}")
    rows = page.locator("#script-table tbody tr")

    def order() -> list:
        return rows.evaluate_all("els => els.map(e => e.dataset.lineId)")

    expect(rows).to_have_count(2)
    assert order() == [calming, raising]  # calmest first
    first, second = rows.nth(0), rows.nth(1)
    expect(first.locator("td.sent")).to_have_text("20")
    expect(first.locator("td.change b")).to_have_text("-3.00")
    expect(first.locator(".thin-data")).to_have_count(0)
    expect(first.locator("td.line-text")).to_contain_text(calm_text)
    expect(second.locator(".thin-data")).to_have_text("数据不足")
    expect(second.locator("td.num").nth(2)).to_have_text("3")  # edited: sent with other words than offered
    expect(second.locator("td.num").nth(7)).to_have_text("3")  # escalated cases
    expect(page.locator("#effect-chart svg.chart rect")).to_have_count(2)
    screenshot(page, "review_scripts")

    page.click('th[data-column="change"] a')  # the sorted column turns round
    expect(page.locator('th[data-column="change"]')).to_have_attribute("aria-sort", "descending")
    assert order() == [raising, calming]
    page.click('th[data-column="sent"] a')  # a count sorts most first
    expect(page.locator('th[data-column="sent"]')).to_have_attribute("aria-sort", "descending")
    assert order() == [calming, raising]
    page.click('th[data-column="sent"] a')
    expect(page.locator('th[data-column="sent"]')).to_have_attribute("aria-sort", "ascending")
    assert order() == [raising, calming]
    screenshot(page, "review_scripts_sorted")


def test_a_supervisor_restores_a_retired_line_from_the_scripts_page(web: Any, page: Any, kb: Any):
    from deescalate.db.models import ScriptAction
    from deescalate.learning.controls import line_states
    from deescalate.learning.effectiveness import kb_catalog

    line, (text, _source) = sorted(kb_catalog(kb).items())[-1]
    with web.sessions() as session:
        session.add(ScriptAction(line_id=line, action="retire", username="lead-a", role="supervisor", note="太生硬"))
        session.commit()

    web.login(page, "trainer", next_path="/review/scripts")
    expect(page).to_have_title("话术效果 · 案例回顾")
    row = page.locator(f'#controlled-lines tr[data-line-id="{line}"]')
    expect(row).to_contain_text(text)
    expect(row).to_contain_text("已停用")
    expect(row).to_contain_text("太生硬")
    expect(row.locator("button")).to_have_count(0)  # trainers see it, supervisors undo it
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    form = {"csrf_token": token, "line_id": line, "action": "restore"}
    assert page.request.post(f"{web.url}/review/scripts/line", form=form).status == 403

    page.context.clear_cookies()
    web.login(page, "supervisor", next_path="/review/scripts")
    assert (
        page.request.post(f"{web.url}/review/scripts/line", form={"line_id": line, "action": "restore"}).status == 403
    )
    row.locator("button").click()
    expect(page.locator("#line-notice")).to_have_text("已恢复推荐")
    expect(page.locator(f'#controlled-lines tr[data-line-id="{line}"]')).to_have_count(0)
    screenshot(page, "review_scripts_restored")
    with web.sessions() as session:
        assert line not in line_states(session)
        last = session.query(ScriptAction).filter_by(line_id=line).order_by(ScriptAction.id.desc()).first()
        assert (last.action, last.username) == ("restore", web.username("supervisor"))

    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    bad = page.request.post(
        f"{web.url}/review/scripts/line", form={"csrf_token": token, "line_id": "../x", "action": "restore"}
    )
    assert bad.status == 200 and "操作或话术编号无效" in bad.text()
