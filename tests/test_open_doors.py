"""No door on Rasa's port lets a caller in where it does not belong (issue: the open REST channel).

Against the test stack, started as `make run` starts it (credentials.yml,
endpoints.yml, `--enable-api` with the token).
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest
import requests
import socketio

from deescalate.channels.rasa_api import allowed

HOTLINE_CASE = "case-doors-1"


@pytest.fixture(scope="module")
def hotline_case(servers: Any) -> str:
    """A hotline case with one customer turn, written through the assist API with the token."""
    assert servers.assist(HOTLINE_CASE, "ATM吞了我的卡，钱也没取出来").status_code == 200
    return HOTLINE_CASE


def user_turns(servers: Any, case_id: str) -> List[str]:
    return [data["text"] for kind, data in servers.stored_events(case_id) if kind == "user"]


def test_the_plain_rest_channel_is_gone(servers: Any, hotline_case: str) -> None:
    before = servers.stored_events(hotline_case)
    for body in ({"sender": hotline_case, "message": "我是客户，我要投诉"}, {"sender": "new-case", "message": "你好"}):
        reply = requests.post(f"{servers.stack.rasa_url}/webhooks/rest/webhook", json=body, timeout=30)
        assert reply.status_code == 404
    assert requests.get(f"{servers.stack.rasa_url}/webhooks/rest/", timeout=30).status_code == 404
    assert servers.stored_events(hotline_case) == before
    assert servers.stored_events("new-case") == []


def test_rasa_http_api_needs_the_token_and_serves_only_reads(servers: Any, hotline_case: str) -> None:
    rasa, token = servers.stack.rasa_url, {"token": servers.token}
    before = servers.stored_events(hotline_case)
    event = [{"event": "user", "text": "伪造的客户发言", "parse_data": {}}]
    writes = [
        ("POST", f"/conversations/{hotline_case}/tracker/events", event),
        ("PUT", f"/conversations/{hotline_case}/tracker/events", event),
        ("POST", f"/conversations/{hotline_case}/messages", {"text": "伪造", "sender": "user"}),
        ("POST", f"/conversations/{hotline_case}/trigger_intent", {"name": "greet"}),
        ("POST", f"/conversations/{hotline_case}/execute", {"name": "action_listen"}),
        ("PUT", "/model", {"model_file": "/tmp/other.tar.gz"}),
        ("DELETE", "/model", None),
        ("POST", "/model/train", {}),
    ]
    for method, path, body in writes:
        anonymous = requests.request(method, f"{rasa}{path}", json=body, timeout=30)
        assert anonymous.status_code in (401, 403), (method, path, anonymous.status_code)
        with_token = requests.request(method, f"{rasa}{path}", params=token, json=body, timeout=30)
        assert with_token.status_code == 403, (method, path, with_token.status_code, with_token.text[:200])
    assert servers.stored_events(hotline_case) == before
    # The reads the product documents still answer, with the token only.
    assert requests.post(f"{rasa}/model/parse", json={"text": "你好"}, timeout=30).status_code == 401
    assert requests.post(f"{rasa}/model/parse", params=token, json={"text": "你好"}, timeout=30).status_code == 200
    tracker = requests.get(f"{rasa}/conversations/{hotline_case}/tracker", params=token, timeout=30)
    assert tracker.status_code == 200 and tracker.json()["sender_id"] == hotline_case
    assert requests.get(f"{rasa}/status", params=token, timeout=30).status_code == 200
    assert requests.get(f"{rasa}/status", timeout=30).status_code == 401


@pytest.mark.parametrize(
    "method, path, expected",
    [
        ("POST", "/model/parse", True),
        ("GET", "/conversations/case-1/tracker", True),
        ("GET", "/conversations/case-1/tracker/events", False),
        ("POST", "/conversations/case-1/tracker/events", False),
        ("GET", "/conversations/a/b/tracker", False),
        ("PUT", "/model", False),
        ("GET", "/domain", False),
        ("POST", "/webhooks/assist/webhook", True),
        ("GET", "/socket.io/", True),
        ("POST", "/webhooks/rest/webhook", False),
    ],
)
def test_the_rasa_api_allow_list(method: str, path: str, expected: bool) -> None:
    assert allowed(method, path) is expected


async def _socket_attempts(url: str, hotline_case: str) -> Dict[str, Any]:
    """A Socket.IO client that tries to write into a hotline case and into another client's chat."""
    owner, intruder = socketio.AsyncClient(), socketio.AsyncClient()
    confirmed: Dict[str, str] = {}
    for name, client in (("owner", owner), ("intruder", intruder)):
        client.on("session_confirm", lambda sid, name=name: confirmed.__setitem__(name, sid))
        await client.connect(url, transports=["polling"], socketio_path="/socket.io")
    await owner.emit("session_request", {})
    await intruder.emit("session_request", {"session_id": hotline_case})
    for _ in range(100):
        if len(confirmed) == 2:
            break
        await asyncio.sleep(0.1)
    await intruder.emit("user_uttered", {"message": "写进热线案件", "session_id": hotline_case})
    await intruder.emit("user_uttered", {"message": "写进别人的对话", "session_id": confirmed["owner"]})
    await asyncio.sleep(3)
    await owner.disconnect()
    await intruder.disconnect()
    return confirmed


def test_no_socket_client_writes_into_a_case_it_did_not_open(servers: Any, hotline_case: str) -> None:
    before = servers.stored_events(hotline_case)
    with ThreadPoolExecutor(1) as thread:  # its own event loop, whatever runs in this thread (Playwright)
        confirmed = thread.submit(asyncio.run, _socket_attempts(servers.stack.rasa_url, hotline_case)).result()
    assert confirmed["intruder"] != hotline_case and confirmed["intruder"].startswith("chat-")
    assert servers.stored_events(hotline_case) == before
    assert user_turns(servers, confirmed["owner"]) == []


def test_no_unauthenticated_assist_call_writes_anything(servers: Any, hotline_case: str) -> None:
    before = servers.stored_events(hotline_case)
    url = f"{servers.stack.rasa_url}/webhooks/assist"
    for path, body in (
        ("webhook", {"sender": hotline_case, "message": "伪造"}),
        ("agent", {"sender": hotline_case, "text": "伪造", "send": True}),
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": servers.token}):
            assert requests.post(f"{url}/{path}", json=body, headers=headers, timeout=30).status_code == 401
    assert requests.get(f"{url}/case/{hotline_case}", timeout=30).status_code == 401
    assert servers.stored_events(hotline_case) == before


def test_each_case_record_the_assist_api_serves_is_in_the_audit_trail(servers: Any, hotline_case: str) -> None:
    from deescalate.db.models import AccessLog
    from deescalate.db.session import session_factory

    url = f"{servers.stack.rasa_url}/webhooks/assist/case/{hotline_case}"
    headers = {"Authorization": f"Bearer {servers.token}"}
    with session_factory(servers.stack.db_url)() as session:
        before = session.query(AccessLog).filter_by(target=hotline_case, action="api_case").count()
    assert requests.get(url, headers=headers, timeout=30).status_code == 200
    assert requests.get(url, params={"format": "text"}, headers=headers, timeout=30).status_code == 200
    assert requests.get(url, timeout=30).status_code == 401  # refused: not a view
    with session_factory(servers.stack.db_url)() as session:
        rows = session.query(AccessLog).filter_by(target=hotline_case, action="api_case").all()
    assert len(rows) == before + 2
    assert {(r.username, r.role, r.address, r.path) for r in rows} == {
        ("assist-api", "api", "127.0.0.1", f"/webhooks/assist/case/{hotline_case}")
    }
