"""The agent console in headless Chromium against the real web server and Rasa stack."""

import json
import re
import uuid
from typing import Any, Dict

import pytest
import requests
from playwright.sync_api import expect

from tests.conftest import screenshot

LIVE_TIMEOUT = 30000  # ms: a turn goes through Rasa, the action server and the database poll
COMPLAINT = "我在柜台买的明明是理财，怎么变成保险了？"
TABOO_DRAFT = "公司规定就是这样，我也没办法"


def new_case_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def logged_in_session(web: Any, role: str) -> requests.Session:
    """A requests session logged in through the real form, with its CSRF token."""
    session = requests.Session()
    form = session.get(f"{web.url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    reply = session.post(
        f"{web.url}/login",
        timeout=30,
        allow_redirects=False,
        data={"username": web.username(role), "password": web.PASSWORD, "csrf_token": token},
    )
    assert reply.status_code == 302
    page = session.get(f"{web.url}/console", timeout=10, headers={"Accept": "text/html"})
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    session.headers["X-CSRF-Token"] = match.group(1) if match else ""
    return session


def open_case(page: Any, web: Any, case_id: str, role: str = "agent") -> None:
    web.login(page, role, next_path=f"/console/case/{case_id}")
    expect(page).to_have_url(f"{web.url}/console/case/{case_id}")
    expect(page.locator("#live-state")).to_have_text("实时", timeout=LIVE_TIMEOUT)


def agent_events(servers: Any, case_id: str) -> list:
    return [
        data
        for kind, data in servers.stored_events(case_id)
        if kind == "bot" and (data.get("metadata") or {}).get("author") == "agent"
    ]


def test_anonymous_visitors_are_sent_to_login(page, web):
    page.goto(f"{web.url}/console/case/case-private")
    expect(page).to_have_url(re.compile(r"/login\?next=/console/case/case-private$"))
    expect(page.locator("form.login-card")).to_be_visible()
    screenshot(page, "console_anonymous_login")

    assert requests.get(f"{web.url}/console/api/queue", timeout=10).status_code == 401
    assert requests.get(f"{web.url}/console/api/case/case-private", timeout=10).status_code == 401
    assert requests.get(f"{web.url}/console/stream?case=case-private", timeout=10).status_code == 401
    reply = requests.post(f"{web.url}/console/api/case/case-private/customer", json={"text": "你好"}, timeout=10)
    assert reply.status_code == 401 and reply.json()["error"] == "unauthorized"


def test_wrong_password_is_refused(page, web):
    page.goto(f"{web.url}/login")
    page.fill("input[name=username]", web.username("agent"))
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator(".form-error")).to_have_text("用户名或密码错误。")
    screenshot(page, "console_wrong_password")
    page.goto(f"{web.url}/console")
    expect(page).to_have_url(re.compile(r"/login"))


def test_trainer_gets_403_on_the_console(page, web):
    web.login(page, "trainer")
    reply = page.goto(f"{web.url}/console")
    assert reply.status == 403
    expect(page.locator("h1")).to_have_text("无权访问")
    screenshot(page, "console_trainer_403")

    trainer = logged_in_session(web, "trainer")
    case_id = new_case_id("trainer")
    assert trainer.get(f"{web.url}/console/api/case/{case_id}", timeout=10).status_code == 403
    reply = trainer.post(f"{web.url}/console/api/case/{case_id}/send", json={"text": "您好"}, timeout=10)
    assert reply.status_code == 403 and reply.json()["error"] == "forbidden"


