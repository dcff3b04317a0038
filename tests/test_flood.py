"""Flooding on loopback: the limits hold, other clients are served, nothing recorded is lost.

The widget test runs against the test stack with the limits of
deescalate/ratelimit.yml (20 messages per conversation per minute).
"""
import asyncio
import time
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest
import socketio

from deescalate.channels import assist
from deescalate.channels.widget import SLOW_DOWN
from deescalate.ratelimit import Limit, MemoryBackend, RateLimiter, load_settings

FLOOD = 200
SLOW_DOWN_START = SLOW_DOWN.split("{")[0]


async def _chat(url: str) -> Dict[str, Any]:
    """One client floods its conversation; a second one, started after, asks one question."""
    said: Dict[str, List[str]] = {"flood": [], "other": []}
    sessions: Dict[str, str] = {}
    clients = {name: socketio.AsyncClient() for name in said}
    for name, client in clients.items():
        client.on("bot_uttered", lambda message, name=name: said[name].append(message.get("text", "")))
        client.on("session_confirm", lambda sid, name=name: sessions.__setitem__(name, sid))
        await client.connect(url, transports=["polling"], socketio_path="/socket.io")
        await client.emit("session_request", {})
    for _ in range(100):
        if len(sessions) == 2:
            break
        await asyncio.sleep(0.1)
    started = time.monotonic()
    for n in range(FLOOD):
        await clients["flood"].emit("user_uttered", {"message": f"我的卡被吞了，快处理 {n}", "session_id": sessions["flood"]})
    flood_sent = time.monotonic() - started
    await asyncio.sleep(1)
    asked = time.monotonic()
    await clients["other"].emit("user_uttered", {"message": "ATM吞了我的卡，钱也没取出来", "session_id": sessions["other"]})
    other_wait = None
    for _ in range(1200):
        if said["other"]:
            other_wait = time.monotonic() - asked
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)
    for client in clients.values():
        await client.disconnect()
    return {"said": said, "sessions": sessions, "flood_sent_s": flood_sent, "other_wait_s": other_wait}


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


def test_a_widget_flood_is_limited_while_another_conversation_is_served(servers: Any) -> None:
    limit = load_settings()["limits"]["widget_conversation"]
    result = asyncio.run(_chat(servers.stack.rasa_url))
    flood_turns = stored_user_turns(servers, result["sessions"]["flood"])
    refusals = [text for text in result["said"]["flood"] if text.startswith(SLOW_DOWN_START)]
    print(f"\nwidget flood: {FLOOD} messages sent in {result['flood_sent_s']:.2f} s; {flood_turns} taken "
          f"(limit {limit.count} per {limit.seconds:.0f} s), {len(refusals)} refused politely; other conversation "
          f"answered in {result['other_wait_s']} s")
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
    assert texts[:limit.count] == [f"我的卡被吞了，快处理 {n}" for n in range(limit.count)]


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
