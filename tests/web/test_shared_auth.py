"""Two web-server instances on loopback, one database: what one instance learns, the other knows.

No Rasa is needed: the login, the lockout, the sessions, the audit trail and
the login rate limit live in the web server and the database.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest
import requests

from deescalate.db.migrate import upgrade
from deescalate.db.models import AccessLog, Case
from deescalate.db.session import session_factory
from deescalate.tools.build import ROOT
from deescalate.tools.stack import free_port
from deescalate.web.auth import create_user

PASSWORD = "shared-password-1"
ROLES = ("agent", "supervisor", "trainer", "admin")


class WebInstance:
    def __init__(self, db_url: str, workdir: Path, env: Optional[Dict[str, str]] = None) -> None:
        self.db_url, self.workdir, self.extra = db_url, workdir, env or {}
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WebInstance":
        env = {
            **os.environ,
            "DATABASE_URL": self.db_url,
            "WEB_PORT": str(self.port),
            "PYTHONPATH": str(ROOT),
            "WEB_SECRET": "shared-secret-of-both-instances",
            "RASA_URL": "http://127.0.0.1:9",
            **self.extra,
        }
        env.pop("REDIS_URL", None)
        log = (self.workdir / f"web-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deescalate.web.app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.workdir / f"web-{self.port}.log").read_text()[-2000:]
            try:
                if requests.get(f"{self.url}/login", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"web server on {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'web.db'}"
    upgrade(url)
    with session_factory(url)() as session:
        for role in ROLES:
            create_user(session, f"{role}-s", PASSWORD, role)
        for name in ("locked-s", "leaver-s", "restart-s"):
            create_user(session, name, PASSWORD, "agent")
        session.add(Case(case_id="case-audit-1", channel="hotline", status="open", demand=[], escalation=[]))
        session.commit()
    return url


@pytest.fixture(scope="module")
def pair(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[List[WebInstance]]:
    workdir = tmp_path_factory.mktemp("logs")
    instances = [WebInstance(database, workdir).start(), WebInstance(database, workdir).start()]
    yield instances
    for instance in instances:
        instance.stop()


def csrf_of(session: requests.Session, url: str) -> str:
    page = session.get(f"{url}/login", timeout=10)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def try_login(session: requests.Session, url: str, name: str, password: str) -> requests.Response:
    return session.post(
        f"{url}/login",
        timeout=30,
        allow_redirects=False,
        data={"username": name, "password": password, "csrf_token": csrf_of(session, url)},
    )


def signed_in(session: requests.Session, url: str) -> bool:
    return session.get(f"{url}/console/api/queue", timeout=10).status_code == 200


def test_lockout_counted_on_one_instance_holds_on_the_other_and_after_a_restart(pair, database, tmp_path):
    first, second = pair
    session = requests.Session()
    for attempt in range(5):  # 3 wrong guesses on one instance, 2 on the other
        target = first if attempt < 3 else second
        assert try_login(session, target.url, "locked-s", f"guess-{attempt}").status_code == 401
    for instance in pair:
        reply = try_login(requests.Session(), instance.url, "locked-s", PASSWORD)
        assert reply.status_code == 429 and "登录失败次数过多" in reply.text
    fresh = WebInstance(database, tmp_path).start()  # a restarted instance remembers
    try:
        assert try_login(requests.Session(), fresh.url, "locked-s", PASSWORD).status_code == 429
    finally:
        fresh.stop()
    other = requests.Session()  # the lock is the name's, not everyone's
    assert try_login(other, second.url, "agent-s", PASSWORD).status_code == 302
    assert signed_in(other, first.url)


def test_a_session_from_one_instance_works_on_the_other_and_a_logout_ends_it_on_both(pair):
    first, second = pair
    session = requests.Session()
    assert try_login(session, first.url, "leaver-s", PASSWORD).status_code == 302
    cookie = session.cookies.get("dx_session")
    assert signed_in(session, first.url) and signed_in(session, second.url)
    page = session.get(f"{second.url}/console", headers={"Accept": "text/html"}, timeout=10)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    reply = session.post(f"{second.url}/logout", headers={"X-CSRF-Token": token}, allow_redirects=False, timeout=10)
    assert reply.status_code == 302
    replayed = requests.Session()  # the old cookie, kept by an attacker
    replayed.cookies.set("dx_session", cookie)
    assert not signed_in(replayed, first.url) and not signed_in(replayed, second.url)


def test_a_session_survives_a_restart_of_every_instance(database, tmp_path):
    before = WebInstance(database, tmp_path).start()
    session = requests.Session()
    try:
        assert try_login(session, before.url, "restart-s", PASSWORD).status_code == 302
    finally:
        before.stop()
    after = WebInstance(database, tmp_path).start()
    try:
        assert signed_in(session, after.url)
    finally:
        after.stop()


def audit_rows(database: str, **filters: str) -> List[AccessLog]:
    with session_factory(database)() as session:
        return session.query(AccessLog).filter_by(**filters).order_by(AccessLog.id).all()


def test_each_view_of_a_case_transcript_or_dashboard_is_in_the_audit_trail(pair, database):
    first, second = pair
    trainer, admin = requests.Session(), requests.Session()
    assert try_login(trainer, first.url, "trainer-s", PASSWORD).status_code == 302
    assert try_login(admin, second.url, "admin-s", PASSWORD).status_code == 302
    html = {"Accept": "text/html"}
    assert trainer.get(f"{first.url}/review/case/case-audit-1", headers=html, timeout=10).status_code == 200
    assert trainer.get(f"{second.url}/review/dashboard", headers=html, timeout=10).status_code == 200
    assert admin.get(f"{second.url}/console/case/case-audit-1", headers=html, timeout=10).status_code == 200
    refused = trainer.get(f"{first.url}/console/case/case-audit-1", headers=html, timeout=10)
    assert refused.status_code == 403  # a refused view is no view

    transcript = audit_rows(database, username="trainer-s", action="transcript")
    assert [(r.role, r.target, r.address, r.path) for r in transcript] == [
        ("trainer", "case-audit-1", "127.0.0.1", "/review/case/case-audit-1")
    ]
    assert [r.role for r in audit_rows(database, username="trainer-s", action="dashboard")] == ["trainer"]
    assert [r.target for r in audit_rows(database, username="admin-s", action="case")] == ["case-audit-1"]
    assert audit_rows(database, username="trainer-s", action="case") == []

    page = admin.get(f"{first.url}/admin/audit", params={"case": "case-audit-1"}, headers=html, timeout=10)
    assert page.status_code == 200
    assert "trainer-s" in page.text and "admin-s" in page.text and "/review/case/case-audit-1" in page.text
    assert audit_rows(database, username="admin-s", action="audit")  # reading the trail is recorded too
    assert trainer.get(f"{first.url}/admin/audit", headers=html, timeout=10).status_code == 403


def test_no_web_route_edits_or_deletes_audit_entries(pair, database):
    admin = requests.Session()
    assert try_login(admin, pair[0].url, "admin-s", PASSWORD).status_code == 302
    token = re.search(
        r'<meta name="csrf-token" content="([^"]+)"',
        admin.get(f"{pair[0].url}/admin/audit", headers={"Accept": "text/html"}, timeout=10).text,
    ).group(1)
    before = len(audit_rows(database))
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        reply = admin.request(method, f"{pair[0].url}/admin/audit", headers={"X-CSRF-Token": token}, timeout=10)
        assert reply.status_code == 405, method
    from deescalate.web.app import create_app

    app = create_app("audit_routes_check")
    writers = [
        route.path
        for route in app.router.routes
        if "audit" in route.path and set(route.methods) - {"GET", "HEAD", "OPTIONS"}
    ]
    assert writers == []
    assert len(audit_rows(database)) == before  # the refused writes left no entry and changed none


def test_login_rate_limit_per_address_answers_429_with_retry_after(database, tmp_path):
    limits = tmp_path / "limits.yml"
    limits.write_text(
        "limits:\n  login_address: {count: 4, seconds: 60}\n  login_name: {count: 100, seconds: 60}\n", encoding="utf-8"
    )
    instance = WebInstance(database, tmp_path, {"RATE_LIMITS_FILE": str(limits)}).start()
    try:
        session = requests.Session()
        statuses = [try_login(session, instance.url, f"nobody-{n}", "wrong-password").status_code for n in range(4)]
        assert statuses == [401] * 4  # different names: no lockout, only the address limit
        reply = try_login(session, instance.url, "agent-s", PASSWORD)
        assert reply.status_code == 429 and "登录尝试过于频繁" in reply.text
        assert 1 <= int(reply.headers["Retry-After"]) <= 15
        assert not signed_in(session, instance.url)
    finally:
        instance.stop()
