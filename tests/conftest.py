"""Shared fixtures: the real servers, started once per test session.

The session trains (or reuses from the cache) the model for the current data,
starts the action server and Rasa on free ports with a fresh SQLite tracker
store, and stops both at the end.
"""
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests

from deescalate.build import ROOT
from deescalate.kb import KnowledgeBase, load_kb
from deescalate.stack import Stack, free_port

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
                  token="test-token-" + workdir.name, log_dir=workdir / "log")
    stack.start()
    try:
        yield Servers(stack, db_path)
    finally:
        stack.stop()
