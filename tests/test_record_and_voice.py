"""Case record and the chat bot's own voice, from real engine output."""

from deescalate.assist.engine import AssistEngine
from deescalate.assist.record import build_case_record, render_record_zh
from deescalate.assist.state import AssistSettings, CaseState
from deescalate.assist.voice import customer_messages, needs_handoff


def _engine(kb):
    return AssistEngine(kb, AssistSettings.from_yaml())


def _parse(intent, text, emotion, entities=()):
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "emotion": {"name": emotion, "confidence": 0.8},
        "entities": list(entities),
    }


def _events_for(kb, turns, agent_replies):
    """Rasa-style events of a case: user turn, assist payload, slots, and the agent's reply."""
    engine, state, events, clock = _engine(kb), CaseState(), [], 1_700_000_000.0
    for (intent, text, emotion, entities), reply in zip(turns, agent_replies):
        parse = _parse(intent, text, emotion, entities)
        clock += 60
        events.append(
            {"event": "user", "text": text, "parse_data": parse, "timestamp": clock, "input_channel": "assist"}
        )
        result = engine.turn(state, parse)
        state = result.state
        events.append({"event": "bot", "timestamp": clock + 1, "data": {"custom": {"assist": result.payload()}}})
        events += [{"event": "slot", "name": k, "value": v, "timestamp": clock + 1} for k, v in result.slots().items()]
        if reply:
            events.append(
                {
                    "event": "bot",
                    "text": reply,
                    "timestamp": clock + 30,
                    "metadata": {
                        "author": "agent",
                        "agent_name": "zhang.wei",
                        "suggestion_id": result.suggestions[0]["id"],
                        "taboo": [],
                    },
                }
            )
    return events


def test_record_has_the_fields_a_supervisor_needs(kb):
    events = _events_for(
        kb,
        [
            (
                "surrender_loss",
                "分红险退保只退我一半，交了五万块",
                "angry",
                [{"entity": "amount", "value": 50000}, {"entity": "demand", "value": "full_refund"}],
            ),
            ("choose_option", "那就按第一个办吧", "calm", []),
        ],
        ["非常理解您的心情，我先帮您核对一下。", "好的，我马上为您提交申请。"],
    )
    record = build_case_record("case-r1", events, kb)
    assert record["cause"] == "surrender_loss" and record["domain"] == "insurance"
    assert record["demand"] == ["full_refund"]
    assert record["amount"] == 50000
    assert record["approval"]["tier"] == 3
    assert record["first_handler"] == "zhang.wei"
    assert record["emotion_peak"] == "angry" and record["emotion_trend"] == "falling"
    assert record["stage"] == "agree"
    assert record["status"] == "awaiting_approval"
    assert [t["speaker"] for t in record["turns"]] == ["customer", "agent", "customer", "agent"]
    assert "退保" in record["narrative"] and "5万元" in record["narrative"]
    text = render_record_zh(record, kb)
    assert "首问负责人：zhang.wei" in text and "全额退款" in text and "第3档" in text


def test_record_of_a_new_case_without_turns(kb):
    record = build_case_record("case-empty", [], kb)
    assert record["status"] == "open" and record["narrative"] == "客户尚未陈述问题。"


def test_chat_customer_gets_one_line_per_kind_and_choice_buttons(kb):
    result = _engine(kb).turn(CaseState(), _parse("atm_malfunction", "ATM吞了我的卡", "anxious"))
    messages = customer_messages(result, kb, handoff=False)
    texts = [m["text"] for m in messages]
    assert len(texts) == len(set(texts))
    buttons = [m["buttons"] for m in messages if "buttons" in m]
    assert buttons and len(buttons[0]) >= 2
    assert all(b["payload"].startswith("我选第") for b in buttons[0])


def test_request_for_a_person_hands_the_chat_over(kb):
    result = _engine(kb).turn(CaseState(), _parse("request_human", "我要转人工", "angry"))
    assert needs_handoff(result)
    messages = customer_messages(result, kb, handoff=True)
    assert messages[-1]["text"] in kb.voice["handoff"]
    assert len(messages) <= 2, "only an acknowledgement and what happens next"
    assert not any("buttons" in m for m in messages)
    assert not any(m["text"].endswith(("？", "?")) for m in messages[:-1])