def test_live_turn_suggestion_inserted_and_sent(page, web, servers, kb):
    case_id = new_case_id("live")
    web.add_case(case_id)
    open_case(page, web, case_id)

    # The hotline's speech-to-text posts the customer's words to the assist API.
    assert servers.assist(case_id, COMPLAINT).status_code == 200
    customer = page.locator(".turn.customer p")
    expect(customer).to_have_text([COMPLAINT], timeout=LIVE_TIMEOUT)
    cards = page.locator("#suggestions .card")
    expect(cards.first).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(page.locator("#a-cause")).to_contain_text(kb.label("causes", "mis_selling"))
    expect(page.locator("#a-spark circle")).to_have_count(1)
    kinds = {kb.label("kinds", kind) for kind in kb.labels["kinds"]}
    assert set(cards.locator(".kind").all_text_contents()) <= kinds

    card = cards.first
    suggestion_id = card.get_attribute("data-suggestion-id")
    suggestion_text = card.locator("p.text").text_content()
    card.locator("button.use").click()
    expect(page.locator("#draft")).to_have_value(suggestion_text)
    page.click("#send")
    expect(page.locator(".turn.agent p")).to_have_text([suggestion_text], timeout=LIVE_TIMEOUT)
    expect(page.locator("#draft")).to_have_value("")
    screenshot(page, "console_live_turn_sent")

    sent = agent_events(servers, case_id)
    assert [e["text"] for e in sent] == [suggestion_text]
    assert sent[0]["metadata"]["suggestion_id"] == suggestion_id
    assert web.case(case_id).first_handler == web.username("agent")


def test_emotion_sparkline_follows_each_customer_turn(page, web, servers):
    case_id = new_case_id("trend")
    web.add_case(case_id)
    open_case(page, web, case_id)
    page.fill("#customer-text", COMPLAINT)
    page.click("#customer-submit")
    expect(page.locator(".turn.customer")).to_have_count(1, timeout=LIVE_TIMEOUT)
    servers.assist(case_id, "你们再不退钱我就去银保监会投诉，还要找记者曝光！！！")
    expect(page.locator(".turn.customer")).to_have_count(2, timeout=LIVE_TIMEOUT)
    expect(page.locator("#a-spark circle")).to_have_count(2)
    levels = [page.locator("#a-spark circle").nth(i).get_attribute("class") for i in range(2)]
    assert levels[1] == "lvl-4"  # furious, the top of the scale
    expect(page.locator("#a-escalation .flag").first).to_be_visible()
    screenshot(page, "console_emotion_trend")


def test_taboo_draft_is_flagged_and_fixed_with_one_click(page, web, servers):
    case_id = new_case_id("taboo")
    web.add_case(case_id)
    open_case(page, web, case_id)
    page.locator("#draft").press_sequentially(TABOO_DRAFT, delay=20)
    hits = page.locator("#taboo-list li")
    expect(hits.first).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(hits.first.locator(".phrase")).to_contain_text("规定就是这样")
    expect(hits.first.locator(".family")).to_have_text("躲在制度和系统后面")  # the family is shown
    expect(page.locator("#draft-status")).to_contain_text("躲在制度和系统后面")
    expect(hits.first.locator(".why")).not_to_be_empty()
    screenshot(page, "console_taboo_flagged")

    for _ in range(5):  # one click per flagged phrase
        if hits.count() == 0:
            break
        before = page.locator("#draft").input_value()
        hits.first.locator("button.fix").click()
        expect(page.locator("#draft")).not_to_have_value(before)
        page.wait_for_timeout(300)
        expect(page.locator("#draft-status")).not_to_have_text("检查中…", timeout=LIVE_TIMEOUT)
    expect(hits).to_have_count(0, timeout=LIVE_TIMEOUT)
    fixed = page.locator("#draft").input_value()
    assert "公司规定就是这样" not in fixed
    screenshot(page, "console_taboo_fixed")

    check = requests.post(
        f"{servers.stack.rasa_url}/webhooks/assist/agent",
        timeout=30,
        headers={"Authorization": f"Bearer {servers.token}"},
        json={"sender": case_id, "text": fixed},
    )
    assert check.json()["taboo"] == []
    assert agent_events(servers, case_id) == []  # checking a draft records nothing


def test_customer_text_is_shown_as_text_never_as_html(page, web, servers):
    case_id = new_case_id("xss")
    web.add_case(case_id)
    open_case(page, web, case_id)
    hostile = '<img src=x onerror="document.body.dataset.owned=1">ATM吞了我的卡<b>快处理</b>'
    servers.assist(case_id, hostile)
    expect(page.locator(".turn.customer p")).to_have_text([hostile], timeout=LIVE_TIMEOUT)
    assert page.locator("#transcript img, #transcript b").count() == 0
    assert page.evaluate("() => document.body.dataset.owned") is None
    screenshot(page, "console_text_not_html")


