"""Shared fixtures: the real servers, started once per test session.

The session trains (or reuses from the cache) the model for the current data,
starts the action server and Rasa on free ports with a fresh SQLite tracker
store, and stops both at the end.
"""
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests

from deescalate.tools.build import ROOT
from deescalate.kb import KnowledgeBase, load_kb
from deescalate.tools.stack import Stack, free_port

KB_DIR = ROOT / "scripts_kb"


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_kb(KB_DIR)


@pytest.fixture()
def kb_copy(tmp_path: Path) -> Path:
    """A scratch copy of scripts_kb/ that a test may break."""
    target = tmp_path / "scripts_kb"
    shutil.copytree(KB_DIR, target)
    return target


class Servers:
    def __init__(self, stack: Stack, db_path: Path) -> None:
        self.stack = stack
        self.db_path = db_path
        self.token = stack.token

    @property
    def assist_url(self) -> str:
        return f"{self.stack.rasa_url}/webhooks/assist/webhook"

    def assist(self, sender: str, message: Any, token: Optional[str] = None) -> requests.Response:
        return requests.post(self.assist_url, json={"sender": sender, "message": message},
                             headers={"Authorization": f"Bearer {token or self.token}"}, timeout=60)

    def post_raw(self, body: bytes, token: Optional[str] = None) -> requests.Response:
        return requests.post(self.assist_url, data=body, timeout=60,
                             headers={"Authorization": f"Bearer {token or self.token}",
                                      "Content-Type": "application/json"})

    def parse(self, text: str) -> Dict[str, Any]:
        reply = requests.post(f"{self.stack.rasa_url}/model/parse", params={"token": self.token},
                              json={"text": text}, timeout=60)
        reply.raise_for_status()
        return reply.json()

    def stored_events(self, sender: str) -> list:
        with sqlite3.connect(self.db_path) as db:
            rows = db.execute(
                "SELECT type_name, data FROM events WHERE sender_id = ? ORDER BY id", (sender,)
            ).fetchall()
        return [(type_name, json.loads(data)) for type_name, data in rows]


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    workdir = tmp_path_factory.mktemp("stack")
    db_path = workdir / "tracker.db"
    stack = Stack(rasa_port=free_port(), action_port=free_port(), db_url=f"sqlite:///{db_path}",
                  token="test-token-" + workdir.name, log_dir=workdir / "log",
                  web_port=free_port(), extra_env={"WEB_SECRET": "test-web-secret-" + workdir.name,
                                            # trainers' exports go here, never into data/nlu
                                            "CORRECTIONS_DIR": str(workdir / "corrections")})
    stack.start()
    try:
        yield Servers(stack, db_path)
    finally:
        stack.stop()


# ---------------------------------------------------------------- web server and browser

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Web:
    """The test stack's web server, with one account per role (password PASSWORD)."""

    PASSWORD = "test-password-1"
    ROLES = ("agent", "supervisor", "trainer", "admin")

    def __init__(self, servers: Servers) -> None:
        from deescalate.db.session import session_factory
        self.servers = servers
        self.url = servers.stack.web_url
        self.sessions = session_factory(servers.stack.db_url)

    def username(self, role: str) -> str:
        return f"{role}1"

    def add_users(self) -> None:
        from deescalate.db.models import User
        from deescalate.web.auth import create_user
        with self.sessions() as session:
            for role in self.ROLES:
                if session.query(User).filter_by(username=self.username(role)).first() is None:
                    create_user(session, self.username(role), self.PASSWORD, role,
                                display_name=f"测试{role}")
            session.commit()

    def add_case(self, case_id: str, **fields: Any) -> None:
        """A case row as the tracker store would write it (channel hotline, status open)."""
        from deescalate.db.models import Case
        with self.sessions() as session:
            session.merge(Case(case_id=case_id, **{"channel": "hotline", "status": "open",
                                                   "demand": [], "escalation": [], **fields}))
            session.commit()

    def case(self, case_id: str) -> Any:
        from deescalate.db.models import Case
        with self.sessions() as session:
            return session.get(Case, case_id)

    def wait_for_case(self, case_id: str, timeout: float = 30.0, **expected: Any) -> Any:
        """The case row once the tracker store has written it (with `expected` field values)."""
        deadline = time.monotonic() + timeout
        case = None
        while time.monotonic() < deadline:
            case = self.case(case_id)
            if case is not None and all(getattr(case, k) == v for k, v in expected.items()):
                return case
            time.sleep(0.3)
        raise AssertionError(f"case {case_id} not as expected {expected}: {case and case.as_dict()}")

    def login(self, page: Any, role: str, next_path: str = "") -> None:
        """Log in through the real form in a Playwright page."""
        page.goto(f"{self.url}/login" + (f"?next={next_path}" if next_path else ""))
        page.fill("input[name=username]", self.username(role))
        page.fill("input[name=password]", self.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()


@pytest.fixture(scope="session")
def web(servers: Servers) -> Web:
    web = Web(servers)
    web.add_users()
    return web


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page, Chinese locale."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 960})
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def post_json(url: str, token: str, body: Dict[str, Any]) -> requests.Response:
    return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
