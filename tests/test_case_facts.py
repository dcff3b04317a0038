"""Case facts, conditions on lines and ranking by fit, on the real knowledge base without servers."""

import pytest

from deescalate.assist.engine import AssistEngine
from deescalate.assist.facts import read_facts
from deescalate.assist.risk import approval_tier
from deescalate.assist.state import AssistSettings, CaseState
from deescalate.kb.conditions import ConditionError, condition


@pytest.fixture(scope="module")
def engine(kb):
    return AssistEngine(kb, AssistSettings.from_yaml())


def parse(intent, text="", emotion="calm", entities=()):
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95},
        "emotion": {"name": emotion, "confidence": 0.8},
        "entities": [{"entity": name, "value": value} for name, value in entities],
    }


def play(engine, turns):
    state, results = CaseState(), []
    for turn in turns:
        result = engine.turn(state, turn)
        state = result.state
        results.append(result)
    return results


def choices_of(result):
    found = [s for s in result.suggestions if s["kind"] == "choices"]
    return {o["id"]: o for o in found[0]["options"]} if found else {}


@pytest.mark.parametrize(
    "source, facts, value",
    [
        ("days_since_delivery <= 15", {"days_since_delivery": 10}, True),
        ("days_since_delivery <= 15", {"days_since_delivery": 40}, False),
        ("days_since_delivery <= 15", {}, None),
        ("days_since_delivery <= 15 and not years_paid >= 1", {"years_paid": 2}, False),
        ("not days_since_delivery <= 15 or years_paid >= 1", {"years_paid": 2}, True),
        ("channel in ['qr_code', 'transit_card']", {"channel": "ticket_machine"}, False),
        ("amount - cash_value", {"amount": 50000, "cash_value": 42000}, 8000),
        ("'professional_complainer' in abnormal", {"abnormal": []}, False),
        ("years_paid * 365", {"years_paid": 2}, 730),
    ],
)
def test_conditions_are_three_valued(source, facts, value):
    assert condition(source).evaluate(facts) == value


@pytest.mark.parametrize(
    "source",
    ["__import__('os')", "amount.real", "open('x')", "[x for x in y]", "lambda: 1", "amount ** 2", "amount / 2"],
)
def test_conditions_refuse_anything_but_comparisons(source):
    with pytest.raises(ConditionError):
        condition(source)


def test_facts_are_read_from_the_customers_words(kb):
    facts = kb.case_facts
    assert read_facts(facts, "保单签收才十天", "insurance") == {"days_since_delivery": 10}
    assert read_facts(facts, "已经交了两年了，现金价值只有4万2", "insurance") == {"years_paid": 2, "cash_value": 42000}
    assert read_facts(facts, "在人民广场站用乘车码被扣了两次", "metro") == {"channel": "qr_code", "station": "人民广场"}
    assert read_facts(facts, "我妈的保单不是她签的", "insurance") == {"caller": "child", "signature": "proxy_signed"}
    # a fact is read only in the domains it belongs to: no ATM deposit in a policy case
    assert "atm_operation" not in read_facts(facts, "我去银行存钱却买成了保险", "insurance")


def test_qr_code_double_charge_gets_the_qr_restate_and_choice(engine):
    result = engine.turn(CaseState(), parse("metro_fare_ticketing", "在人民广场站用乘车码出站被扣了两次", "angry"))
    restates = [s["text"] for s in result.suggestions if s.get("restate")]
    assert restates and "乘车码" in restates[0] and "售票机" not in " ".join(restates)
    options = choices_of(result)
    assert "refund_double_charge" in options and "refund_machine_shortfall" not in options


def test_atm_deposit_is_not_restated_as_a_withdrawal(engine):
    result = engine.turn(
        CaseState(), parse("atm_malfunction", "在ATM存款，钱被吞了没到账", "angry", entities=[("amount", 3000)])
    )
    restates = [s["text"] for s in result.suggestions if s.get("restate")]
    assert restates and "存了3000元" in restates[0]
    assert not any("没拿到手" in s["text"] for s in result.suggestions)
    assert "retrieve_card_at_branch" not in choices_of(result)