def test_queue_puts_handoffs_first_and_refreshes_itself(page, web):
    quiet, urgent, handoff = new_case_id("q-low"), new_case_id("q-high"), new_case_id("q-handoff")
    web.add_case(quiet, risk="low", cause="long_wait")
    web.add_case(urgent, risk="high", cause="atm_malfunction", escalation=["regulator"])
    web.login(page, "agent")
    expect(page).to_have_url(f"{web.url}/console")
    rows = page.locator("#queue-body tr")
    expect(rows.filter(has_text=urgent)).to_have_count(1)

    web.add_case(handoff, risk="medium", channel="chat", handoff=True)
    expect(rows.filter(has_text=handoff)).to_have_count(1, timeout=LIVE_TIMEOUT)
    ids = [row.get_attribute("data-case-id") for row in rows.all()]
    assert ids.index(handoff) < ids.index(urgent) < ids.index(quiet)
    assert all(web.case(case_id).handoff for case_id in ids[: ids.index(handoff) + 1])
    screenshot(page, "console_queue")

    rows.filter(has_text=urgent).locator("a").click()
    expect(page).to_have_url(f"{web.url}/console/case/{urgent}")


def test_supervisor_banner_lists_open_high_risk_cases(page, web):
    first, second = new_case_id("risk-a"), new_case_id("risk-b")
    web.add_case(first, risk="high", cause="debt_collection")
    web.login(page, "supervisor")
    banner = page.locator("#risk-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(first)
    web.add_case(second, risk="high", cause="mis_selling")
    expect(banner).to_contain_text(second, timeout=LIVE_TIMEOUT)
    page.goto(f"{web.url}/console/case/{second}")
    expect(page.locator("#risk-banner")).to_contain_text(first)
    screenshot(page, "console_supervisor_banner")


def test_supervisor_sees_overdue_cases_and_agents_do_not(page, web):
    import datetime as dt

    now = dt.datetime.utcnow()
    late, answered, on_time = new_case_id("late"), new_case_id("answered"), new_case_id("ontime")
    web.add_case(late, risk="high", cause="claim_denied", reply_deadline=now - dt.timedelta(hours=30))
    web.add_case(answered, risk="high", status="resolved", reply_deadline=now - dt.timedelta(hours=30))
    web.add_case(on_time, risk="low", reply_deadline=now + dt.timedelta(hours=30))
    web.login(page, "supervisor")
    page.click("nav >> text=逾期未答复")
    rows = page.locator("#overdue tbody tr")
    expect(rows.filter(has_text=late)).to_have_count(1)
    expect(rows.filter(has_text=late).locator(".late")).to_contain_text("小时")
    assert rows.filter(has_text=answered).count() == 0
    assert rows.filter(has_text=on_time).count() == 0
    screenshot(page, "console_overdue")

    agent = logged_in_session(web, "agent")
    assert agent.get(f"{web.url}/console/api/overdue", timeout=10).status_code == 403


def test_agents_do_not_get_the_supervisor_banner(page, web):
    web.add_case(new_case_id("risk-c"), risk="high")
    web.login(page, "agent")
    expect(page).to_have_url(f"{web.url}/console")
    assert page.locator("#risk-banner").count() == 0


def test_case_record_is_prefilled_saved_and_closed(page, web, servers, kb):
    case_id = new_case_id("record")
    web.add_case(case_id)
    servers.assist(case_id, "ATM吞了我两千块钱到现在没退，再不处理我就打12378投诉！")
    open_case(page, web, case_id)
    narrative = page.locator("#r-narrative")
    expect(narrative).to_have_value(re.compile("ATM吞了我两千块钱"))
    expect(page.locator("#r-narrative-note")).not_to_be_empty()

    page.select_option("#r-cause", "atm_malfunction")
    page.fill("#r-demand_note", "退回被吞的两千元并道歉")
    page.fill("#r-amount", "2000")
    page.fill("#r-narrative", "客户称ATM吞钞两千元未退，已登记并承诺当日回电。")
    page.click("#record-save")
    expect(page.locator("#record-status")).to_contain_text("已保存")
    # 2000 yuan borne by a bank: the bank's own matrix, second tier
    expect(page.locator("#r-approval")).to_contain_text(kb.approval["roles"]["sub_branch_president"])
    screenshot(page, "console_case_record")

    case = web.case(case_id)
    assert (case.cause, case.demand_note, case.amount) == ("atm_malfunction", "退回被吞的两千元并道歉", 2000)
    assert case.narrative == "客户称ATM吞钞两千元未退，已登记并承诺当日回电。"
    assert case.approval_tier == 2

    page.click("#close-case")
    expect(page).to_have_url(f"{web.url}/console")
    assert web.case(case_id).status == "closed"
    expect(page.locator("#queue-body tr").filter(has_text=case_id)).to_have_count(0)


@pytest.mark.parametrize("headers, status", [({}, 403), ({"X-CSRF-Token": "forged"}, 403)])
def test_state_changes_need_the_csrf_token(web, headers: Dict[str, str], status: int):
    session = logged_in_session(web, "agent")
    case_id = new_case_id("csrf")
    web.add_case(case_id)
    session.headers.pop("X-CSRF-Token")
    reply = session.post(
        f"{web.url}/console/api/case/{case_id}/record", json={"status": "closed"}, headers=headers, timeout=10
    )
    assert reply.status_code == status and reply.json()["error"] == "csrf"
    assert web.case(case_id).status == "open"


def test_record_edits_are_validated(web):
    session = logged_in_session(web, "agent")
    case_id = new_case_id("valid")
    web.add_case(case_id)
    for body in ({"status": "deleted"}, {"cause": "not_a_cause"}, {"amount": "lots"}, {"amount": -5}):
        reply = session.post(f"{web.url}/console/api/case/{case_id}/record", json=body, timeout=10)
        assert reply.status_code == 400, body
    reply = session.post(f"{web.url}/console/api/case/{case_id}/record", json={"status": "resolved"}, timeout=10)
    assert reply.status_code == 200 and reply.json()["status"] == "resolved"


def test_the_browser_never_sees_the_assist_token(page, web, servers):
    case_id = new_case_id("token")
    web.add_case(case_id)
    seen = []
    page.on("response", lambda reply: seen.append(reply))
    open_case(page, web, case_id)
    page.fill("#customer-text", COMPLAINT)
    page.click("#customer-submit")
    expect(page.locator(".turn.customer")).to_have_count(1, timeout=LIVE_TIMEOUT)
    bodies = []
    for reply in seen:
        if "/console/stream" in reply.url:  # an open event stream has no final body
            continue
        try:
            bodies.append(reply.text())
        except Exception:  # streamed or redirected bodies are not kept by the browser
            continue
    assert bodies and not any(servers.token in body for body in bodies)
    assert all(reply.url.startswith(web.url) for reply in seen)


def test_logout_ends_the_session(page, web):
    web.login(page, "agent")
    expect(page).to_have_url(f"{web.url}/console")
    page.click("text=退出")
    expect(page).to_have_url(f"{web.url}/login")
    page.goto(f"{web.url}/console")
    expect(page).to_have_url(re.compile(r"/login\?next=/console$"))
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies.get("dx_session")
    assert session is None or session["httpOnly"] and session["sameSite"] == "Strict"


def _stream_events(raw: str) -> list:
    events = []
    for block in raw.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"]), fields.get("id")))
    return events


def test_stream_resumes_after_the_last_seen_event(web, servers):
    session = logged_in_session(web, "agent")
    case_id = new_case_id("stream")
    web.add_case(case_id)
    servers.assist(case_id, COMPLAINT)
    snapshot = session.get(f"{web.url}/console/api/case/{case_id}", timeout=10).json()
    assert [i["text"] for i in snapshot["items"] if i["type"] == "turn"] == [COMPLAINT]
    servers.assist(case_id, "我是去年在城东支行办的，到现在都没人管")
    with session.get(
        f"{web.url}/console/stream",
        params={"case": case_id},
        stream=True,
        timeout=10,
        headers={"Last-Event-ID": str(snapshot["last_event"])},
    ) as reply:
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        raw = ""
        for chunk in reply.iter_content(chunk_size=None, decode_unicode=True):
            raw += chunk
            if "event: assist" in raw and raw.endswith("\n\n"):
                break
    events = _stream_events(raw)
    turns = [data["text"] for kind, data, _ in events if kind == "turn"]
    assert turns == ["我是去年在城东支行办的，到现在都没人管"]
    assert all(int(event_id) > snapshot["last_event"] for _, _, event_id in events if event_id)
