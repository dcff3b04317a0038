"""Shared fixtures: the real servers, started once per test session, and the test tiers.

The session trains (or reuses from the cache) the model for the current data,
starts the action server and Rasa on free ports with a fresh SQLite tracker
store, and stops both at the end.

Tiers (markers registered in pytest.ini) follow from the fixtures a test asks
for, so a new test lands in the right one without ceremony:

- `stack`: asks for `servers`, `web` or `trained_model` (servers or the model);
- `browser`: asks for `browser` or `page` (also `stack`);
- `scale`: the scale-out load test (tests/test_scale.py marks itself).

`make test-fast` runs what carries none of them. Nothing is written into the
working tree: scratch files go to pytest's temporary folders and screenshots
to $TEST_ARTIFACTS (default: a folder under the system's temporary directory).
"""

import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests

from deescalate.kb import KnowledgeBase, load_kb
from deescalate.tools.build import ROOT
from deescalate.tools.stack import Stack, free_port

KB_DIR = ROOT / "scripts_kb"
SUITE_RATE_LIMITS = Path(__file__).resolve().parent / "data" / "ratelimit_suite.yml"

# Property tests state their full example count; `make test-fast` runs a tenth of it
# (PROPERTY_EXAMPLES_SCALE=0.1), `make test` and CI the full count.
PROPERTY_EXAMPLES_SCALE = float(os.environ.get("PROPERTY_EXAMPLES_SCALE") or 1)


def examples(count: int) -> int:
    """A property test's example count, scaled for the tier being run (at least 10)."""
    return max(10, round(count * PROPERTY_EXAMPLES_SCALE))


STACK_FIXTURES = {"servers", "web", "trained_model"}
BROWSER_FIXTURES = {"browser", "page"}


def pytest_collection_modifyitems(items: list) -> None:
    """Put every test in its tier by the fixtures it uses (directly or through other fixtures),
    and run the browser tests last: Playwright's session-wide browser keeps an event loop
    running in the main thread, where asyncio.run() in a later test would fail."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if used & (STACK_FIXTURES | BROWSER_FIXTURES):
            item.add_marker(pytest.mark.stack)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The model for the current data, trained once or taken from the cache."""
    from deescalate.tools.build import ensure_model

    return ensure_model()


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
        return requests.post(
            self.assist_url,
            json={"sender": sender, "message": message},
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=60,
        )

    def post_raw(self, body: bytes, token: Optional[str] = None) -> requests.Response:
        return requests.post(
            self.assist_url,
            data=body,
            timeout=60,
            headers={"Authorization": f"Bearer {token or self.token}", "Content-Type": "application/json"},
        )

    def parse(self, text: str) -> Dict[str, Any]:
        reply = requests.post(
            f"{self.stack.rasa_url}/model/parse", params={"token": self.token}, json={"text": text}, timeout=60
        )
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
    stack = Stack(
        rasa_port=free_port(),
        action_port=free_port(),
        db_url=f"sqlite:///{db_path}",
        token="test-token-" + workdir.name,
        log_dir=workdir / "log",
        web_port=free_port(),
        extra_env={
            "WEB_SECRET": "test-web-secret-" + workdir.name,
            # trainers' exports go here, never into data/nlu
            "CORRECTIONS_DIR": str(workdir / "corrections"),
            "RATE_LIMITS_FILE": str(SUITE_RATE_LIMITS),
        },
    )
    stack.start()
    try:
        yield Servers(stack, db_path)
    finally:
        stack.stop()


# ---------------------------------------------------------------- web server and browser

# Screenshots are wanted as artifacts, but outside the working tree.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "deescalate-test-artifacts")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
                    create_user(session, self.username(role), self.PASSWORD, role, display_name=f"测试{role}")
            session.commit()

    def add_case(self, case_id: str, **fields: Any) -> None:
        """A case row as the tracker store would write it (channel hotline, status open)."""
        from deescalate.db.models import Case

        with self.sessions() as session:
            session.merge(
                Case(
                    case_id=case_id,
                    **{"channel": "hotline", "status": "open", "demand": [], "escalation": [], **fields},
                )
            )
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


def artifact(name: str) -> Path:
    """Where the screenshot `name` goes: $TEST_ARTIFACTS or the temporary default, never the working tree."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    path = artifact(name)
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ARTIFACTS.is_dir() and any(ARTIFACTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}")


def post_json(url: str, token: str, body: Dict[str, Any]) -> requests.Response:
    return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60)
