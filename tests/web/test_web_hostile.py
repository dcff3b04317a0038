"""Hostile requests against the web server: login and logout, the agent console's
JSON API, its event stream, the trainer review pages and the chat widget.

Each request gets a clear 4xx (JSON with a machine-readable `error`, or an
HTML page), a redirect where that is the design (303 back to the page after
a refused correction, 302 to /login for anonymous pages), or a 200 whose echo
of the input is escaped; never a 500. A refused state-changing request leaves
the cases, corrections, users and events tables exactly as they were.
"""

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import html
import json
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from sqlalchemy import text

from tests.web.test_console import logged_in_session

CASE = f"hostile-web-{uuid.uuid4().hex[:8]}"
COMPLAINT = "ATM吞了我两千块钱，到现在都没人处理"
SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SQL = "'); DROP TABLE cases;--"
LONG = "退" * 10_001
VICTIM, LOCKED = "hostile-victim", "hostile-locked"  # accounts of their own: failures count per name
TABLES = ("cases", "corrections", "users")
NOTHING = object()


# ---------------------------------------------------------------- fixtures and helpers


def db_rows(web: Any) -> Dict[str, Any]:
    """Every row of the product's tables, and where Rasa's events table stands."""
    with web.sessions() as session:
        rows: Dict[str, Any] = {
            table: [tuple(row) for row in session.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
            for table in TABLES
        }
        rows["events"] = tuple(session.execute(text("SELECT COUNT(*), MAX(id) FROM events")).one())
    return rows


def event_ids(servers: Any, case_id: str, kind: str) -> list:
    with sqlite3.connect(servers.db_path) as db:
        return [
            row[0]
            for row in db.execute(
                "SELECT id FROM events WHERE sender_id = ? AND type_name = ? ORDER BY id", (case_id, kind)
            )
        ]


@pytest.fixture(scope="module")
def accounts(web: Any) -> None:
    """Two agents that only this module logs in with (wrong passwords count per user name)."""
    from deescalate.db.models import User
    from deescalate.web.auth import create_user

    with web.sessions() as session:
        for name in (VICTIM, LOCKED):
            if session.query(User).filter_by(username=name).first() is None:
                create_user(session, name, web.PASSWORD, "agent")
        session.commit()


@pytest.fixture(scope="module")
def ctx(web: Any, servers: Any, accounts: None) -> "Context":
    """A case with a customer turn and the assistant's answer, and one logged-in session per role."""
    assert servers.assist(CASE, COMPLAINT).status_code == 200
    web.wait_for_case(CASE)
    return Context(web, servers)


class Context:
    def __init__(self, web: Any, servers: Any) -> None:
        self.web = web
        self.servers = servers
        self._sessions: Dict[str, requests.Session] = {}
        self.values = {
            "case": CASE,
            "user_event": str(event_ids(servers, CASE, "user")[0]),
            "bot_event": str(event_ids(servers, CASE, "bot")[0]),
        }

    def session(self, role: Optional[str]) -> requests.Session:
        if role is None:
            return requests.Session()
        if role not in self._sessions:
            self._sessions[role] = logged_in_session(self.web, role)
        return self._sessions[role]

    def csrf(self, role: str) -> str:
        return self.session(role).headers["X-CSRF-Token"]


def assert_json_error(reply: requests.Response, code: Optional[str] = None) -> Dict[str, Any]:
    assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
    body = reply.json()
    assert isinstance(body.get("error"), str) and re.fullmatch(r"[a-z_]+", body["error"]), body
    assert body.get("message"), body
    if code is not None:
        assert body["error"] == code, body
    return body


@dataclass(frozen=True)
class Hostile:
    """One hostile request and what the server is designed to answer."""

    name: str
    method: str
    path: str  # {case}, {user_event}, {bot_event} are filled in
    status: int
    error: Optional[str] = None  # the JSON error code expected
    role: Optional[str] = "agent"  # None: anonymous
    json: Any = NOTHING  # a JSON body (serialised as UTF-8)
    data: Any = None  # bytes, or a form dict
    content_type: Optional[str] = None
    headers: Dict[str, Optional[str]] = field(default_factory=dict)
    html: bool = False  # asked for as a browser would (Accept: text/html)
    location: Optional[str] = None  # regex the Location header must match
    raw_absent: Tuple[str, ...] = ()  # must not come back as written
    present: Tuple[str, ...] = ()  # must come back (e.g. the escaped echo)
    check: Optional[Callable[[Any], None]] = None  # more about the JSON answer

    def send(self, ctx: Context) -> requests.Response:
        headers: Dict[str, Optional[str]] = {"Accept": "text/html"} if self.html else {}
        data = self.data
        if self.json is not NOTHING:
            data = json.dumps(self.json, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif isinstance(data, dict):
            data = {key: value.format(**ctx.values) for key, value in data.items()}
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        headers.update(self.headers)
        return ctx.session(self.role).request(
            self.method,
            ctx.web.url + self.path.format(**ctx.values),
            data=data,
            headers=headers,
            allow_redirects=False,
            timeout=90,
        )

    def verify(self, reply: requests.Response) -> None:
        assert reply.status_code == self.status, (self.name, reply.status_code, reply.text[:300])
        if self.error:
            assert_json_error(reply, self.error)
        if self.html:
            assert reply.headers.get("Content-Type", "").startswith("text/html"), reply.headers
        if self.location:
            assert re.fullmatch(self.location, reply.headers.get("Location", "")), reply.headers.get("Location")
        for value in self.raw_absent:
            assert value not in reply.text, value
        for value in self.present:
            assert value in reply.text, value
        if self.check:
            self.check(reply.json())


def run_refused(ctx: Context, spec: Hostile) -> requests.Response:
    """Send a request that must change nothing, and check both the answer and the database."""
    before = db_rows(ctx.web)
    reply = spec.send(ctx)
    spec.verify(reply)
    assert db_rows(ctx.web) == before, f"{spec.name} changed the database"
    return reply


def ids(cases: list) -> list:
    return [c.name for c in cases]


# ---------------------------------------------------------------- login


def login_page(web: Any, session: requests.Session, next_path: str = "") -> str:
    page = session.get(f"{web.url}/login", params={"next": next_path} if next_path else None, timeout=10)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def logged_in(web: Any, session: requests.Session) -> bool:
    return session.get(f"{web.url}/console/api/queue", timeout=10).status_code == 200


WRONG = "用户名或密码错误。"
EXPIRED = "页面已过期，请重新登录。"
LOGIN_CASES = [
    # name, form (or raw bytes; "{token}" is the form's CSRF token), token used, status, message shown
    ("empty form", {"username": "", "password": ""}, "valid", 401, WRONG),
    ("no fields at all", {}, "valid", 401, WRONG),
    ("huge 100 kB user name", {"username": "a" * 100_000, "password": "x"}, "valid", 401, WRONG),
    ("SQL injection user name", {"username": "' OR 1=1 --", "password": "' OR 1=1 --"}, "valid", 401, WRONG),
    ("SQL injection password", {"username": VICTIM, "password": "' OR '1'='1' --"}, "valid", 401, WRONG),
    ("wrong password", {"username": VICTIM, "password": "wrong-password-1"}, "valid", 401, WRONG),
    ("unknown user", {"username": "nobody-at-all", "password": "test-password-1"}, "valid", 401, WRONG),
    ("user name with HTML", {"username": SCRIPT, "password": "x"}, "valid", 401, WRONG),
    ("NUL in user name", {"username": f"{VICTIM}\x00", "password": "test-password-1"}, "valid", 401, WRONG),
    ("right password, no CSRF token", {"username": VICTIM, "password": "test-password-1"}, "none", 403, EXPIRED),
    ("right password, forged CSRF token", {"username": VICTIM, "password": "test-password-1"}, "forged", 403, EXPIRED),
    ("non-UTF-8 bytes body", b"username=\xff\xfe&password=\xc3\x28&csrf_token={token}", "valid", 403, EXPIRED),
    ("JSON instead of a form", "json", "valid", 403, EXPIRED),
]


@pytest.mark.parametrize("name, form, token, status, message", LOGIN_CASES, ids=[c[0] for c in LOGIN_CASES])
def test_login_refuses_hostile_forms(web, accounts, name, form, token, status, message):
    session = requests.Session()
    csrf = login_page(web, session)
    before = db_rows(web)
    fields = {"username": VICTIM, "password": web.PASSWORD, "csrf_token": csrf}
    if form == "json":
        reply = session.post(f"{web.url}/login", json=fields, allow_redirects=False, timeout=30)
    elif isinstance(form, bytes):
        reply = session.post(
            f"{web.url}/login",
            data=form.replace(b"{token}", csrf.encode()),
            timeout=30,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
        )
    else:
        body = dict(form)
        if token == "valid":
            body["csrf_token"] = csrf
        elif token == "forged":
            body["csrf_token"] = "0" * len(csrf)
        reply = session.post(f"{web.url}/login", data=body, allow_redirects=False, timeout=30)
    assert reply.status_code == status, reply.text[:300]
    assert reply.headers["Content-Type"].startswith("text/html")
    assert message in reply.text and 'name="csrf_token"' in reply.text  # the form again
    assert SCRIPT not in reply.text
    if form not in ("json",) and not isinstance(form, bytes) and form.get("username") == SCRIPT:
        assert f'value="{SCRIPT_ESCAPED}"' in reply.text  # echoed, escaped
    assert not logged_in(web, session)
    assert db_rows(web) == before


def test_repeated_failed_logins_lock_the_name_even_for_the_right_password(web, accounts):
    session = requests.Session()
    csrf = login_page(web, session)
    before = db_rows(web)
    for attempt in range(5):
        reply = session.post(
            f"{web.url}/login",
            timeout=30,
            allow_redirects=False,
            data={"username": LOCKED, "password": f"guess-{attempt}", "csrf_token": csrf},
        )
        assert reply.status_code == 401, attempt
    reply = session.post(
        f"{web.url}/login",
        timeout=30,
        allow_redirects=False,
        data={"username": LOCKED, "password": web.PASSWORD, "csrf_token": csrf},
    )
    assert reply.status_code == 429
    assert "登录失败次数过多" in reply.text
    assert not logged_in(web, session)
    assert db_rows(web) == before
    other = requests.Session()  # the lock is per user name: others still log in
    other_csrf = login_page(web, other)
    reply = other.post(
        f"{web.url}/login",
        timeout=30,
        allow_redirects=False,
        data={"username": VICTIM, "password": web.PASSWORD, "csrf_token": other_csrf},
    )
    assert reply.status_code == 302 and logged_in(web, other)


OPEN_REDIRECTS = [
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "http:evil.example",
    "/\t/evil.example",
    "/%2F/evil.example",
    "//evil.example/%2e%2e",
    "///evil.example",
    "/\r\nSet-Cookie: x=1",
]


def assert_stays_on_site(web: Any, location: str) -> None:
    assert location, "no Location header"
    assert not any(ord(ch) < 0x20 or ch == "\\" for ch in location), repr(location)  # browsers fold these
    target = urlsplit(urljoin(f"{web.url}/login", location))
    assert (target.scheme, target.netloc) == tuple(urlsplit(web.url)[:2]), location


@pytest.mark.parametrize("next_path", OPEN_REDIRECTS)
def test_login_never_redirects_to_another_site(web, next_path):
    session = requests.Session()
    csrf = login_page(web, session, next_path)
    form = session.get(f"{web.url}/login", params={"next": next_path}, timeout=10).text
    hidden = html.unescape(re.search(r'name="next" value="([^"]*)"', form).group(1))
    assert hidden == "" or (hidden.startswith("/") and not hidden.startswith("//") and "\\" not in hidden)
    reply = session.post(
        f"{web.url}/login",
        allow_redirects=False,
        timeout=30,
        data={"username": web.username("agent"), "password": web.PASSWORD, "csrf_token": csrf, "next": next_path},
    )
    assert reply.status_code == 302
    assert_stays_on_site(web, reply.headers.get("Location", ""))
    assert "Set-Cookie: x=1" not in reply.headers.get("Location", "") and "x" not in session.cookies
    again = session.get(f"{web.url}/login", params={"next": next_path}, allow_redirects=False, timeout=10)
    assert again.status_code == 302  # already logged in: straight on, but on this site
    assert_stays_on_site(web, again.headers.get("Location", ""))


def test_logout_without_the_csrf_token_keeps_the_session(web):
    session = logged_in_session(web, "agent")
    for headers in ({"X-CSRF-Token": None}, {"X-CSRF-Token": "forged"}):
        reply = session.post(f"{web.url}/logout", headers=headers, allow_redirects=False, timeout=10)
        assert reply.status_code == 403
        assert_json_error(reply, "forbidden")
        assert logged_in(web, session)
    assert session.get(f"{web.url}/logout", timeout=10).status_code == 405


# ---------------------------------------------------------------- the console's JSON API


def J(path: str, body: Any, status: int, error: Optional[str], name: str, **kw: Any) -> Hostile:
    return Hostile(
        name=name, method="POST", path=f"/console/api/case/{{case}}/{path}", json=body, status=status, error=error, **kw
    )


def RAW(
    path: str,
    body: bytes,
    status: int,
    error: Optional[str],
    name: str,
    content_type: str = "application/json",
    **kw: Any,
) -> Hostile:
    return Hostile(
        name=name,
        method="POST",
        path=f"/console/api/case/{{case}}/{path}",
        data=body,
        content_type=content_type,
        status=status,
        error=error,
        **kw,
    )


CONSOLE_REFUSED = [
    # bodies that are not a JSON object
    RAW("draft", b'{"text": ', 400, "invalid_json", "malformed JSON"),
    RAW("draft", b"[1, 2]", 400, "invalid_json", "JSON array"),
    RAW("draft", b"42", 400, "invalid_json", "JSON number"),
    RAW("draft", b"null", 400, "invalid_json", "JSON null"),
    RAW("customer", b'"hello"', 400, "invalid_json", "JSON string"),
    RAW("customer", b"", 400, "invalid_json", "empty body"),
    RAW("customer", b'{"text": "a"}{"text": "b"}', 400, "invalid_json", "two JSON objects"),
    RAW("customer", b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "invalid_json", "deeply nested JSON"),
    RAW("draft", b'{"text": "\xff\xfe\xfa"}', 400, "invalid_json", "invalid UTF-8 bytes"),
    RAW(
        "send",
        b"text=hello",
        400,
        "invalid_json",
        "form body on a JSON route",
        content_type="application/x-www-form-urlencoded",
    ),
    # text of the wrong type, size or content (refused by the assist API, passed through)
    J("customer", {"text": 12345}, 400, "invalid_message", "customer text a number"),
    J("customer", {"text": ["ATM吞卡"]}, 400, "invalid_message", "customer text a list"),
    J("customer", {"text": {"text": "ATM吞卡"}}, 400, "invalid_message", "customer text a dict"),
    J("customer", {}, 400, "invalid_message", "customer text missing"),
    J("customer", {"text": LONG}, 413, "message_too_long", "customer text of 10,001 characters"),
    J("customer", {"text": "\u0001\u0002\u0007\u001b"}, 400, "empty_message", "customer text control characters"),
    J("customer", {"text": "\u0000\u0000"}, 400, "empty_message", "customer text NUL"),
    RAW("customer", b'{"text": "\\ud800\\udfff\\ud800"}', 400, "empty_message", "customer text lone surrogates"),
    J("draft", {"text": 7}, 400, "invalid_text", "draft text a number"),
    RAW("draft", b'{"text": "\\udc00"}', 400, "empty_text", "draft text a lone surrogate"),
    J("draft", {"text": "\u0000"}, 400, "empty_text", "draft text NUL"),
    J("send", {"text": 3.5}, 400, "invalid_text", "sent text a number"),
    J("send", {"text": ["您好"]}, 400, "invalid_text", "sent text a list"),
    J("send", {"text": {"a": 1}}, 400, "invalid_text", "sent text a dict"),
    J("send", {"text": LONG}, 413, "text_too_long", "sent text of 10,001 characters"),
    # case ids that are not case ids
    Hostile(
        "case id too long",
        "POST",
        "/console/api/case/" + "a" * 129 + "/draft",
        400,
        "invalid_case_id",
        json={"text": "您好"},
    ),
    Hostile(
        "case id path traversal",
        "POST",
        "/console/api/case/..%2F..%2Fetc%2Fpasswd/record",
        400,
        "invalid_case_id",
        json={"status": "closed"},
    ),
    Hostile("case id with spaces", "POST", "/console/api/case/case%20one/close", 400, "invalid_case_id"),
    Hostile(
        "case id with %00", "POST", "/console/api/case/case%00one/send", 400, "invalid_case_id", json={"text": "您好"}
    ),
    Hostile("case id SQL injection", "POST", "/console/api/case/x'%20OR%20'1'='1/close", 400, "invalid_case_id"),
    Hostile(
        "case id HTML", "POST", "/console/api/case/%3Cscript%3E/customer", 400, "invalid_case_id", json={"text": "您好"}
    ),
    # CSRF
    J("record", {"status": "closed"}, 403, "csrf", "record without CSRF token", headers={"X-CSRF-Token": None}),
    J("record", {"status": "closed"}, 403, "csrf", "record with forged CSRF token", headers={"X-CSRF-Token": "f" * 64}),
    J(
        "customer",
        {"text": "我要投诉"},
        403,
        "csrf",
        "customer turn without CSRF token",
        headers={"X-CSRF-Token": None},
    ),
    J("send", {"text": "您好"}, 403, "csrf", "send with an empty CSRF token", headers={"X-CSRF-Token": ""}),
    Hostile(
        "close with the CSRF token of another session",
        "POST",
        "/console/api/case/{case}/close",
        403,
        "csrf",
        headers={"X-CSRF-Token": "other-session"},
    ),
    # roles
    J("record", {"status": "closed"}, 403, "forbidden", "trainer edits a record", role="trainer"),
    J("send", {"text": "您好"}, 403, "forbidden", "trainer sends a reply", role="trainer"),
    Hostile("trainer closes a case", "POST", "/console/api/case/{case}/close", 403, "forbidden", role="trainer"),
    Hostile("trainer reads the queue", "GET", "/console/api/queue", 403, "forbidden", role="trainer"),
    Hostile("trainer reads a case", "GET", "/console/api/case/{case}", 403, "forbidden", role="trainer"),
    Hostile("trainer opens the console", "GET", "/console", 403, role="trainer", html=True, present=("无权访问",)),
    Hostile("agent reads the overdue list", "GET", "/console/api/overdue", 403, "forbidden"),
    Hostile("agent opens the overdue page", "GET", "/console/overdue", 403, html=True, present=("无权访问",)),
    J("record", {"status": "closed"}, 401, "unauthorized", "anonymous record edit", role=None),
    Hostile("anonymous case read", "GET", "/console/api/case/{case}", 401, "unauthorized", role=None),
    Hostile(
        "anonymous console page",
        "GET",
        "/console/case/{case}",
        302,
        role=None,
        html=True,
        location=r"/login\?next=/console/case/" + CASE,
    ),
    Hostile("close by GET", "GET", "/console/api/case/{case}/close", 405),
    # record edits outside the allowed values
    J("record", {"status": "deleted"}, 400, "invalid_record", "status outside the list"),
    J("record", {"status": ["closed"]}, 400, "invalid_record", "status a list"),
    J("record", {"status": None}, 400, "invalid_record", "status null"),
    J("record", {"cause": "not_a_cause"}, 400, "invalid_record", "cause outside the list"),
    J("record", {"cause": SCRIPT}, 400, "invalid_record", "cause HTML"),
    J("record", {"cause": {"$ne": None}}, 400, "invalid_record", "cause an object"),
    J("record", {"amount": -1}, 400, "invalid_record", "amount negative"),
    J("record", {"amount": "-0.01"}, 400, "invalid_record", "amount negative string"),
    RAW("record", b'{"amount": NaN}', 400, "invalid_record", "amount NaN"),
    J("record", {"amount": "Infinity"}, 400, "invalid_record", "amount infinity string"),
    J("record", {"amount": 1e13}, 400, "invalid_record", "amount huge"),
    RAW("record", b'{"amount": 1' + b"0" * 400 + b"}", 400, "invalid_record", "amount with 400 digits"),
    J("record", {"amount": "两千块"}, 400, "invalid_record", "amount a string"),
    J("record", {"amount": [2000]}, 400, "invalid_record", "amount a list"),
    J("record", {"amount": True}, 400, "invalid_record", "amount a boolean"),
    J("record", {"narrative": "叙" * 5001}, 400, "invalid_record", "narrative too long"),
    J("record", {"narrative": 42}, 400, "invalid_record", "narrative a number"),
    J("record", {"first_handler": "x" * 65}, 400, "invalid_record", "first handler too long"),
    J("record", {"narrative": "ok", "status": "deleted"}, 400, "invalid_record", "one bad field spoils the edit"),
    RAW(
        "record",
        b"status=deleted&narrative=x",
        400,
        "invalid_record",
        "form post with a bad status",
        content_type="application/x-www-form-urlencoded",
    ),
    RAW(
        "record",
        b"cause=%3Cscript%3E",
        400,
        "invalid_record",
        "form post with HTML cause",
        content_type="application/x-www-form-urlencoded",
    ),
    RAW(
        "record",
        b"\xff\xfe\xfd",
        303,
        None,
        "form post of non-UTF-8 bytes: nothing to save",
        content_type="application/x-www-form-urlencoded",
        location=r"/console/case/" + CASE,
    ),
]


@pytest.mark.parametrize("spec", CONSOLE_REFUSED, ids=ids(CONSOLE_REFUSED))
def test_console_api_refuses_hostile_requests_and_changes_nothing(ctx, spec):
    if spec.headers.get("X-CSRF-Token") == "other-session":
        spec = dataclasses.replace(spec, headers={"X-CSRF-Token": ctx.csrf("supervisor")})
    run_refused(ctx, spec)


def _draft_answer(body: Dict[str, Any]) -> None:
    assert body["case_id"] == CASE and body["recorded"] is False and isinstance(body["taboo"], list)


def _case_answer(body: Dict[str, Any]) -> None:
    assert body["case_id"] == CASE and any(i.get("text") == COMPLAINT for i in body["items"])


def _queue_answer(body: Dict[str, Any]) -> None:
    assert isinstance(body["cases"], list) and body["high_risk"] == []


CONSOLE_SAFE = [
    J("draft", {"text": SCRIPT}, 200, None, "draft with a script tag", check=_draft_answer),
    J("draft", {"text": SQL}, 200, None, "draft with SQL injection", check=_draft_answer),
    J(
        "draft",
        {"text": "公司规定就是这样\u0000\u202e<img src=x onerror=alert(1)>"},
        200,
        None,
        "draft with NUL, RTL override and an img tag",
        check=_draft_answer,
    ),
    J("draft", {"text": "   "}, 200, None, "blank draft", check=_draft_answer),
    Hostile(
        "case read with odd query", "GET", "/console/api/case/{case}?after=-1&x=%00%ff&<b>=1", 200, check=_case_answer
    ),
    Hostile("queue with odd query", "GET", "/console/api/queue?queue=<script>&page=-1", 200, check=_queue_answer),
]


@pytest.mark.parametrize("spec", CONSOLE_SAFE, ids=ids(CONSOLE_SAFE))
def test_console_answers_odd_but_harmless_requests_safely(ctx, spec):
    reply = run_refused(ctx, spec)
    assert reply.headers["Content-Type"].startswith("application/json")


def test_customer_html_and_sql_are_recorded_as_text_and_shown_escaped(ctx, web, servers):
    case_id = f"hostile-xss-{uuid.uuid4().hex[:8]}"
    agent = ctx.session("agent")
    said = f"{SCRIPT}{SQL}ATM吞了我的卡"
    reply = agent.post(f"{web.url}/console/api/case/{case_id}/customer", json={"text": said}, timeout=90)
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    reply = agent.post(
        f"{web.url}/console/api/case/{case_id}/send", json={"text": f"{SCRIPT}您好，我们马上处理"}, timeout=90
    )
    assert reply.status_code == 200 and reply.json()["recorded"] is True
    stored = [
        data["text"]
        for kind, data in servers.stored_events(case_id)
        if kind in ("user", "bot") and (kind == "user" or (data.get("metadata") or {}).get("author") == "agent")
    ]
    assert stored == [said, f"{SCRIPT}您好，我们马上处理"]
    web.wait_for_case(case_id)
    with web.sessions() as session:  # the cases table is still there and whole
        assert session.execute(text("SELECT COUNT(*) FROM cases WHERE case_id = :c"), {"c": case_id}).scalar() == 1
    page = ctx.session("trainer").get(f"{web.url}/review/case/{case_id}", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200
    assert SCRIPT not in page.text and SCRIPT_ESCAPED in page.text
    assert "&#39;); DROP TABLE cases;--" in page.text


def test_record_strips_control_characters_and_keeps_injection_as_text(ctx, web):
    agent = ctx.session("agent")
    before = web.case(CASE)
    # requests escapes the lone surrogate as \\ud800 in the JSON it sends
    reply = agent.post(
        f"{web.url}/console/api/case/{CASE}/record",
        timeout=30,
        json={"narrative": f"{SQL}\u0000\u0007{SCRIPT}\ud800", "demand_note": "退款\u0000\u001b", "amount": "2,000"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["narrative"] == SQL + SCRIPT
    case = web.case(CASE)
    assert (case.narrative, case.demand_note, case.amount) == (SQL + SCRIPT, "退款", 2000)
    assert (case.status, case.channel) == (before.status, before.channel)


# ---------------------------------------------------------------- forged sessions


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_cookie(secret: str, data: Any) -> str:
    payload = _b64(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{hmac.new(secret.encode(), payload.encode('ascii'), hashlib.sha256).hexdigest()}"


def cookies_for(web: Any, servers: Any) -> Dict[str, str]:
    """Session cookies an attacker might try; 'control' is a genuine one built the same way."""
    from deescalate.db.models import User, WebSession

    secret = servers.stack.extra_env["WEB_SECRET"]
    with web.sessions() as session:
        agent = session.query(User).filter_by(username=web.username("agent")).one()
        admin = session.query(User).filter_by(username=web.username("admin")).one()
    pv = hmac.new(secret.encode(), agent.password_hash.encode(), hashlib.sha256).hexdigest()[:16]
    future, past = int(time.time()) + 3600, int(time.time()) - 60
    genuine = {"sid": "s1", "exp": future, "uid": agent.id, "pv": pv}
    with web.sessions() as session:  # the signed-in session every instance looks up
        id_hash = hashlib.sha256(b"s1").hexdigest()
        if session.get(WebSession, id_hash) is None:
            session.add(
                WebSession(id_hash=id_hash, user_id=agent.id, expires_at=dt.datetime.utcnow() + dt.timedelta(hours=1))
            )
            session.commit()
    control = signed_cookie(secret, genuine)
    payload, signature = control.split(".")
    admin_payload = signed_cookie(secret, {**genuine, "uid": admin.id}).split(".")[0]
    return {
        "control": control,
        "garbage": "not-a-session",
        "empty": "",
        "three parts": f"{payload}.{signature}.{signature}",
        "zeroed signature": f"{payload}.{'0' * len(signature)}",
        "other user, old signature": f"{admin_payload}.{signature}",
        "signed with another secret": signed_cookie("guessed-secret", genuine),
        "expired": signed_cookie(secret, {**genuine, "exp": past}),
        "wrong password fingerprint": signed_cookie(secret, {**genuine, "pv": "0" * 16}),
        "no fingerprint": signed_cookie(secret, {k: v for k, v in genuine.items() if k != "pv"}),
        "uid a string": signed_cookie(secret, {**genuine, "uid": str(agent.id)}),
        "payload a list": signed_cookie(secret, [genuine]),
        "payload not JSON": f"{_b64(b'{not json')}.{hmac.new(secret.encode(), _b64(b'{not json').encode(), hashlib.sha256).hexdigest()}",
        "payload not base64": "%%%%.abcdef",
        "4 kB of junk": "x" * 4000,
    }


BAD_COOKIES = [
    "garbage",
    "empty",
    "three parts",
    "zeroed signature",
    "other user, old signature",
    "signed with another secret",
    "expired",
    "wrong password fingerprint",
    "no fingerprint",
    "uid a string",
    "payload a list",
    "payload not JSON",
    "payload not base64",
    "4 kB of junk",
]


def test_a_genuine_cookie_built_this_way_is_accepted(web, servers):
    """The control for the forged cookies below: without it they would prove nothing."""
    cookie = cookies_for(web, servers)["control"]
    reply = requests.get(f"{web.url}/console/api/queue", headers={"Cookie": f"dx_session={cookie}"}, timeout=10)
    assert reply.status_code == 200 and isinstance(reply.json()["cases"], list)


@pytest.mark.parametrize("kind", BAD_COOKIES)
def test_forged_garbled_or_expired_sessions_are_anonymous(ctx, web, servers, kind):
    cookie = {"Cookie": f"dx_session={cookies_for(web, servers)[kind]}"}
    reply = requests.get(f"{web.url}/console/api/queue", headers=cookie, timeout=10)
    assert reply.status_code == 401
    assert_json_error(reply, "unauthorized")
    page = requests.get(
        f"{web.url}/console", headers={**cookie, "Accept": "text/html"}, allow_redirects=False, timeout=10
    )
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/console"
    before = db_rows(web)
    reply = requests.post(
        f"{web.url}/console/api/case/{CASE}/close", timeout=10, headers={**cookie, "X-CSRF-Token": ctx.csrf("agent")}
    )
    assert reply.status_code == 401
    assert_json_error(reply, "unauthorized")
    assert db_rows(web) == before


# ---------------------------------------------------------------- the event stream


def read_stream(reply: requests.Response, wanted: str, seconds: float = 15.0) -> str:
    raw, deadline = "", time.monotonic() + seconds
    for chunk in reply.iter_content(chunk_size=None, decode_unicode=True):
        raw += chunk
        if wanted in raw or time.monotonic() > deadline:
            break
    return raw


STREAM_RESUMES = [
    ("after not a number", {"after": "abc"}, {}),
    ("after negative", {"after": "-5"}, {}),
    ("after a float", {"after": "1.5"}, {}),
    ("after beyond 64 bits", {"after": "9" * 30}, {}),
    ("after 2**63", {"after": str(2**63)}, {}),
    ("Last-Event-ID of 5000 digits", {}, {"Last-Event-ID": "9" * 5000}),
    ("Last-Event-ID with SQL", {}, {"Last-Event-ID": "0 OR 1=1; DROP TABLE events"}),
    ("Last-Event-ID negative", {}, {"Last-Event-ID": "-99"}),
]


@pytest.mark.parametrize("name, params, headers", STREAM_RESUMES, ids=[c[0] for c in STREAM_RESUMES])
def test_stream_treats_a_bad_position_as_the_start(ctx, web, name, params, headers):
    """A position that is not a usable event id replays the case from its first turn."""
    before = db_rows(web)
    with ctx.session("agent").get(
        f"{web.url}/console/stream", params={"case": CASE, **params}, stream=True, headers=headers, timeout=20
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        raw = read_stream(reply, COMPLAINT)
    assert raw.startswith("retry: 1000\n\n")
    assert "event: turn" in raw and COMPLAINT in raw, raw[:500]
    assert db_rows(web) == before


STREAM_REFUSED = [
    Hostile("stream case path traversal", "GET", "/console/stream?case=../../etc/passwd", 400, "invalid_case_id"),
    Hostile("stream case HTML", "GET", "/console/stream?case=%3Cscript%3E", 400, "invalid_case_id"),
    Hostile("stream case NUL", "GET", "/console/stream?case=case%00x", 400, "invalid_case_id"),
    Hostile("stream case with spaces", "GET", "/console/stream?case=a%20b", 400, "invalid_case_id"),
    Hostile("stream case too long", "GET", "/console/stream?case=" + "c" * 200, 400, "invalid_case_id"),
    Hostile("stream for a trainer", "GET", "/console/stream?case={case}", 403, "forbidden", role="trainer"),
    Hostile("stream for nobody", "GET", "/console/stream?case={case}", 401, "unauthorized", role=None),
]


@pytest.mark.parametrize("spec", STREAM_REFUSED, ids=ids(STREAM_REFUSED))
def test_stream_refuses_bad_cases_and_roles(ctx, spec):
    run_refused(ctx, spec)


# ---------------------------------------------------------------- trainer review

REVIEW_PAGES = [
    Hostile(
        "cause filter HTML",
        "GET",
        "/review?cause=%3Cscript%3Ealert(1)%3C/script%3E",
        200,
        role="trainer",
        html=True,
        raw_absent=(SCRIPT,),
    ),
    Hostile(
        "search HTML is echoed escaped",
        "GET",
        "/review?q=%3Cscript%3Ealert(1)%3C/script%3E",
        200,
        role="trainer",
        html=True,
        raw_absent=(SCRIPT,),
        present=(SCRIPT_ESCAPED,),
    ),
    Hostile(
        "search SQL injection",
        "GET",
        "/review?q=%27%29%3B%20DROP%20TABLE%20cases%3B--",
        200,
        role="trainer",
        html=True,
        present=("&#39;); DROP TABLE cases;--",),
    ),
    Hostile("search LIKE wildcards", "GET", "/review?q=%25_!%5C", 200, role="trainer", html=True),
    Hostile("search NUL", "GET", "/review?q=a%00b", 200, role="trainer", html=True),
    Hostile("search 5 kB", "GET", "/review?q=" + "搜" * 600, 200, role="trainer", html=True),
    Hostile("search 10 kB: over the request line limit", "GET", "/review?q=" + "x" * 10_000, 413, role="trainer"),
    Hostile(
        "every filter outside the contract",
        "GET",
        "/review?domain=x&emotion_peak=rage&escalation=%22&taboo=maybe&status=deleted&date_from=2024-13-45",
        200,
        role="trainer",
        html=True,
    ),
    Hostile("page negative", "GET", "/review?page=-3", 200, role="trainer", html=True),
    Hostile("page not a number", "GET", "/review?page=abc", 200, role="trainer", html=True),
    Hostile("page of 30 digits", "GET", "/review?page=" + "9" * 30, 200, role="trainer", html=True),
    Hostile("page of 5000 digits", "GET", "/review?page=" + "9" * 5000, 200, role="trainer", html=True),
    Hostile("date_to the last day of year 9999", "GET", "/review?date_to=9999-12-31", 200, role="trainer", html=True),
    Hostile("date_from year 1", "GET", "/review?date_from=0001-01-01", 200, role="trainer", html=True),
    Hostile(
        "export banner HTML",
        "GET",
        "/review?exported=%3Cscript%3Ealert(1)%3C/script%3E&n=%3Cb%3E1",
        200,
        role="trainer",
        html=True,
        raw_absent=(SCRIPT, "<b>1"),
    ),
    Hostile(
        "dashboard date_from year 1", "GET", "/review/dashboard?date_from=0001-01-01", 200, role="trainer", html=True
    ),
    Hostile(
        "dashboard date_to year 9999", "GET", "/review/dashboard?date_to=9999-12-31", 200, role="trainer", html=True
    ),
    Hostile(
        "dashboard dates swapped and garbled",
        "GET",
        "/review/dashboard?date_from=2030-01-01&date_to=2000-01-01&x=%3Cscript%3E",
        200,
        role="trainer",
        html=True,
    ),
    Hostile(
        "case page saved a superscript digit", "GET", "/review/case/{case}?saved=%C2%B2", 200, role="trainer", html=True
    ),
    Hostile(
        "case page saved of 5000 digits",
        "GET",
        "/review/case/{case}?saved=" + "9" * 5000,
        200,
        role="trainer",
        html=True,
    ),
    Hostile(
        "case page error HTML",
        "GET",
        "/review/case/{case}?error=%3Cscript%3Ealert(1)%3C/script%3E",
        200,
        role="trainer",
        html=True,
        raw_absent=(SCRIPT,),
        present=(SCRIPT_ESCAPED,),
    ),
    Hostile(
        "case page path traversal",
        "GET",
        "/review/case/..%2F..%2Fetc%2Fpasswd",
        404,
        role="trainer",
        html=True,
        present=("没有这个案件",),
    ),
    Hostile(
        "case page HTML id",
        "GET",
        "/review/case/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        404,
        role="trainer",
        html=True,
        raw_absent=(SCRIPT,),
    ),
    Hostile("case page unknown id", "GET", "/review/case/no-such-case-here", 404, role="trainer", html=True),
    Hostile("agent on the review list", "GET", "/review", 403, html=True, present=("无权访问",)),
    Hostile("agent on the dashboard", "GET", "/review/dashboard", 403, "forbidden"),
    Hostile("agent on a review case", "GET", "/review/case/{case}", 403, html=True, present=("无权访问",)),
    Hostile(
        "anonymous review", "GET", "/review?q=x", 302, role=None, html=True, location=r"/login\?next=/review%3Fq%3Dx"
    ),
]


@pytest.mark.parametrize("spec", REVIEW_PAGES, ids=ids(REVIEW_PAGES))
def test_review_pages_answer_hostile_queries_safely(ctx, spec):
    run_refused(ctx, spec)


def correction_error(reply: requests.Response) -> str:
    location = reply.headers.get("Location", "")
    assert location.startswith(f"/review/case/{CASE}?error="), location
    return parse_qs(urlsplit(location).query)["error"][0]


LABELS = "请从列表中选择意图和情绪。"
NOT_A_TURN = "这条记录不是本案件的客户发言。"
CORRECT = "/review/case/{case}/correct"
REVIEW_POSTS = [
    (
        Hostile(
            "intent outside the contract",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "{user_event}", "intent": "drop_tables", "emotion": "angry"},
        ),
        LABELS,
    ),
    (
        Hostile(
            "emotion outside the contract",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "{user_event}", "intent": "atm_malfunction", "emotion": "rage"},
        ),
        LABELS,
    ),
    (
        Hostile(
            "intent HTML",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "{user_event}", "intent": SCRIPT, "emotion": "calm"},
        ),
        LABELS,
    ),
    (Hostile("labels missing", "POST", CORRECT, 303, role="trainer", data={"event_id": "{user_event}"}), LABELS),
    (
        Hostile(
            "event of the bot, not the customer",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "{bot_event}", "intent": "atm_malfunction", "emotion": "calm"},
        ),
        NOT_A_TURN,
    ),
    (
        Hostile(
            "event id a superscript digit",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "²", "intent": "atm_malfunction", "emotion": "calm"},
        ),
        NOT_A_TURN,
    ),
    (
        Hostile(
            "event id of 30 digits",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "9" * 30, "intent": "atm_malfunction", "emotion": "calm"},
        ),
        NOT_A_TURN,
    ),
    (
        Hostile(
            "event id of 5000 digits",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "9" * 5000, "intent": "atm_malfunction", "emotion": "calm"},
        ),
        NOT_A_TURN,
    ),
    (
        Hostile(
            "event id SQL injection",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data={"event_id": "1 OR 1=1", "intent": "atm_malfunction", "emotion": "calm"},
        ),
        NOT_A_TURN,
    ),
    (
        Hostile(
            "non-UTF-8 form",
            "POST",
            CORRECT,
            303,
            role="trainer",
            data=b"event_id=\xff&intent=\xfe",
            content_type="application/x-www-form-urlencoded",
        ),
        NOT_A_TURN,
    ),
    (
        Hostile(
            "correction without CSRF token",
            "POST",
            CORRECT,
            403,
            role="trainer",
            html=True,
            headers={"X-CSRF-Token": None},
            present=("页面已过期",),
            data={"event_id": "{user_event}", "intent": "atm_malfunction", "emotion": "angry"},
        ),
        None,
    ),
    (
        Hostile(
            "correction with forged CSRF token",
            "POST",
            CORRECT,
            403,
            role="trainer",
            html=True,
            headers={"X-CSRF-Token": None},
            data={"event_id": "{user_event}", "intent": "atm_malfunction", "emotion": "angry", "csrf_token": "forged"},
        ),
        None,
    ),
    (
        Hostile(
            "correction on an invalid case id",
            "POST",
            "/review/case/..%2Fetc/correct",
            404,
            role="trainer",
            html=True,
            data={"event_id": "{user_event}", "intent": "atm_malfunction", "emotion": "angry"},
        ),
        None,
    ),
    (
        Hostile(
            "correction by an agent",
            "POST",
            CORRECT,
            403,
            "forbidden",
            data={"event_id": "{user_event}", "intent": "atm_malfunction", "emotion": "angry"},
        ),
        None,
    ),
    (
        Hostile(
            "correction by nobody",
            "POST",
            CORRECT,
            401,
            "unauthorized",
            role=None,
            data={"event_id": "{user_event}", "intent": "atm_malfunction", "emotion": "angry"},
        ),
        None,
    ),
    (
        Hostile(
            "export without CSRF token",
            "POST",
            "/review/export",
            403,
            role="trainer",
            html=True,
            headers={"X-CSRF-Token": None},
        ),
        None,
    ),
    (
        Hostile(
            "export with forged CSRF token",
            "POST",
            "/review/export",
            403,
            role="trainer",
            headers={"X-CSRF-Token": "forged"},
        ),
        None,
    ),
    (Hostile("export by an agent", "POST", "/review/export", 403, "forbidden"), None),
    (Hostile("export by nobody", "POST", "/review/export", 401, "unauthorized", role=None), None),
]


