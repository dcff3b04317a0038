"""action_assist driven by CollectingDispatcher and a tracker fixture."""

import asyncio
import json
from pathlib import Path

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.assist import ActionAssist

FIXTURES = Path(__file__).parent / "fixtures"


def load_tracker(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def run_action(tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAssist().run(dispatcher, tracker, {}))
    return dispatcher, events


def test_action_sends_one_assist_payload_and_sets_slots():
    dispatcher, events = run_action(load_tracker("tracker_mis_selling.json"))
    assert len(dispatcher.messages) == 1
    payload = dispatcher.messages[0]["custom"]["assist"]
    analysis = payload["analysis"]
    assert analysis["intent"]["name"] == "mis_selling"
    assert analysis["domain"] == "insurance"
    assert analysis["escalation"] == ["regulator"]
    assert analysis["risk"] == "high"
    assert analysis["amount"] == 20000
    assert analysis["approval"]["role"] == "chief_financial_officer"  # 10,000 < 20,000 <= 50,000
    assert payload["suggestions"][0]["kind"] == "escalation"
    assert {"supervisor", "approval"} <= {a["kind"] for a in payload["alerts"]}
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["cause"] == "mis_selling"
    assert slots["emotion_history"] == ["furious"]
    assert slots["suggested_ids"] == [s["id"] for s in payload["suggestions"]]


def test_second_turn_continues_from_the_slots():
    tracker = load_tracker("tracker_mis_selling.json")
    _, events = run_action(tracker)
    data = json.loads((FIXTURES / "tracker_mis_selling.json").read_text(encoding="utf-8"))
    data["slots"].update({e["name"]: e["value"] for e in events if e["event"] == "slot"})
    data["latest_message"] = {
        "text": "就按第一个办吧",
        "intent": {"name": "choose_option", "confidence": 0.9},
        "emotion": {"name": "calm", "confidence": 0.7},
        "entities": [],
    }
    dispatcher, _ = run_action(Tracker.from_dict(data))
    analysis = dispatcher.messages[0]["custom"]["assist"]["analysis"]
    assert analysis["stage"] == "agree"
    assert analysis["emotion_trend"] == "falling"
    assert analysis["cause"] == "mis_selling"
    first_ids = set(data["slots"]["suggested_ids"])
    second_ids = {s["id"] for s in dispatcher.messages[0]["custom"]["assist"]["suggestions"]}
    assert first_ids and second_ids and not first_ids & second_ids
