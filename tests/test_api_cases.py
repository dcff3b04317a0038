"""Whole cases through the real servers: stages, agent drafts, the case record, outages."""

import os
import signal

import requests

from deescalate.tools.stack import wait_for
from tests.conftest import post_json


def agent_url(servers):
    return f"{servers.stack.rasa_url}/webhooks/assist/agent"


def test_a_case_moves_through_the_playbook(servers):
    turns = [
        ("我在柜台买的明明是理财，怎么变成保险了？太过分了", {"listen", "empathize", "clarify"}),
        ("去年三月在城东支行签的，当时交了五万块", {"offer_choices"}),
        ("就按第一个办吧", {"agree"}),
        ("好的，谢谢你", {"close", "follow_up"}),
    ]
    seen_ids = set()
    for message, stages in turns:
        answer = servers.assist("case-journey", message).json()
        assert answer["analysis"]["stage"] in stages, (message, answer["analysis"])
        ids = {s["id"] for s in answer["suggestions"] if s["kind"] != "choices"}
        assert not ids & seen_ids, "a suggestion was repeated within the case"
        seen_ids |= ids
    assert answer["analysis"]["cause"] == "mis_selling"
    assert answer["analysis"]["amount"] == 50000


def test_taboo_draft_is_flagged_with_a_rewrite_and_not_recorded(servers):
    reply = post_json(
        agent_url(servers), servers.token, {"sender": "case-draft", "text": "公司规定就是这样，我也没办法。"}
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["recorded"] is False and body["taboo"]
    assert all(hit["why"] and hit["rewrite"] for hit in body["taboo"])
    assert servers.stored_events("case-draft") == []


def test_harmless_draft_passes_and_sending_records_the_agents_turn(servers):
    servers.assist("case-reply", "ATM吞了我的卡，急死了")
    text = "按照规定，我们三个工作日内给您答复，卡会先替您保管好。"
    body = post_json(
        agent_url(servers),
        servers.token,
        {"sender": "case-reply", "text": text, "send": True, "suggestion_id": "atm-1", "agent": "li.na"},
    ).json()
    assert body == {"case_id": "case-reply", "taboo": [], "recorded": True}
    bots = [data for kind, data in servers.stored_events("case-reply") if kind == "bot"]
    agent_turns = [b for b in bots if (b.get("metadata") or {}).get("author") == "agent"]
    assert [b["text"] for b in agent_turns] == [text]
    assert agent_turns[0]["metadata"]["suggestion_id"] == "atm-1"


def test_agent_endpoint_rejects_bad_input(servers):
    url = agent_url(servers)
    assert post_json(url, servers.token, {"sender": "case-x", "text": ""}).status_code == 400
    assert post_json(url, servers.token, {"sender": "case-x", "text": "好的", "send": "yes"}).status_code == 400
    assert post_json(url, "wrong", {"sender": "case-x", "text": "好的"}).status_code == 401


def test_case_record_as_json_and_as_chinese_text(servers):
    servers.assist("case-record", "退保只退了我一半，交了两万块，我要全额退款")
    url = f"{servers.stack.rasa_url}/webhooks/assist/case/case-record"
    headers = {"Authorization": f"Bearer {servers.token}"}
    record = requests.get(url, headers=headers, timeout=30).json()
    assert record["cause"] == "surrender_loss"
    assert record["amount"] == 20000 and record["approval"]["tier"] == 3
    assert "full_refund" in record["demand"]
    assert record["turns"][0]["speaker"] == "customer"
    text = requests.get(url, params={"format": "text"}, headers=headers, timeout=30).text
    assert "投诉原因：" in text and "事件经过：" in text
    missing = requests.get(f"{servers.stack.rasa_url}/webhooks/assist/case/no-such-case", headers=headers, timeout=30)
    assert missing.status_code == 404


def test_with_the_action_server_down_the_analysis_still_arrives(servers):
    actions = servers.stack.processes[0]
    os.killpg(actions.pid, signal.SIGTERM)
    actions.wait(timeout=30)
    servers.stack.processes.remove(actions)
    try:
        reply = servers.assist("case-outage", "催收天天打电话给我同事，我要去银保监投诉！！")
        assert reply.status_code == 200
        answer = reply.json()
        assert answer["analysis"]["intent"]["name"] == "debt_collection"
        assert "regulator" in answer["analysis"]["escalation"]
        assert answer["suggestions"] == []
        assert [a["kind"] for a in answer["alerts"]] == ["unavailable"]
        users = [d for k, d in servers.stored_events("case-outage") if k == "user"]
        assert len(users) == 1, "the customer's turn is recorded even without the action server"
    finally:
        servers.stack.start_actions()
        servers.stack.processes.insert(0, servers.stack.processes.pop())  # the action server stays first
        wait_for(f"{servers.stack.action_url}/health", 120, servers.stack.processes, servers.stack.log_dir)
    assert servers.assist("case-outage", "到底怎么处理").json()["suggestions"]


def test_a_retried_turn_with_its_message_id_is_answered_from_the_store(servers):
    url = f"{servers.stack.rasa_url}/webhooks/assist/webhook"
    turn = {"sender": "case-retry", "message": "ATM吞了我两千块钱，到现在还没退回来", "message_id": "retry-t01"}
    first = post_json(url, servers.token, turn).json()
    again = post_json(url, servers.token, turn).json()
    assert again["replayed"] is True and "replayed" not in first
    assert again["analysis"] == first["analysis"]
    assert [s["id"] for s in again["suggestions"]] == [s["id"] for s in first["suggestions"]]
    users = [data for kind, data in servers.stored_events("case-retry") if kind == "user"]
    assert [u["message_id"] for u in users] == ["retry-t01"]

    post_json(url, servers.token, {**turn, "message": "卡也吞了", "message_id": "retry-t02"})
    users = [data for kind, data in servers.stored_events("case-retry") if kind == "user"]
    assert [u["message_id"] for u in users] == ["retry-t01", "retry-t02"]


def test_a_malformed_message_id_is_refused_and_records_nothing(servers):
    url = f"{servers.stack.rasa_url}/webhooks/assist/webhook"
    for bad in (123, "", "带空格 的id", "x" * 200, ["a"]):
        reply = post_json(url, servers.token, {"sender": "case-bad-mid", "message": "你好", "message_id": bad})
        assert reply.status_code == 400 and reply.json()["error"] == "invalid_message_id", bad
    assert servers.stored_events("case-bad-mid") == []
