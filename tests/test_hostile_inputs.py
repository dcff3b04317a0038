"""Hostile input against the assist API, the agent endpoint, the case record and Rasa's HTTP API.

Each request gets a clear error or a safe answer, never a 500, and a refused
request leaves the database exactly as it was.
"""

import json
import sqlite3

import pytest
import requests

VALID = {"sender": "case-hostile", "message": "ATM吞了我的卡"}
BIG = "退" * 2001


def event_count(servers) -> int:
    with sqlite3.connect(servers.db_path) as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def post(servers, path, body, token="valid", content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token == "valid":
        headers["Authorization"] = f"Bearer {servers.token}"
    elif token is not None:
        headers["Authorization"] = token
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    return requests.post(f"{servers.stack.rasa_url}/webhooks/assist/{path}", data=data, headers=headers, timeout=60)


REFUSED_WEBHOOK = [
    ("empty body", b"", 400),
    ("null", b"null", 400),
    ("true", b"true", 400),
    ("number", b"123", 400),
    ("string", b'"hello"', 400),
    ("array", b"[1, 2]", 400),
    ("empty object", b"{}", 400),
    ("truncated JSON", b'{"sender": "case-1", "message": "ATM', 400),
    ("invalid UTF-8", b'{"sender": "case-1", "message": "\xff\xfe\xfa"}', 400),
    ("trailing garbage", b'{"sender": "case-1", "message": "hi"} xyz', 400),
    ("deeply nested", b'{"sender": "case-1", "message": ' + b"[" * 500 + b"]" * 500 + b"}", 400),
    ("message is a list", {"sender": "case-1", "message": ["ATM"]}, 400),
    ("message is an object", {"sender": "case-1", "message": {"text": "ATM"}}, 400),
    ("message is null", {"sender": "case-1", "message": None}, 400),
    ("message is a number", {"sender": "case-1", "message": 3.14}, 400),
    ("message is a boolean", {"sender": "case-1", "message": True}, 400),
    ("message is empty", {"sender": "case-1", "message": ""}, 400),
    ("message is whitespace", {"sender": "case-1", "message": " \u3000\n\t "}, 400),
    ("message is control characters", {"sender": "case-1", "message": "\u0000\u0001\u0007"}, 400),
    ("message too long", {"sender": "case-1", "message": BIG}, 413),
    ("sender missing", {"message": "ATM吞卡"}, 400),
    ("sender null", {"sender": None, "message": "ATM吞卡"}, 400),
    ("sender number", {"sender": 7, "message": "ATM吞卡"}, 400),
    ("sender list", {"sender": ["a"], "message": "ATM吞卡"}, 400),
    ("sender empty", {"sender": "", "message": "ATM吞卡"}, 400),
    ("sender too long", {"sender": "a" * 129, "message": "ATM吞卡"}, 400),
    ("sender with spaces", {"sender": "case 1", "message": "ATM吞卡"}, 400),
    ("sender path traversal", {"sender": "../../etc/passwd", "message": "ATM吞卡"}, 400),
    ("sender SQL injection", {"sender": "x' OR '1'='1", "message": "ATM吞卡"}, 400),
    ("sender HTML", {"sender": "<script>", "message": "ATM吞卡"}, 400),
    ("sender Chinese", {"sender": "案件一", "message": "ATM吞卡"}, 400),
    ("sender newline", {"sender": "case-1\nX-Injected: 1", "message": "ATM吞卡"}, 400),
]


@pytest.mark.parametrize("name, body, status", REFUSED_WEBHOOK, ids=[c[0] for c in REFUSED_WEBHOOK])
def test_webhook_refuses_bad_bodies_and_records_nothing(servers, name, body, status):
    before = event_count(servers)
    reply = post(servers, "webhook", body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"]
    assert event_count(servers) == before


BAD_AUTH = [
    ("no header", None),
    ("basic scheme", "Basic dXNlcjpwYXNz"),
    ("bearer without token", "Bearer "),
    ("wrong token", "Bearer not-the-token"),
    ("token with prefix", "Bearer x{token}"),
    ("token as header value only", "{token}"),
]


@pytest.mark.parametrize("name, header", BAD_AUTH, ids=[c[0] for c in BAD_AUTH])
@pytest.mark.parametrize("path", ["webhook", "agent"])
def test_bad_credentials_are_refused_before_anything_is_read(servers, name, header, path):
    before = event_count(servers)
    header = header.format(token=servers.token) if header else None
    body = VALID if path == "webhook" else {"sender": "case-hostile", "text": "好的", "send": True}
    reply = post(servers, path, body, token=header)
    assert reply.status_code == 401
    assert reply.json()["error"] == "unauthorized"
    assert event_count(servers) == before


REFUSED_AGENT = [
    ("text missing", {"sender": "case-1"}, 400),
    ("text empty", {"sender": "case-1", "text": ""}, 400),
    ("text number", {"sender": "case-1", "text": 5}, 400),
    ("text too long", {"sender": "case-1", "text": BIG}, 413),
    ("send is a string", {"sender": "case-1", "text": "好的", "send": "true"}, 400),
    ("send is a number", {"sender": "case-1", "text": "好的", "send": 1}, 400),
    ("suggestion id a number", {"sender": "case-1", "text": "好的", "send": True, "suggestion_id": 9}, 400),
    ("agent name a list", {"sender": "case-1", "text": "好的", "send": True, "agent": ["x"]}, 400),
    ("sender injection", {"sender": "1; DROP TABLE events", "text": "好的", "send": True}, 400),
    ("not JSON", b"text=hello", 400),
]


@pytest.mark.parametrize("name, body, status", REFUSED_AGENT, ids=[c[0] for c in REFUSED_AGENT])
def test_agent_endpoint_refuses_bad_bodies_and_records_nothing(servers, name, body, status):
    before = event_count(servers)
    reply = post(servers, "agent", body)
    assert reply.status_code == status, reply.text
    assert event_count(servers) == before


ODD_BUT_VALID = [
    ("SQL injection text", "'; DROP TABLE events; --"),
    ("HTML and script", "<img src=x onerror=alert(1)><script>alert(1)</script>"),
    ("template braces", "{product}{{7*7}}${jndi:ldap://x}"),
    ("emoji sequence", "👨‍👩‍👧‍👦😡🔥💢"),
    ("right-to-left override", "\u202eATM吞卡\u202c"),
    ("zero-width characters", "A\u200bT\u200bM吞\u200d卡"),
    ("full-width and Traditional", "ＡＴＭ吞了我兩千塊！！"),
    ("mixed scripts", "my card 被吞了 please help 谢谢"),
    ("only punctuation", "？？？！！！"),
    ("exactly the limit", "退" * 2000),
]


@pytest.mark.parametrize("name, message", ODD_BUT_VALID, ids=[c[0] for c in ODD_BUT_VALID])
def test_odd_valid_messages_are_answered_and_stored_verbatim(servers, name, message):
    sender = "case-odd-" + str(abs(hash(name)) % 10**8)
    reply = post(servers, "webhook", {"sender": sender, "message": message})
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["case_id"] == sender and "analysis" in answer
    users = [d for k, d in servers.stored_events(sender) if k == "user"]
    assert len(users) == 1
    assert servers.stored_events(sender) and event_count(servers) > 0  # the events table is intact


@pytest.mark.parametrize("message", ["/restart", '/request_human{"amount": 99999999}', "//@转发的人：这个银行乱扣费"])
def test_a_leading_slash_is_read_as_words_not_as_a_rasa_command(servers, message):
    sender = "case-slash-" + str(abs(hash(message)) % 10**8)
    assert post(servers, "webhook", {"sender": sender, "message": "信用卡被乱扣了年费"}).status_code == 200
    reply = post(servers, "webhook", {"sender": sender, "message": message})
    assert reply.status_code == 200
    stored = servers.stored_events(sender)
    assert "restart" not in [kind for kind, _ in stored]
    latest = [data for kind, data in stored if kind == "user"][-1]
    assert latest["text"].startswith("／")
    assert all(e.get("extractor") != "RegexMessageHandler" for e in latest["parse_data"].get("entities", []))
    assert reply.json()["analysis"].get("cause") == "fees_and_charges"  # the case goes on


@pytest.mark.parametrize(
    "case_id, status",
    [
        ("..%2F..%2Fetc", 400),
        ("x'%20OR%20'1'='1", 400),
        ("no-such-case-anywhere", 404),
    ],
)
def test_case_record_refuses_odd_ids(servers, case_id, status):
    reply = requests.get(
        f"{servers.stack.rasa_url}/webhooks/assist/case/{case_id}",
        headers={"Authorization": f"Bearer {servers.token}"},
        timeout=30,
    )
    assert reply.status_code in (status, 404)
    assert reply.status_code < 500


def test_rasa_http_api_requires_the_token(servers):
    # Rasa's own HTTP API is for trusted tools on the host (it answers malformed
    # JSON with a 500 of its own); clients use the assist API above.
    for path in ("/model/parse", "/conversations/case-hostile/tracker", "/status"):
        reply = requests.request(
            "GET" if "parse" not in path else "POST",
            f"{servers.stack.rasa_url}{path}",
            json={"text": "ATM吞卡"},
            timeout=30,
        )
        assert reply.status_code == 401, path
