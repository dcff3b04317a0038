"""The agent-only knowledge panel and the choice cards in the console, in headless Chromium."""

import uuid
from typing import Any

from playwright.sync_api import expect

from tests.conftest import screenshot
from tests.web.test_console import LIVE_TIMEOUT, open_case
from tests.web.test_widget import WIDGET, open_widget, say

POLICY_CASE = ["我在银行柜台本来想存定期，结果给我办了一份分红险，交了五万，现在只能退四万二", "我已经交了两年了"]


def test_console_shows_the_knowledge_panel_with_bases_and_the_choice_cards(page: Any, web: Any, servers: Any) -> None:
    case_id = f"knowledge-{uuid.uuid4().hex[:8]}"
    web.add_case(case_id)
    open_case(page, web, case_id)
    answers = []
    for text in POLICY_CASE:
        reply = servers.assist(case_id, text)
        assert reply.status_code == 200
        answers.append(reply.json())
        expect(page.locator(".turn.customer p").last).to_have_text(text, timeout=LIVE_TIMEOUT)

    # the panel shows this turn's knowledge, each item with its basis
    items = page.locator("#knowledge .knowledge-item")
    expect(items).to_have_count(len(answers[-1]["knowledge"]), timeout=LIVE_TIMEOUT)
    expect(items.first).to_contain_text(answers[-1]["knowledge"][0]["text"])
    expect(page.locator("#knowledge .k-basis").first).to_contain_text(answers[-1]["knowledge"][0]["basis"])
    expect(page.locator("#knowledge")).to_contain_text("《中华人民共和国保险法》")
    expect(page.locator("#knowledge")).to_contain_text("核对于")
    expect(page.locator("#h-knowledge")).to_contain_text("仅坐席可见")

    # the choices are short cards; meaning, cost and approver open on a click
    options = next(s for s in answers[-1]["suggestions"] if s["kind"] == "choices")["options"]
    cards = page.locator("#suggestions .choice-card")
    expect(cards).to_have_count(len(options))
    expect(cards.locator(".c-title")).to_have_text([o["short"] for o in options])
    assert "cooling_off_cancel" not in {o["id"] for o in options}  # two years paid: no cooling-off card
    priced = next(o for o in options if o["borne"])  # a card routed by what the company bears
    assert priced["borne"] == 8000  # 50,000 paid, 42,000 cash value
    card = cards.filter(has=page.locator(".c-title", has_text=priced["short"]))
    expect(card.locator(".c-detail")).to_be_hidden()
    card.locator("summary").click()
    expect(card.locator(".c-detail")).to_be_visible()
    expect(card.locator(".c-detail")).to_contain_text(priced["approver_label"])
    expect(card.locator(".c-detail")).to_contain_text("8000")
    screenshot(page, "console_knowledge_panel_and_choice_cards")


def test_the_widget_shows_no_knowledge_basis_or_approver(page: Any, web: Any) -> None:
    open_widget(page, f"{web.url}/demo-bank")
    for text in POLICY_CASE:
        say(page, text)
    widget = page.locator(WIDGET)
    expect(widget.locator(".msg.bot").first).to_be_visible()
    shown = widget.inner_text()
    for secret in ("依据", "《中华人民共和国保险法》", "运营总监", "审批：", "本案须知"):
        assert secret not in shown, secret
    assert page.locator(f"{WIDGET} .knowledge-item, {WIDGET} .k-basis").count() == 0
    screenshot(page, "widget_without_knowledge_panel")
