"""Assist logic on the real knowledge base, without servers."""

import pytest

from deescalate.assist.engine import AssistEngine, chosen_option
from deescalate.assist.risk import approval_tier
from deescalate.assist.state import AssistSettings, CaseState
from deescalate.contract import CAUSE_DOMAINS


@pytest.fixture(scope="module")
def engine(kb):
    return AssistEngine(kb, AssistSettings.from_yaml())


def parse(intent, text="", emotion="calm", confidence=0.95, entities=()):
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "emotion": {"name": emotion, "confidence": 0.8},
        "entities": list(entities),
    }


def entity(name, value):
    return {"entity": name, "value": value, "start": 0, "end": 1}


def run_case(engine, turns):
    state, results = CaseState(), []
    for turn in turns:
        result = engine.turn(state, turn)
        state = result.state
        results.append(result)
    return results


@pytest.mark.parametrize("cause", sorted(CAUSE_DOMAINS))
@pytest.mark.parametrize("emotion", ["calm", "angry"])
def test_every_cause_domain_and_style_yields_each_required_kind(engine, kb, cause, emotion):
    for domain in CAUSE_DOMAINS[cause]:
        cue = kb.domains[domain]["cues"][0]
        result = engine.turn(CaseState(), parse(cause, f"{cue}的事情", emotion))
        assert result.analysis["domain"] == domain
        kinds = {s["kind"] for s in result.suggestions}
        assert {"empathy", "explanation", "choices"} <= kinds, (cause, domain, kinds)
        style = kb.empathy["emotions"][emotion]["style"]
        assert [s["style"] for s in result.suggestions if s["kind"] == "explanation"] == [style]
        assert all("{" not in s["text"] for s in result.suggestions)
        assert len(result.suggestions) <= engine.settings.max_suggestions


def test_stage_moves_through_the_playbook(engine):
    results = run_case(
        engine,
        [
            parse("mis_selling", "柜台说是理财结果是保险", "angry"),
            parse("provide_info", "保单号P1，去年三月签的"),
            parse("choose_option", "就按第二个办吧"),
            parse("thank", "好的谢谢你"),
        ],
    )
    assert [r.analysis["stage"] for r in results] == ["listen", "offer_choices", "agree", "close"]
    assert results[2].analysis["chosen_option"] is not None
    assert {s["kind"] for s in results[3].suggestions} & {"closing"}


def test_calm_complaint_goes_straight_to_clarify(engine):
    result = engine.turn(CaseState(), parse("surrender_loss", "退保能退多少", "calm"))
    assert result.analysis["stage"] == "clarify"


def test_no_suggestion_repeats_within_a_case(engine):
    results = run_case(engine, [parse("atm_malfunction", "ATM吞卡", "angry")] * 4)
    ids = [s["id"] for r in results for s in r.suggestions if s["kind"] != "choices"]
    assert len(ids) == len(set(ids))


def test_slot_values_are_filled_into_lines(engine):
    result = engine.turn(
        CaseState(),
        parse("surrender_loss", "分红险退保", "angry", entities=[entity("amount", 20000), entity("product", "分红险")]),
    )
    texts = " ".join(s["text"] for s in result.suggestions)
    assert "分红险" in texts or "2万元" in texts


@pytest.mark.parametrize(
    "amount, tier",
    [
        (1, 1),
        (2000, 1),
        (2001, 2),
        (10000, 2),
        (10001, 3),
        (50000, 3),
        (50001, 4),
        (500000, 4),
        (500001, 5),
        (10_000_000, 5),
    ],
)
def test_insurance_approval_tier_boundaries(kb, amount, tier):
    assert approval_tier(kb.approval, amount, "insurance")["tier"] == tier


