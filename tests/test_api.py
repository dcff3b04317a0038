"""The assist API against the real Rasa and action servers."""

import json

import pytest

from deescalate.contract import ALERT_KINDS, EMOTIONS, INTENTS, RISKS, STAGES, SUGGESTION_KINDS

EXAMPLE = "我在柜台买的明明是理财，怎么变成保险了？"


def test_example_complaint_gets_the_contract_answer(servers):
    reply = servers.assist("case-example", EXAMPLE)
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["case_id"] == "case-example"
    analysis = answer["analysis"]
    assert analysis["intent"]["name"] == "mis_selling"
    assert 0 < analysis["intent"]["confidence"] <= 1
    assert analysis["emotion"]["name"] in EMOTIONS
    assert analysis["domain"] in ("insurance", "bank")
    assert isinstance(analysis["escalation"], list)
    assert analysis["risk"] in RISKS
    assert analysis["stage"] in STAGES
    kinds = {s["kind"] for s in answer["suggestions"]}
    assert {"empathy", "explanation", "choices"} <= kinds
    for suggestion in answer["suggestions"]:
        assert suggestion["kind"] in SUGGESTION_KINDS
        assert suggestion["source"].startswith("scripts_kb/")
        assert suggestion["text"] and suggestion["id"]
    assert all(alert["kind"] in ALERT_KINDS for alert in answer["alerts"])


def test_every_event_of_the_case_is_in_the_sqlite_tracker_store(servers):
    servers.assist("case-stored", EXAMPLE)
    servers.assist("case-stored", "去年三月在城东支行办的，当时说是存款")
    events = servers.stored_events("case-stored")
    users = [data for kind, data in events if kind == "user"]
    assert [u["text"] for u in users] == [EXAMPLE, "去年三月在城东支行办的，当时说是存款"]
    assert users[0]["parse_data"]["emotion"]["name"] in EMOTIONS
    assert sum(1 for kind, _ in events if kind == "action") >= 4
    assert any(kind == "bot" and "assist" in json.dumps(data) for kind, data in events)


def test_parse_output_carries_the_emotion(servers):
    parse = servers.parse("你们再不退钱我就去银保监会投诉，还要找记者曝光！！！")
    assert parse["intent"]["name"] in INTENTS + ("nlu_fallback",)
    assert parse["emotion"]["name"] == "furious"
    assert 0 < parse["emotion"]["confidence"] <= 1
    assert {"regulator", "media"} <= {e["value"] for e in parse["entities"] if e["entity"] == "escalation"}


def test_traditional_characters_are_understood(servers):
    answer = servers.assist("case-traditional", "我在櫃檯買的明明是理財，怎麼變成保險了？").json()
    assert answer["analysis"]["intent"]["name"] == "mis_selling"


def test_escalation_threat_raises_risk_and_alerts_supervisor(servers):
    answer = servers.assist("case-threat", "ATM吞了我两千块钱到现在没退，再不处理我就打12378投诉！").json()
    assert "regulator" in answer["analysis"]["escalation"]
    assert answer["analysis"]["risk"] == "high"
    assert "supervisor" in {a["kind"] for a in answer["alerts"]}
    assert answer["analysis"]["amount"] == 2000


@pytest.mark.parametrize(
    "body, status, error",
    [
        (b"not json at all", 400, "invalid_json"),
        (b"[1, 2, 3]", 400, "invalid_json"),
        (json.dumps({"message": "ATM吞卡了"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "", "message": "ATM吞卡了"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "x" * 500, "message": "ATM吞卡了"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": 42, "message": "ATM吞卡了"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "case-bad"}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": "case-bad", "message": 12}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": "case-bad", "message": "   \n\t "}).encode(), 400, "empty_message"),
        (json.dumps({"sender": "case-bad", "message": "退钱" * 5000}).encode(), 413, "message_too_long"),
    ],
)
def test_bad_requests_get_a_clear_error_and_record_nothing(servers, body, status, error):
    reply = servers.post_raw(body)
    assert reply.status_code == status
    assert reply.json()["error"] == error
    assert servers.stored_events("case-bad") == []


def test_wrong_or_missing_token_is_refused(servers):
    assert servers.assist("case-auth", EXAMPLE, token="wrong").status_code == 401
    import requests

    reply = requests.post(servers.assist_url, json={"sender": "case-auth", "message": EXAMPLE}, timeout=30)
    assert reply.status_code == 401
    assert servers.stored_events("case-auth") == []


@pytest.mark.parametrize(
    "sender, message",
    [
        ("case-emoji", "😡😡😡"),
        ("case-english", "hello, can you help me with my account"),
        ("case-injection", "'; DROP TABLE events; -- <script>alert(1)</script>"),
    ],
)
def test_odd_but_valid_messages_get_a_normal_answer_and_are_stored(servers, sender, message):
    reply = servers.assist(sender, message)
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["analysis"]["emotion"]["name"] in EMOTIONS
    assert answer["suggestions"], "a clarifying suggestion is always offered"
    users = [data for kind, data in servers.stored_events(sender) if kind == "user"]
    assert [u["text"] for u in users] == [message]
