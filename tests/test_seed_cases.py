"""Every situation of the training material, played turn by turn through the real servers.

The cases are in tests/data/seed_cases.yml. Each turn goes through the assist
API (NLU, action server, knowledge base) and is checked: the restate fits the
scenario, the choices fit the facts the customer gave, the approver is the
right one for the domain and the amount the company would bear, and the
knowledge panel carries its basis. The same turns are then said in the chat
widget's channel, and nothing of the panel, the bases or the approvers' titles
reaches the customer.
"""

import threading
import time
import uuid
from typing import Any, Dict, List, Optional

import pytest
import socketio
import yaml

from deescalate.tools.build import ROOT

CASES = yaml.safe_load((ROOT / "tests" / "data" / "seed_cases.yml").read_text(encoding="utf-8"))["cases"]
SEED_SITUATIONS = (
    "separate a shouting customer from the crowd, find the key person",
    "cool-down or hand-over to a colleague",
    "an elderly customer without ID",
    "a proxy signature, or a child calling for the policyholder",
    "crowd safety during a metro delay",
    "a professional complainer",
)


def test_the_cases_cover_every_seed_situation_with_at_least_twenty_cases():
    assert len(CASES) >= 20
    covered = {case["situation"] for case in CASES}
    assert set(SEED_SITUATIONS) <= covered
    assert all(len(case["turns"]) >= 1 and case["turns"][0].get("text") for case in CASES)


def latest_choices(answers: List[Dict[str, Any]]) -> Optional[List[Dict[str, Any]]]:
    """The choice cards most recently offered in the case (offers are not repeated)."""
    for answer in reversed(answers):
        for suggestion in answer["suggestions"]:
            if suggestion["kind"] == "choices":
                return suggestion["options"]
    return None


def check_turn(case: Dict[str, Any], answers: List[Dict[str, Any]], expect: Dict[str, Any]) -> None:
    answer = answers[-1]
    where = f"{case['id']} turn {len(answers)}"
    texts = [s["text"] for s in answer["suggestions"]]
    restates = [s["text"] for s in answer["suggestions"] if s.get("restate")]
    if "restate" in expect:
        assert any(word in text for text in restates for word in expect["restate"]), (where, restates, texts)
    for word in expect.get("restate_not", []):
        assert not any(word in text for text in texts), (where, word, texts)
    if "choices" in expect or "choices_not" in expect:
        options = latest_choices(answers)
        assert options, (where, "no choices offered", texts)
        offered = {o["id"]: o for o in options}
        for choice in expect.get("choices", []):
            assert choice in offered and offered[choice]["fits"], (where, choice, list(offered))
        for choice in expect.get("choices_not", []):
            assert choice not in offered, (where, choice, list(offered))
    if "approver" in expect:
        check_approver(where, answer, latest_choices(answers) or [], expect)
    if "card_approver" in expect:
        offered = {o["id"]: o for o in latest_choices(answers) or []}
        for choice, (role, borne) in expect["card_approver"].items():
            assert offered[choice]["approver"] == role and offered[choice]["borne"] == borne, (where, offered[choice])
    if "first_question_asks" in expect:
        questions = [s for s in answer["suggestions"] if s["kind"] == "question"]
        assert questions and questions[0].get("asks") == expect["first_question_asks"], (where, questions)
    if "situation" in expect:
        assert expect["situation"] in answer["analysis"]["situations"], (where, answer["analysis"]["situations"])
    if "basis" in expect:
        bases = [item["basis"] for item in answer["knowledge"]]
        assert any(expect["basis"] in basis for basis in bases), (where, bases)
    if "knowledge_kind" in expect:
        assert expect["knowledge_kind"] in {item["kind"] for item in answer["knowledge"]}, where


def check_approver(where: str, answer: Dict[str, Any], options: List[Dict[str, Any]], expect: Dict[str, Any]) -> None:
    wanted = expect["approver"]
    if wanted["role"] == "none":
        for choice in expect.get("choices", []):
            assert next(o for o in options if o["id"] == choice)["approver"] == "none", where
        return
    approval = answer["analysis"]["approval"]
    assert approval, (where, "no approval in the analysis")
    assert approval["role"] == wanted["role"] and approval["domain"] == answer["analysis"]["domain"], (where, approval)
    assert approval["borne"] == wanted["borne"], (where, approval)
    assert approval["customer_phrase"] == "这需要向上级申请审批"
    alert = next(a for a in answer["alerts"] if a["kind"] == "approval")
    assert approval["role_label"] in alert["text"]


