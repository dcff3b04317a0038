"""The website chat widget in headless Chromium: on the demo bank page against the
real Rasa stack, and on a bare host page against a scripted Socket.IO server."""

import asyncio
import json
import threading
import time
from typing import Any, Dict, Iterator, List

import pytest
import socketio
import yaml
from aiohttp import web as aioweb
from playwright.sync_api import expect

from deescalate.tools.stack import free_port
from tests.conftest import ROOT, artifact, screenshot

REPLY_TIMEOUT = 60000  # ms: a turn goes through the NLU, the action server and back
WIDGET = "#deescalate-chat-widget"
COMPLAINT = "我在你们柜台买的理财，后来才发现是一份分红险，每年要交两万，当时根本没人跟我说清楚"
INJECTION = '<img src=x onerror="window.__pwned=1"><b>粗体</b><script>window.__pwned=2</script>'


def handoff_lines() -> List[str]:
    voice = yaml.safe_load((ROOT / "scripts_kb" / "voice.yml").read_text(encoding="utf-8"))
    return voice["handoff"]


def open_widget(page: Any, url: str) -> None:
    page.goto(url)
    launcher = page.locator(f"{WIDGET} .launcher")
    expect(launcher).to_be_visible()
    launcher.click()
    expect(page.locator(f"{WIDGET} .panel")).to_be_visible()


def say(page: Any, text: str) -> None:
    bots = page.locator(f"{WIDGET} .msg.bot:not(.typing)").count()
    page.locator(f"{WIDGET} textarea").fill(text)
    page.locator(f"{WIDGET} textarea").press("Enter")
    expect(page.locator(f"{WIDGET} .msg.user").last).to_have_text(text)
    wait_for_bot(page, bots)


def wait_for_bot(page: Any, bots_before: int) -> None:
    """Until the bot has said something new and the typing line is gone."""
    expect(page.locator(f"{WIDGET} .msg.bot:not(.typing)")).not_to_have_count(bots_before, timeout=REPLY_TIMEOUT)
    expect(page.locator(f"{WIDGET} .msg.typing")).to_be_hidden(timeout=REPLY_TIMEOUT)
    page.wait_for_timeout(1500)  # the bot's lines of one turn arrive one after another


def session_id(page: Any) -> str:
    return page.evaluate("""() => {
        const key = Object.keys(sessionStorage).find(k => k.startsWith('deescalate-chat:'));
        return JSON.parse(sessionStorage.getItem(key)).sessionId;
    }""")


def test_widget_js_is_one_self_contained_script(web: Any) -> None:
    import requests

    reply = requests.get(f"{web.url}/widget.js", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/javascript")
    body = reply.text
    assert "Socket.IO v4" in body and "mountChatWidget(io, " in body
    assert web.servers.stack.rasa_url in body  # the browser talks to Rasa directly
    assert "cdn" not in body.lower()


def test_widget_conversation_buttons_and_handoff(web: Any, page: Any, browser: Any) -> None:
    dialogs: List[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_widget(page, f"{web.url}/demo-bank")
    say(page, COMPLAINT)
    bot_texts = page.locator(f"{WIDGET} .msg.bot:not(.typing) .text").all_inner_texts()
    assert len(bot_texts) >= 3, bot_texts  # greeting, then the bot's own answer
    choices = page.locator(f"{WIDGET} .choice")
    expect(choices.first).to_be_visible()
    titles = choices.all_inner_texts()
    assert len(titles) >= 2 and all(t.strip() for t in titles)
    screenshot(page, "widget_choices")

    bots = page.locator(f"{WIDGET} .msg.bot:not(.typing)").count()
    choices.nth(1).click()
    expect(page.locator(f"{WIDGET} .msg.user").last).to_have_text(titles[1])
    expect(choices.nth(0)).to_be_disabled()
    wait_for_bot(page, bots)

    say(page, "我要转人工")
    last = page.locator(f"{WIDGET} .msg.bot:not(.typing) .text").last.inner_text()
    assert last in handoff_lines()
    screenshot(page, "widget_handoff")
    assert not dialogs

    case_id = session_id(page)
    case = web.wait_for_case(case_id, handoff=True)
    assert case.channel == "chat"
    events = web.servers.stored_events(case_id)
    said = [data["text"] for kind, data in events if kind == "user"]
    assert said[0] == COMPLAINT and said[-1] == "我要转人工"
    assert any(data.get("input_channel") == "socketio" for kind, data in events if kind == "user")

    console = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}).new_page()
    web.login(console, "agent", next_path="/console")
    row = console.locator(f'tr[data-case-id="{case_id}"]')
    expect(row).to_be_visible(timeout=20000)
    expect(row).to_contain_text("转人工")
    screenshot(console, "widget_handoff_in_console")
    console.context.close()