def test_the_missing_fact_is_asked_first_and_then_decides_the_choices(engine):
    first, second = play(
        engine,
        [
            parse("mis_selling", "在银行存钱被办成了分红险", "calm", entities=[("product", "分红险")]),
            parse("provide_info", "我已经交了两年了，一共五万，现在只能退4万2", "calm", entities=[("amount", 50000)]),
        ],
    )
    questions = [s for s in first.suggestions if s["kind"] == "question"]
    assert questions[0]["asks"] == "days_since_delivery"
    assert first.suggestions.index(questions[0]) < [s["kind"] for s in first.suggestions].index("choices")
    options = choices_of(second)
    assert "cooling_off_cancel" not in options  # paid for two years: no cooling-off offer
    card = options["investigate_full_refund"]
    assert card["fits"] and card["borne"] == 8000 and card["approver"] == "operations_director"
    assert card["short"] and card["means"] and card["cost"] and card["approver_label"]


def test_cooling_off_is_offered_within_15_days_without_approval(engine):
    result = engine.turn(CaseState(), parse("mis_selling", "分红险保单签收才十天，我想退", "calm"))
    card = choices_of(result)["cooling_off_cancel"]
    assert card["fits"] and card["approver"] == "none"


def test_approval_keys_on_the_amount_borne_in_the_cases_domain(engine):
    metro = play(
        engine,
        [
            parse("metro_delay", "地铁延误我误了高铁", "angry"),
            parse(
                "demand_compensation",
                "改签花了五百，要赔",
                "angry",
                entities=[("amount", 500), ("demand", "compensation")],
            ),
        ],
    )[-1]
    assert metro.analysis["approval"]["role"] == "station_area_head"
    bank = play(
        engine,
        [
            parse("service_attitude", "网点柜员态度很差", "angry"),
            parse("demand_compensation", "赔我两百", "angry", entities=[("amount", 200), ("demand", "compensation")]),
        ],
    )[-1]
    assert bank.analysis["approval"]["role"] == "branch_manager"
    titles = set(engine.kb.approval["roles"].values())
    assert not any(title in s["text"] for s in bank.suggestions if "审批" in s["text"] for title in titles)


def test_knowledge_panel_has_basis_review_date_and_fitting_facts_first(engine):
    result = engine.turn(CaseState(), parse("mis_selling", "保单签收才十天，买的是分红险", "calm"))
    knowledge = result.knowledge
    assert knowledge and all(item["basis"] and item["source"] for item in knowledge)
    assert {"fact", "watch", "do"} <= {item["kind"] for item in knowledge}
    assert "犹豫期" in knowledge[0]["text"] and knowledge[0]["reviewed"]


def test_nothing_repeats_and_one_offer_is_not_made_twice(engine):
    results = play(engine, [parse("metro_delay", "地铁又晚点了", "angry")] + [parse("provide_info", "在2号线")] * 4)
    ids = [s["id"] for r in results for s in r.suggestions]
    assert len(ids) == len(set(ids))


def test_situations_come_from_facts(engine):
    results = play(
        engine,
        [
            parse("fees_and_charges", "银行乱扣年费", "angry"),
            parse("fees_and_charges", "你们乱扣钱", "furious"),
            parse("fees_and_charges", "赶紧退钱", "furious"),
        ],
    )
    assert "cool_down" in results[-1].analysis["situations"]
    assert any(s.get("situation") == "cool_down" for s in results[-1].suggestions)
    assert any("换人接待" in item["basis"] for item in results[-1].knowledge)


def test_an_unsure_other_cause_does_not_take_the_case_over(engine):
    first = engine.turn(CaseState(), parse("mis_selling", "在银行存钱被办成了分红险", "calm"))
    unsure = {
        **parse("surrender_loss", "交了两年，一共四万，现金价值三万二", "calm", entities=[("amount", 40000)]),
        "intent": {"name": "surrender_loss", "confidence": 0.7},
    }
    second = engine.turn(first.state, unsure)
    assert second.analysis["cause"] == "mis_selling" and second.analysis["intent"]["name"] == "surrender_loss"
    assert second.analysis["stage"] == "offer_choices"
    sure = {**unsure, "intent": {"name": "fees_and_charges", "confidence": 0.93}, "text": "还有银行卡年费扣了我两百"}
    assert engine.turn(second.state, sure).analysis["cause"] == "fees_and_charges"


