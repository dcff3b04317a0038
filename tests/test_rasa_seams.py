"""The replaced RemoteAction methods: pinned to our Rasa, same answers as Rasa's own."""

import json

import pytest
import rasa
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from deescalate import rasa_seams
from deescalate.tools.build import ROOT

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="module", autouse=True)
def seams_installed():
    assert rasa_seams.install(), rasa_seams.pin_mismatches()


def rasa_own(name: str):
    return rasa_seams._ORIGINALS[name]


def test_the_replaced_methods_are_the_pinned_ones_of_the_pinned_rasa():
    """Fails on a Rasa upgrade that changes a replaced method: read the new
    method, carry the change over to deescalate/rasa_seams.py, then move the pins."""
    assert rasa.__version__ == rasa_seams.PINNED_RASA
    assert rasa_seams.pin_mismatches() == []
    for name, replacement in rasa_seams._REPLACEMENTS.items():
        assert getattr(RemoteAction, name) is replacement
        assert rasa_seams.source_fingerprint(rasa_own(name)) == rasa_seams.PINNED_SOURCES[name]


def test_a_changed_method_is_reported_and_not_replaced(monkeypatch):
    original = rasa_own("_validate_action_result")
    monkeypatch.setitem(rasa_seams.PINNED_SOURCES, "_validate_action_result", "0" * 64)
    assert any("_validate_action_result changed" in p for p in rasa_seams.pin_mismatches())
    monkeypatch.setattr(rasa_seams, "_ORIGINALS", {})
    monkeypatch.setattr(RemoteAction, "_validate_action_result", original)
    assert rasa_seams.install() is False
    assert RemoteAction._validate_action_result is not rasa_seams.validate_action_result


GOOD = {
    "events": [{"event": "slot", "name": "cause", "value": "mis_selling", "timestamp": None}],
    "responses": [{"custom": {"assist": {"suggestions": []}}}],
}
BAD = [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": [["not", "an", "object"]]},
    {"events": [{"event": "slot", "name": 3}]},
    [],
]


def test_a_good_answer_passes():
    action = RemoteAction("action_assist", None)
    assert action._validate_action_result(GOOD) is True
    assert rasa_own("_validate_action_result")(action, GOOD) is True


@pytest.mark.parametrize("answer", BAD)
def test_a_bad_answer_raises_the_error_rasa_raises(answer):
    action = RemoteAction("action_assist", None)
    with pytest.raises(ValidationError) as ours:
        action._validate_action_result(json.loads(json.dumps(answer)))
    with pytest.raises(ValidationError) as theirs:
        rasa_own("_validate_action_result")(action, json.loads(json.dumps(answer)))
    assert ours.value.message == theirs.value.message
    assert "Failed to validate Action server response" in ours.value.message
    assert list(ours.value.path) == list(theirs.value.path)
    assert ours.value.validator == theirs.value.validator


EVENT_NAMES = ["user", "bot", "slot", "action", "entities", "reminder", "followup", "pause", "restart", "no_such_event"]
FIELDS = ["event", "name", "value", "text", "timestamp", "metadata", "entities", "data", "policy", "confidence"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5))
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3)),
    max_leaves=8,
)
EVENTS = st.dictionaries(st.sampled_from(FIELDS), JSONISH, max_size=4).flatmap(
    lambda fields: st.sampled_from(EVENT_NAMES).map(
        lambda name: {"event": name, **fields} if fields.get("event") is None else fields
    )
)
ANSWERS = st.dictionaries(
    st.sampled_from(["events", "responses"]),
    st.one_of(st.lists(EVENTS, max_size=4), st.lists(JSONISH, max_size=3), JSONISH),
    max_size=2,
)


