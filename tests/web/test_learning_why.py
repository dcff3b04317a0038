"""Why a suggestion is offered, on hover; inserts recorded; a supervisor's pin and retire, in Chromium."""

import uuid

import requests
from playwright.sync_api import expect

from deescalate.db.models import AccessLog, ScriptAction
from tests.conftest import screenshot
from tests.web.test_console import LIVE_TIMEOUT, logged_in_session, open_case

COMPLAINT = "你们又乱扣我的年费，我根本没开通过，太气人了！"


def test_hovering_a_suggestion_shows_why_and_inserting_is_recorded(page, web, servers):
    case_id = f"why-{uuid.uuid4().hex[:8]}"
    web.add_case(case_id)
    open_case(page, web, case_id)
    assert servers.assist(case_id, COMPLAINT).status_code == 200
    card = page.locator("#suggestions .card").first
    expect(card).to_be_visible(timeout=LIVE_TIMEOUT)
    why = card.locator(".why")
    expect(why).to_be_hidden()
    card.hover()
    expect(why).to_be_visible()
    expect(why).to_contain_text("推荐依据")
    expect(why).to_contain_text("契合度")
    screenshot(page, "console_suggestion_why")

    line = card.get_attribute("data-suggestion-id")
    card.locator("button.use").click()
    with web.sessions() as session:
        deadline_rows = []
        for _ in range(50):
            deadline_rows = session.query(ScriptAction).filter_by(case_id=case_id, action="insert").all()
            if deadline_rows:
                break
            page.wait_for_timeout(200)
    assert [(r.line_id, r.username) for r in deadline_rows] == [(line, web.username("agent"))]
    assert page.locator("button.pin").count() == 0  # agents do not pin or retire


def test_a_supervisor_pins_and_retires_lines_and_both_are_undone(page, web, servers):
    case_id = f"pin-{uuid.uuid4().hex[:8]}"
    web.add_case(case_id)
    open_case(page, web, case_id, role="supervisor")
    assert servers.assist(case_id, COMPLAINT).status_code == 200
    card = page.locator("#suggestions .card").first
    expect(card).to_be_visible(timeout=LIVE_TIMEOUT)
    line = card.get_attribute("data-suggestion-id")
    card.locator("button.pin").click()
    expect(page.locator("#suggestions-status")).to_have_text("已置顶")
    expect(card.locator("button.pin")).to_have_text("取消置顶")
    screenshot(page, "console_line_pinned")

    supervisor = logged_in_session(web, "supervisor")
    listed = supervisor.get(f"{web.url}/console/api/scripts", timeout=10).json()["lines"]
    assert [(x["line_id"], x["state"], x["history"][0]["by"]) for x in listed] == [
        (line, "pinned", web.username("supervisor"))
    ]
    # Refused: an agent, a post without the CSRF token, an unknown action.
    agent = logged_in_session(web, "agent")
    assert agent.post(f"{web.url}/console/api/script/{line}", json={"action": "retire"}, timeout=10).status_code == 403
    bare = requests.Session()
    bare.cookies = supervisor.cookies
    assert bare.post(f"{web.url}/console/api/script/{line}", json={"action": "retire"}, timeout=10).status_code == 403
    assert (
        supervisor.post(f"{web.url}/console/api/script/{line}", json={"action": "drop"}, timeout=10).status_code == 400
    )

    for action, state in (("unpin", None), ("retire", "retired"), ("restore", None)):
        reply = supervisor.post(f"{web.url}/console/api/script/{line}", json={"action": action}, timeout=10)
        assert reply.status_code == 200 and reply.json()["state"] == state
    assert supervisor.get(f"{web.url}/console/api/scripts", timeout=10).json()["lines"] == []
    with web.sessions() as session:
        trail = [
            row.target
            for row in session.query(AccessLog).filter_by(action="script_line").order_by(AccessLog.id)
            if row.target.endswith(line)
        ]
    assert trail == [f"pin {line}", f"unpin {line}", f"retire {line}", f"restore {line}"]