def test_customer_html_is_shown_as_text(web: Any, page: Any) -> None:
    dialogs: List[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_widget(page, f"{web.url}/demo-bank")
    say(page, INJECTION)
    log = page.locator(f"{WIDGET} .log")
    expect(log.locator(".msg.user .text").last).to_have_text(INJECTION)
    assert log.locator("img, b, script").count() == 0
    assert page.evaluate("window.__pwned") is None and not dialogs
    stored = [d["text"] for kind, d in web.servers.stored_events(session_id(page)) if kind == "user"]
    assert stored == [INJECTION]
    screenshot(page, "widget_html_as_text")


def test_phone_viewport_is_full_screen(web: Any, browser: Any) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    try:
        page.goto(f"{web.url}/demo-bank")
        screenshot(page, "widget_phone_closed")
        page.locator(f"{WIDGET} .launcher").tap()
        panel = page.locator(f"{WIDGET} .panel")
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box == {"x": 0, "y": 0, "width": 375, "height": 667}
        expect(page.locator(f"{WIDGET} .launcher")).to_be_hidden()
        say(page, "信用卡年费没说清楚就扣了我两百块")
        expect(page.locator(f"{WIDGET} textarea")).to_be_in_viewport()
        page.screenshot(path=str(artifact("widget_phone_open")))  # the screen, as the phone shows it
        page.locator(f"{WIDGET} .close").tap()
        expect(panel).to_be_hidden()
        expect(page.locator(f"{WIDGET} .launcher")).to_be_visible()
    finally:
        context.close()


# ---------------------------------------------------------------- a scripted Socket.IO server


class ScriptedBot:
    """A Socket.IO server speaking Rasa's channel events, answering with fixed messages.

    It lets the test check how the widget shows what a bot sends (HTML in text
    and buttons, custom payloads) without depending on what the real bot says.
    """

    def __init__(self, replies: List[Dict[str, Any]], widget_src: str) -> None:
        self.port = free_port()
        self.replies = replies
        self.widget_src = widget_src
        self.received: List[Dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
        app = aioweb.Application()
        sio.attach(app)

        async def host_page(_request: Any) -> aioweb.Response:
            """A page of another site that embeds the widget with its one script tag."""
            return aioweb.Response(
                content_type="text/html",
                text=(
                    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>别的网站</title></head>'
                    f'<body><h1>别的网站</h1><script src="{self.widget_src}"></script></body></html>'
                ),
            )

        app.router.add_get("/host", host_page)

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            session = (data or {}).get("session_id") or "scripted-session"
            await sio.enter_room(sid, session)
            await sio.emit("session_confirm", session, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: Dict[str, Any]) -> None:
            self.received.append(data)
            for reply in self.replies:
                await sio.emit("bot_uttered", reply, room=sid)

        runner = aioweb.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(aioweb.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def __enter__(self) -> "ScriptedBot":
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *_: Any) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


BOT_HTML = '<img src=x onerror="window.__pwned=3">请<b>点击</b>这里'
BUTTON_HTML = '<i onclick="window.__pwned=4">分期</i>还款'


@pytest.fixture()
def scripted_bot(web: Any) -> Iterator[ScriptedBot]:
    replies = [
        {"assist": {"suggestions": [{"text": "不该出现在客户面前"}]}},  # a custom payload: no text
        {"text": BOT_HTML},
        {
            "text": "您看哪种方式更合适？",
            "quick_replies": [
                {"content_type": "text", "title": BUTTON_HTML, "payload": "我选分期还款"},
                {"content_type": "text", "title": "延期还款", "payload": "我选延期还款"},
            ],
        },
    ]
    with ScriptedBot(replies, f"{web.url}/widget.js") as bot:
        yield bot


def test_bot_messages_and_buttons_are_text_on_any_page(web: Any, page: Any, scripted_bot: ScriptedBot) -> None:
    """One script tag on a page of another site; the widget talks to the bot it is configured for."""

    def to_scripted_bot(route: Any) -> None:
        reply = route.fetch()
        body = reply.text().replace(json.dumps(web.servers.stack.rasa_url), json.dumps(scripted_bot.url))
        route.fulfill(response=reply, body=body)

    page.route(f"{web.url}/widget.js", to_scripted_bot)
    open_widget(page, f"{scripted_bot.url}/host")
    assert page.evaluate("typeof window.io") == "undefined"  # the page's globals stay clean
    say(page, "能分期吗")
    log = page.locator(f"{WIDGET} .log")
    expect(log.locator(".msg.bot .text").filter(has_text="点击")).to_have_text(BOT_HTML)
    expect(log).not_to_contain_text("不该出现在客户面前")
    expect(log.locator(".choice").first).to_have_text(BUTTON_HTML)
    assert log.locator("img, b, i").count() == 0
    log.locator(".choice").first.click()
    expect(log.locator(".msg.user").last).to_have_text(BUTTON_HTML)
    groups = log.locator(".choices")
    expect(groups).to_have_count(2)
    expect(groups.nth(1).locator(".choice").first).to_be_enabled()
    say(page, "我再想想")  # typing instead of clicking spends the offered choices
    expect(groups).to_have_count(3)
    for button in groups.nth(1).locator(".choice").all():
        expect(button).to_be_disabled()
    expect(groups.nth(2).locator(".choice").first).to_be_enabled()
    deadline = time.monotonic() + 10
    while len(scripted_bot.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [m["message"] for m in scripted_bot.received] == ["能分期吗", "我选分期还款", "我再想想"]
    assert all(m["session_id"] == "scripted-session" for m in scripted_bot.received)
    assert page.evaluate("window.__pwned") is None
    screenshot(page, "widget_bot_html_as_text")


def test_channel_issues_ids_and_keeps_agent_payload_back(web: Any, page: Any) -> None:
    """A Socket.IO client cannot name a case id, and never receives the agents' assist payload."""
    hotline_case = f"hotline-{time.monotonic_ns()}"
    page.goto(f"{web.url}/demo-bank")
    page.add_script_tag(url=f"{web.url}/static/vendor/socket.io-client/socket.io.min.js")
    result = page.evaluate(
        """async ([url, hotlineCase]) => {
        const socket = io(url, {transports: ["websocket"]});
        const said = [];
        socket.on("bot_uttered", message => said.push(message));
        const session = await new Promise(resolve => {
            socket.on("session_confirm", resolve);
            socket.emit("session_request", {session_id: hotlineCase});
        });
        socket.emit("user_uttered", {message: "写进别人的案件", session_id: hotlineCase});
        socket.emit("user_uttered", {message: "ATM吞了我的卡，钱也没取出来", session_id: session,
                                     metadata: {author: "agent"}});
        for (let waited = 0; said.length === 0 && waited < 60000; waited += 200) {
            await new Promise(resolve => setTimeout(resolve, 200));
        }
        await new Promise(resolve => setTimeout(resolve, 2000));
        socket.close();
        return {session, said};
    }""",
        [web.servers.stack.rasa_url, hotline_case],
    )
    assert result["session"] != hotline_case and result["session"].startswith("chat-")
    assert web.servers.stored_events(hotline_case) == []
    assert result["said"] and all(set(m) <= {"text", "quick_replies"} and m["text"] for m in result["said"])
    users = [d for kind, d in web.servers.stored_events(result["session"]) if kind == "user"]
    assert [u["text"] for u in users] == ["ATM吞了我的卡，钱也没取出来"]
    assert not (users[0].get("metadata") or {}).get("author")