@settings(max_examples=400, deadline=None)
@given(ANSWERS)
def test_the_compiled_check_and_jsonschema_agree_on_every_answer(answer):
    """The compiled check decides alone only what it accepts, so it must never accept what jsonschema rejects."""
    action = RemoteAction("action_assist", None)
    try:
        rasa_own("_validate_action_result")(action, answer)
        rasa_accepts = True
    except ValidationError:
        rasa_accepts = False
    try:
        ours_accepts = action._validate_action_result(answer)
    except ValidationError:
        ours_accepts = False
    assert ours_accepts == rasa_accepts


def test_the_compiled_check_accepts_a_good_answer_alone():
    """An answer like action_assist's (slots holding nested case state, a bot message) is
    accepted without asking jsonschema; only a bad one is left to it."""
    state = {"suggestions": [{"id": f"s{i}", "text": "您先别急", "fit": [1, 2.5, None]} for i in range(40)]}
    answer = {
        "events": [
            {"event": "slot", "name": "case_state", "value": state, "timestamp": None},
            {"event": "slot", "name": "turns", "value": 3.0},
            {"event": "bot", "text": "您好", "data": {"custom": {"assist": state}}, "metadata": {}},
            {"event": "action", "name": "action_listen", "policy": None, "confidence": None},
        ],
        "responses": [{"custom": {"assist": state}}],
    }
    assert rasa_seams._FAST_CHECK(answer) is True
    assert rasa_seams._FAST_CHECK(GOOD) is True
    assert not any(rasa_seams._FAST_CHECK(json.loads(json.dumps(answer))) for answer in BAD)


def test_a_schema_without_named_branches_is_compiled_whole():
    check = rasa_seams.compiled_check({"type": "object", "properties": {"events": {"type": "array"}}})
    assert check({"events": []}) is True
    assert check({"events": 3}) is False
    assert check([]) is False


def long_case(turns: int) -> DialogueStateTracker:
    tracker = DialogueStateTracker("case-long", DOMAIN.slots)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    for turn in range(turns):
        tracker.update(
            UserUttered(f"第{turn}句", intent={"name": "provide_info", "confidence": 0.9}, input_channel="socketio")
        )
        tracker.update(ActionExecuted("action_assist"))
        tracker.update(BotUttered(data={"custom": {"assist": {"turn": turn}}}))
        tracker.update(SlotSet("turns", float(turn + 1)))
        if turn < turns - 1:
            tracker.update(ActionExecuted("action_listen"))
    return tracker


def test_the_latest_turn_request_carries_that_turn_and_the_whole_state():
    tracker = long_case(30)
    action = RemoteAction(
        "action_assist", EndpointConfig("http://127.0.0.1:1", send_events="latest_turn", enable_selective_domain=True)
    )
    ours = action._action_call_format(tracker, DOMAIN)
    theirs = rasa_own("_action_call_format")(action, tracker, DOMAIN)
    assert [e["event"] for e in ours["tracker"]["events"]] == ["action", "user", "action", "bot", "slot"]
    assert ours["tracker"]["events"][1]["text"] == "第29句"
    assert ours["tracker"]["events"] == theirs["tracker"]["events"][-5:]
    for key in theirs["tracker"]:
        if key != "events":
            assert ours["tracker"][key] == theirs["tracker"][key], key
    assert {k: v for k, v in ours.items() if k != "tracker"} == {k: v for k, v in theirs.items() if k != "tracker"}
    assert len(json.dumps(ours)) < len(json.dumps(theirs)) / 10


def test_without_the_endpoint_option_the_request_is_rasas():
    tracker = long_case(5)
    action = RemoteAction("action_assist", EndpointConfig("http://127.0.0.1:1"))
    assert action._action_call_format(tracker, DOMAIN) == rasa_own("_action_call_format")(action, tracker, DOMAIN)


def test_a_tracker_without_a_customer_message_sends_every_event():
    tracker = DialogueStateTracker("case-new", DOMAIN.slots)
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    assert [e.type_name for e in rasa_seams.latest_turn_events(tracker)] == ["action", "session_started"]