class WidgetChat:
    """A customer in the chat widget's channel (Socket.IO), as the browser widget talks to Rasa."""

    def __init__(self, url: str) -> None:
        self.client = socketio.Client(reconnection=False)
        self.received: List[Dict[str, Any]] = []
        self.session: Optional[str] = None
        self.last_message = 0.0
        confirmed = threading.Event()

        @self.client.on("session_confirm")
        def on_confirm(session_id: Any) -> None:
            self.session = session_id if isinstance(session_id, str) else session_id.get("session_id")
            confirmed.set()

        @self.client.on("bot_uttered")
        def on_bot(message: Dict[str, Any]) -> None:
            self.received.append(message)
            self.last_message = time.monotonic()

        self.client.connect(url, socketio_path="/socket.io/", wait_timeout=30)
        self.client.emit("session_request", {"session_id": None})
        assert confirmed.wait(30), "the widget channel did not confirm a session"

    def say(self, text: str, timeout: float = 60.0) -> List[Dict[str, Any]]:
        before = len(self.received)
        self.client.emit("user_uttered", {"message": text, "session_id": self.session})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) > before and time.monotonic() - self.last_message > 1.5:
                break
            time.sleep(0.1)
        return self.received[before:]

    def close(self) -> None:
        self.client.disconnect()


def check_widget_shows_none_of_it(servers: Any, kb: Any, case: Dict[str, Any], answers: List[Dict[str, Any]]) -> None:
    chat = WidgetChat(servers.stack.rasa_url)
    try:
        shown: List[Dict[str, Any]] = []
        for turn in case["turns"]:
            reply = chat.say(turn["text"])
            assert reply, f"{case['id']}: the widget said nothing to '{turn['text']}'"
            shown += reply
    finally:
        chat.close()
    words = " ".join(
        [m.get("text") or "" for m in shown]
        + [b.get("title", "") + b.get("payload", "") for m in shown for b in m.get("buttons") or []]
    )
    assert not any("knowledge" in m or "custom" in m or "basis" in m for m in shown), shown
    secret = {item["text"] for answer in answers for item in answer["knowledge"]}
    secret |= {item["basis"] for answer in answers for item in answer["knowledge"]}
    leaked = sorted(s for s in secret if s and s in words)
    assert leaked == [], (case["id"], leaked)
    titles = set(kb.approval["roles"].values())
    for message in shown:  # approval talk names no title: the customer hears the customer phrase
        if "审批" in (message.get("text") or ""):
            assert not any(title in message["text"] for title in titles), message
    for answer in answers:
        for option in latest_choices([answer]) or []:
            assert option["means"] not in words and option["cost"] not in words, (case["id"], option["id"])


def _param(case: Dict[str, Any]) -> Any:
    """A case the product does not yet pass is marked with its `known_gap` (xfail, not hidden)."""
    gap = case.get("known_gap")
    marks = [pytest.mark.xfail(reason=gap, strict=False)] if gap else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_seed_case_turn_by_turn(servers: Any, kb: Any, case: Dict[str, Any]) -> None:
    sender = f"seed-{case['id'].replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    answers: List[Dict[str, Any]] = []
    for turn in case["turns"]:
        reply = servers.assist(sender, turn["text"])
        assert reply.status_code == 200, reply.text
        answers.append(reply.json())
        answer = answers[-1]
        assert answer["knowledge"], (case["id"], "the knowledge panel is empty")
        assert all(item["basis"] and item["source"].startswith("scripts_kb/") for item in answer["knowledge"])
        check_turn(case, answers, turn.get("expect") or {})
    first = next(a for a in answers if a["analysis"].get("cause"))
    assert (first["analysis"]["cause"], first["analysis"]["domain"]) == (case["cause"], case["domain"]), case["id"]
    titles = set(kb.approval["roles"].values())
    for answer in answers:
        for suggestion in answer["suggestions"]:
            if "审批" in suggestion["text"]:  # approval talk names no title: the customer hears the phrase
                assert not any(title in suggestion["text"] for title in titles), suggestion
    check_widget_shows_none_of_it(servers, kb, case, answers)