@pytest.mark.parametrize("spec, message", REVIEW_POSTS, ids=[c[0].name for c in REVIEW_POSTS])
def test_review_posts_refuse_labels_outside_the_contract_and_change_nothing(ctx, servers, spec, message):
    out = Path(servers.stack.extra_env["CORRECTIONS_DIR"])
    files = sorted(out.glob("*")) if out.exists() else []
    reply = run_refused(ctx, spec)
    if message is not None:
        assert correction_error(reply) == message
    assert (sorted(out.glob("*")) if out.exists() else []) == files


def test_the_same_correction_with_contract_labels_is_saved(ctx, web):
    """The control for the refused corrections above: a valid one changes the corrections table."""
    from deescalate.db.models import Correction

    trainer = ctx.session("trainer")
    reply = trainer.post(
        f"{web.url}/review/case/{CASE}/correct",
        allow_redirects=False,
        timeout=30,
        data={"event_id": ctx.values["user_event"], "intent": "atm_malfunction", "emotion": "furious"},
    )
    assert reply.status_code == 303
    assert (
        reply.headers["Location"]
        == f"/review/case/{CASE}?saved={ctx.values['user_event']}#turn-{ctx.values['user_event']}"
    )
    with web.sessions() as session:
        row = session.query(Correction).filter_by(case_id=CASE, event_id=int(ctx.values["user_event"])).one()
        assert row.trainer == web.username("trainer")