@pytest.mark.parametrize(
    "domain, amount, role",
    [
        ("bank", 300, "branch_manager"),
        ("bank", 3000, "sub_branch_president"),
        ("bank", 30000, "consumer_protection_dept"),
        ("bank", 300000, "branch_vice_president"),
        ("metro", 150, "station_duty_manager"),
        ("metro", 500, "station_area_head"),
        ("metro", 5000, "passenger_service_dept"),
        ("insurance", 500, "channel_head"),
    ],
)
def test_each_domain_has_its_own_approval_matrix(kb, domain, amount, role):
    assert approval_tier(kb.approval, amount, domain)["role"] == role


def test_no_amount_or_domain_no_tier(kb):
    assert approval_tier(kb.approval, None, "bank") is None
    assert approval_tier(kb.approval, 0, "bank") is None
    assert approval_tier(kb.approval, 500, None) is None


def test_money_demand_with_amount_raises_an_approval_alert(engine):
    first = engine.turn(CaseState(), parse("claim_denied", "理赔被拒了", "angry"))
    result = engine.turn(
        first.state,
        parse(
            "demand_compensation",
            "赔我三万",
            "angry",
            entities=[entity("amount", 30000), entity("demand", "compensation")],
        ),
    )
    approval = [a for a in result.alerts if a["kind"] == "approval"]
    assert approval and approval[0]["role"] == "chief_financial_officer"
    assert "首席财务官" in approval[0]["text"] and "这需要向上级申请审批" in approval[0]["text"]


def test_threat_makes_risk_high_with_supervisor_alert_and_escalation_line(engine):
    result = engine.turn(
        CaseState(), parse("claim_denied", "不赔我就找记者", "furious", entities=[entity("escalation", "media")])
    )
    assert result.analysis["risk"] == "high"
    assert "supervisor" in {a["kind"] for a in result.alerts}
    assert result.suggestions[0]["kind"] == "escalation"


def test_request_for_a_person_raises_handoff(engine):
    result = engine.turn(CaseState(), parse("request_human", "转人工", "angry"))
    assert "handoff" in {a["kind"] for a in result.alerts}


def test_low_confidence_asks_instead_of_guessing(engine):
    low = {
        "text": "嗯那个就是",
        "intent": {"name": "nlu_fallback", "confidence": 0.45},
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.45},
            {"name": "fees_and_charges", "confidence": 0.3},
        ],
        "emotion": {"name": "confused", "confidence": 0.5},
        "entities": [],
    }
    result = engine.turn(CaseState(), low)
    assert result.analysis["low_confidence"] is True
    assert result.analysis["cause"] is None
    assert "question" in {s["kind"] for s in result.suggestions}


def test_emotion_trend_and_peak_follow_the_case(engine):
    results = run_case(engine, [parse("metro_delay", "地铁又晚点", e) for e in ("calm", "angry", "furious")])
    assert results[-1].analysis["emotion_trend"] == "rising"
    assert results[-1].analysis["emotion_peak"] == "furious"
    calmer = run_case(engine, [parse("metro_delay", "地铁又晚点", e) for e in ("furious", "angry", "calm")])
    assert calmer[-1].analysis["emotion_trend"] == "falling"


def test_chosen_option_by_ordinal_and_wording():
    options = [{"id": "a", "offer": "全额退保并退还保费"}, {"id": "b", "offer": "改成减额交清"}]
    assert chosen_option("就按第二个办吧", options)["id"] == "b"
    assert chosen_option("选1吧", options)["id"] == "a"
    assert chosen_option("最后那个", options)["id"] == "b"
    assert chosen_option("改成减额交清吧", options)["id"] == "b"
    assert chosen_option("随便", options) is None


def test_a_long_case_keeps_bounded_state_and_its_peak():
    from actions.assist import ENGINE
    from deescalate.assist.state import CaseState

    state = CaseState()
    emotions = ["furious"] + ["calm"] * 99
    for emotion in emotions:
        parse = {
            "text": "ATM吞了我的卡",
            "intent": {"name": "atm_malfunction", "confidence": 0.9},
            "emotion": {"name": emotion, "confidence": 0.9},
            "entities": [],
        }
        result = ENGINE.turn(state, parse)
        state = result.state
    assert state.turns == 100
    assert len(state.emotion_history) == ENGINE.settings.remember_emotions
    assert len(state.suggested_ids) <= ENGINE.settings.remember_suggestions
    assert result.analysis["emotion_peak"] == "furious"
    assert result.analysis["emotion_trend"] == "steady"