@pytest.mark.parametrize(
    "text, facts",
    [
        ("交了五万，只能退四万二", {"amount_paid": 50000, "cash_value": 42000}),
        ("亏了八千，赔我八千", {"amount_lost": 8000, "amount_demanded": 8000}),
        ("年费扣了三百", {"amount_charged": 300}),
        ("被扣了两次", {}),  # times, not money
        ("交了两年", {"years_paid": 2}),  # years, not money
    ],
)
def test_a_sums_role_is_read_where_the_words_say_it(kb, text, facts):
    found = read_facts(kb.case_facts, text, "insurance")
    assert {k: v for k, v in found.items() if k in facts or k.startswith("amount_")} == facts


def test_a_compensation_demand_is_approved_on_the_sum_demanded_not_the_sum_paid(engine):
    results = play(
        engine,
        [
            parse("surrender_loss", "分红险退保亏了不少", "angry"),
            parse(
                "demand_compensation",
                "当初交了五万，现在亏了八千，我要求赔偿八千",
                "angry",
                entities=[("amount", 50000), ("amount", 8000), ("demand", "compensation")],
            ),
        ],
    )
    approval = results[-1].analysis["approval"]
    assert approval["borne"] == 8000 and approval["borne_from"] == "demand"
    by_demand = approval_tier(engine.kb.approval, 8000, "insurance")["role"]
    assert approval["role"] == by_demand != approval_tier(engine.kb.approval, 50000, "insurance")["role"]


def test_a_full_refund_is_approved_on_what_was_paid_less_the_cash_value(engine):
    results = play(
        engine,
        [
            parse("surrender_loss", "分红险退保亏太多", "angry"),
            parse(
                "demand_compensation",
                "交了五万，现金价值四万二，要求全额退还",
                "angry",
                entities=[("amount", 50000), ("amount", 42000), ("demand", "full_refund")],
            ),
        ],
    )
    assert results[-1].analysis["approval"]["borne"] == 8000


def test_without_a_role_the_latest_sum_is_the_fallback(engine):
    bank = play(
        engine,
        [
            parse("service_attitude", "网点柜员态度很差", "angry"),
            parse(
                "demand_compensation", "要两百块补偿", "angry", entities=[("amount", 200), ("demand", "compensation")]
            ),
        ],
    )[-1]
    assert bank.analysis["approval"]["borne"] == 200


def test_a_card_is_priced_on_the_sum_paid_when_the_customer_names_it(engine):
    results = play(
        engine,
        [
            parse("mis_selling", "在银行存钱被办成了分红险", "calm", entities=[("product", "分红险")]),
            parse(
                "provide_info",
                "我已经交了两年了，总共交了六万，家里还背着十万房贷，现金价值只有五万",
                "calm",
                entities=[("amount", 60000), ("amount", 100000), ("amount", 50000)],
            ),
        ],
    )
    card = choices_of(results[-1])["investigate_full_refund"]
    assert card["borne"] == 10000  # paid 60,000 less the 50,000 cash value; the largest sum is another


def test_a_metro_loss_claim_is_priced_on_the_sum_demanded(engine):
    result = engine.turn(
        CaseState(),
        parse(
            "metro_delay",
            "地铁延误害我误了高铁，一千二的出差机票也跟着作废了，改签车票花了三百，打车又是一百二，你们至少赔我四百二",
            "angry",
            entities=[("amount", 1200), ("amount", 300), ("amount", 120), ("amount", 420), ("demand", "compensation")],
        ),
    )
    card = choices_of(result)["loss_claim_review"]
    assert card["borne"] == 420 and result.analysis["facts"]["amount_paid"] == 300