# ---------------------------------------------------------------- chat widget


@pytest.fixture(scope="module")
def plain_widget(web: Any) -> str:
    reply = requests.get(f"{web.url}/widget.js", timeout=10)
    assert reply.status_code == 200
    return reply.text


def widget_settings(script: str) -> Dict[str, Any]:
    literal = re.search(r"mountChatWidget\(io, (\{.*\}), script\);", script).group(1)
    assert "<" not in literal and ">" not in literal and "\u2028" not in literal
    return json.loads(literal)


WIDGET_QUERIES = [
    "callback=%3Cscript%3Ealert(1)%3C/script%3E",
    "a=1&a=2&&&=&%zz",
    "x=%00%ff%fe",
    "config=" + "%7B" * 2000,
    "socketUrl=https://evil.example&title=%3Cb%3E",
]


@pytest.mark.parametrize("query", WIDGET_QUERIES)
def test_widget_script_ignores_odd_query_strings(web, plain_widget, query):
    reply = requests.get(f"{web.url}/widget.js?{query}", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/javascript")
    assert reply.text == plain_widget
    assert "evil.example" not in widget_settings(reply.text)["socketUrl"]


def test_widget_script_keeps_a_hostile_host_header_inside_its_json(web):
    host = 'evil.example"</script><script>alert(1)</script>\u2028'.encode("utf-8").decode("latin-1")
    reply = requests.get(f"{web.url}/widget.js", headers={"Host": host}, timeout=10)
    assert reply.status_code in (200, 400)
    if reply.status_code == 200:
        assert "</script><script>alert(1)" not in reply.text
        settings = widget_settings(reply.text)
        assert settings["cssUrl"].endswith("/static/widget/widget.css")


@pytest.mark.parametrize(
    "query, headers",
    [
        ("%3Cscript%3Ealert(1)%3C/script%3E=1", {}),
        ("widget_src=javascript:alert(1)", {}),
        ("", {"Host": 'evil.example"><script>alert(1)</script>'}),
    ],
    ids=["HTML query", "javascript source", "hostile Host"],
)
def test_demo_page_never_echoes_html(web, query, headers):
    reply = requests.get(f"{web.url}/demo-bank?{query}", headers=headers, timeout=10)
    assert reply.status_code in (200, 400)
    assert SCRIPT not in reply.text and "javascript:alert" not in reply.text
    if reply.status_code == 200:
        assert re.search(r'<script src="[^"]*/widget\.js"', reply.text)


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2F..%2Fauth.py",
        "/static/%2e%2e/%2e%2e/auth.py",
        "/static/widget/..%2F..%2F..%2F.env",
        "/static/%2e%2e/app.py",
        "/static/%00",
        "/static/widget",
        "/static/widget/",
        "/static/base.css/x",
        "/static/" + "a" * 300,
        "/static/%ff%fe",
    ],
    ids=[
        "encoded dot-dot",
        "dot-dot",
        "dot-dot to .env",
        "dot-dot to a real file",
        "NUL",
        "directory",
        "directory with slash",
        "file as directory",
        "300-character name",
        "invalid UTF-8",
    ],
)
def test_static_files_do_not_leave_their_folder(web, path):
    reply = requests.get(f"{web.url}{path}", timeout=10)
    assert reply.status_code == 404
    assert "def hash_password" not in reply.text and "WEB_SECRET" not in reply.text


# ---------------------------------------------------------------- afterwards


def test_web_server_is_healthy_after_the_batch(web):
    assert requests.get(f"{web.url}/login", timeout=10).status_code == 200
    session = logged_in_session(web, "agent")
    assert session.get(f"{web.url}/console/api/queue", timeout=10).status_code == 200