def test_the_domain_stays_with_its_cause_when_a_later_turn_names_a_bank():
    from actions.assist import ENGINE
    from deescalate.assist.state import CaseState

    def parse(text, intent):
        return {
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "emotion": {"name": "angry", "confidence": 0.9},
            "entities": [],
        }

    first = ENGINE.turn(CaseState(), parse("保险公司的人卖给我的分红险，说是存款", "mis_selling"))
    assert first.analysis["domain"] == "insurance"
    second = ENGINE.turn(first.state, parse("在城东支行柜台签的，银行的人也在场", "mis_selling"))
    assert second.analysis["domain"] == "insurance"
    fees = ENGINE.turn(second.state, parse("还有银行卡年费扣了我两百", "fees_and_charges"))
    assert fees.analysis["domain"] == "bank"


# ---------------------------------------------------------------- the cause beside the dialogue act


def with_cause(intent, text, ranking, confidence=0.9):
    """A parse whose cause classifier gave `ranking` ([(cause, confidence), ...])."""
    result = parse(intent, text, confidence=confidence)
    result["cause"] = {
        "name": ranking[0][0],
        "confidence": ranking[0][1],
        "ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "secondary": None,
    }
    return result


def test_a_turn_of_dates_and_amounts_keeps_the_fee_cause(engine):
    results = run_case(
        engine,
        [
            with_cause(
                "fees_and_charges", "卡早就不用了还在扣年费", [("fees_and_charges", 0.8), ("account_restriction", 0.1)]
            ),
            with_cause(
                "provide_info",
                "三月五号扣了三百，四月五号又扣三百，卡号尾号二八",
                [("unauthorized_transaction", 0.45), ("fees_and_charges", 0.35)],
            ),
        ],
    )
    assert [r.analysis["cause"] for r in results] == ["fees_and_charges", "fees_and_charges"]
    assert results[1].analysis["turn_cause"]["name"] == "unauthorized_transaction"
    ranking = results[1].analysis["cause_ranking"]
    assert ranking[0]["name"] == "fees_and_charges" and abs(sum(r["confidence"] for r in ranking) - 1) < 0.01


def test_a_narrative_turn_names_the_cause_when_none_is_known_yet(engine):
    result = engine.turn(
        CaseState(),
        with_cause(
            "provide_info",
            "借了两万，分二十四期，每期多收一百多服务费",
            [("fees_and_charges", 0.7), ("repayment_hardship", 0.2)],
        ),
    )
    assert result.analysis["cause"] == "fees_and_charges"
    assert result.analysis["intent"]["name"] == "provide_info"
    assert result.state.cause_scores["fees_and_charges"] > result.state.cause_scores["repayment_hardship"]


def test_greetings_and_thanks_bring_no_cause_evidence(engine):
    result = engine.turn(CaseState(), with_cause("greet", "你好", [("service_attitude", 0.5)]))
    assert result.analysis["cause"] is None and result.state.cause_scores == {}


def test_a_clearly_stated_new_complaint_takes_over_the_case(engine):
    results = run_case(
        engine,
        [
            with_cause("debt_collection", "催收天天打我单位电话", [("debt_collection", 0.9)]),
            with_cause("debt_collection", "还打给我爸妈", [("debt_collection", 0.8)]),
            with_cause("fees_and_charges", "另外提前还款还要收违约金", [("fees_and_charges", 0.85)]),
        ],
    )
    assert [r.analysis["cause"] for r in results] == ["debt_collection", "debt_collection", "fees_and_charges"]


def test_the_case_cause_survives_its_slots(engine):
    first = engine.turn(CaseState(), with_cause("fees_and_charges", "乱扣费", [("fees_and_charges", 0.8)]))
    restored = CaseState.from_slots(first.slots())
    assert restored.cause_scores == first.state.cause_scores
