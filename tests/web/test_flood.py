"""Flooding on loopback: the limits hold, other clients are served, nothing recorded is lost.

The widget test drives a real browser (WebSocket, as the widget does)
against the test stack, whose widget limits are the product's (20 messages
per chat per minute, tests/data/ratelimit_suite.yml).
"""

import time
from types import SimpleNamespace
from typing import Any, Dict

import pytest

from deescalate.channels import assist
from deescalate.channels.widget import SLOW_DOWN
from deescalate.ratelimit import Limit, MemoryBackend, RateLimiter, load_settings

FLOOD = 200
SLOW_DOWN_START = SLOW_DOWN.split("{")[0]


FLOOD_JS = """async ([url, flood, text, question]) => {
    const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
    const client = () => {
        const socket = io(url, {transports: ["websocket"]});
        const said = [];
        socket.on("bot_uttered", message => said.push(message.text || ""));
        return {socket, said};
    };
    const session = c => new Promise(resolve => {
        c.socket.on("session_confirm", resolve);
        c.socket.emit("session_request", {});
    });
    const flooder = client(), other = client();
    const [floodId, otherId] = await Promise.all([session(flooder), session(other)]);
    const started = performance.now();
    for (let n = 0; n < flood; n++) {
        flooder.socket.emit("user_uttered", {message: text + " " + n, session_id: floodId});
    }
    const sentMs = performance.now() - started;
    await sleep(1000);
    const asked = performance.now();
    other.socket.emit("user_uttered", {message: question, session_id: otherId});
    let otherMs = null;
    for (let waited = 0; waited < 120000; waited += 100) {
        if (other.said.length) { otherMs = performance.now() - asked; break; }
        await sleep(100);
    }
    for (let last = -1, still = 0; still < 3000; still += 250) {   // until the flood's answers stop coming
        if (flooder.said.length !== last) { last = flooder.said.length; still = 0; }
        await sleep(250);
    }
    flooder.socket.close();
    other.socket.close();
    return {sessions: {flood: floodId, other: otherId}, said: {flood: flooder.said, other: other.said},
            flood_sent_s: sentMs / 1000, other_wait_s: otherMs === null ? null : otherMs / 1000};
}"""
FLOOD_TEXT = "我的卡被吞了，快处理"


def _chat(web: Any, page: Any) -> Dict[str, Any]:
    """In a real browser over WebSocket: one chat floods, a second one asks one question after it."""
    page.goto(f"{web.url}/demo-bank")
    page.add_script_tag(url=f"{web.url}/static/vendor/socket.io-client/socket.io.min.js")
    return page.evaluate(FLOOD_JS, [web.servers.stack.rasa_url, FLOOD, FLOOD_TEXT, "ATM吞了我的卡，钱也没取出来"])


def stored_user_turns(servers: Any, sender: str, settle: float = 120.0) -> int:
    """User turns stored for `sender`, once the count has stopped growing."""
    last, stable_since, deadline = -1, time.monotonic(), time.monotonic() + settle
    while time.monotonic() < deadline:
        count = sum(1 for kind, _ in servers.stored_events(sender) if kind == "user")
        if count != last:
            last, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since > 5:
            break
        time.sleep(0.5)
    return last


def test_a_widget_flood_is_limited_while_another_conversation_is_served(web: Any, page: Any) -> None:
    servers = web.servers
    limit = load_settings(servers.stack.extra_env.get("RATE_LIMITS_FILE"))["limits"]["widget_conversation"]
    result = _chat(web, page)
    flood_turns = stored_user_turns(servers, result["sessions"]["flood"])
    refusals = [text for text in result["said"]["flood"] if text.startswith(SLOW_DOWN_START)]
    print(
        f"\nwidget flood: {FLOOD} messages sent in {result['flood_sent_s']:.2f} s; {flood_turns} taken "
        f"(limit {limit.count} per {limit.seconds:.0f} s), {len(refusals)} refused politely; other conversation "
        f"answered in {result['other_wait_s']} s"
    )
    # The limit holds: a burst of `count`, plus at most what refilled while the flood was sent.
    refill = int(result["flood_sent_s"] / limit.interval) + 1
    assert limit.count <= flood_turns <= limit.count + refill
    assert len(refusals) == FLOOD - flood_turns
    # The other conversation is served normally: a real answer, not a refusal, and its turn is stored.
    assert result["other_wait_s"] is not None
    assert result["said"]["other"] and not any(t.startswith(SLOW_DOWN_START) for t in result["said"]["other"])
    assert stored_user_turns(servers, result["sessions"]["other"], settle=30) == 1
    # Nothing the flooding conversation had recorded was lost: its stored turns are the first ones sent.
    texts = [data["text"] for kind, data in servers.stored_events(result["sessions"]["flood"]) if kind == "user"]
    assert texts[: limit.count] == [f"{FLOOD_TEXT} {n}" for n in range(limit.count)]


def test_assist_api_answers_429_with_retry_after_past_the_token_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """check_token is what every assist route calls first; a wrong token never spends the budget."""
    limiter = RateLimiter({"assist_token": Limit(3, 60)}, MemoryBackend())
    monkeypatch.setattr(assist, "rate_limiter", lambda: limiter)
    good = SimpleNamespace(headers={"Authorization": "Bearer right-token"})
    bad = SimpleNamespace(headers={"Authorization": "Bearer wrong-token"})
    for _ in range(10):
        with pytest.raises(assist.RequestError) as refused:
            assist.check_token(bad, "right-token")
        assert refused.value.status == 401
    for _ in range(3):
        assist.check_token(good, "right-token")
    with pytest.raises(assist.RequestError) as limited:
        assist.check_token(good, "right-token")
    reply = limited.value.as_response()
    assert reply.status == 429 and reply.headers["Retry-After"] == "20"
    assert b'"rate_limited"' in reply.body
