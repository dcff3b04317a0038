"""The one rule for whether a later turn changes the case's cause (deescalate/assist/cause_evidence.py),
with the settings of actions/assist.yml and the case facts of scripts_kb/facts.yml."""

import re

import pytest

from deescalate.assist.cause_evidence import (
    ACT,
    COMPLAINT,
    MORE_FACTS,
    NEW_COMPLAINT,
    CauseEvidenceSettings,
    NewComplaintSettings,
    add_evidence,
    case_cause,
    read_turn,
)
from deescalate.assist.facts import fact_spans
from deescalate.assist.state import AssistSettings


@pytest.fixture(scope="module")
def settings():
    return AssistSettings.from_yaml().cause_evidence


def reading(settings, kb, case, intent, ranking, text, domain="insurance", low_confidence=False):
    return read_turn(settings, case, intent, low_confidence, ranking, text, fact_spans(kb.case_facts, text, domain))


def play(settings, kb, turns, domain="insurance"):
    """The case's cause after each turn: (intent, ranking, text) per turn."""
    scores, cause, causes = {}, None, []
    for intent, ranking, text in turns:
        read = reading(settings, kb, cause, intent, ranking, text, domain)
        scores = add_evidence(settings, scores, ranking, read.weight)
        cause = case_cause(settings, scores, cause, read.may_switch)
        causes.append(cause)
    return causes


MIS_SOLD = ("mis_selling", [("mis_selling", 0.82), ("surrender_loss", 0.1)], "我去银行存钱，结果给我办成了分红险")


# ---------------------------------------------------------------- more facts about the same policy: the cause stays


@pytest.mark.parametrize(
    "text",
    [
        "交了三年，每年一万二，现金价值两万八",
        "保单是八天前收到的，想在犹豫期内退掉",
        "我想在犹豫期里把这份保单退了",
        "她拿到保单才六天，想把这份保险退了",
    ],
)
def test_a_confident_surrender_label_on_a_facts_turn_keeps_the_mis_selling_case(settings, kb, text):
    ranking = [("surrender_loss", 0.93), ("mis_selling", 0.04)]
    read = reading(settings, kb, "mis_selling", "surrender_loss", ranking, text)
    assert read.role == MORE_FACTS and not read.may_switch, read
    assert read.weight == settings.act_weights["provide_info"]
    assert play(settings, kb, [MIS_SOLD, ("surrender_loss", ranking, text)]) == ["mis_selling", "mis_selling"]


def test_the_words_of_a_date_are_not_read_as_a_grievance_but_a_sums_verb_is(kb):
    rule = CauseEvidenceSettings(new_complaint=NewComplaintSettings(grievance=("签收", "扣了我")))
    ranking = [("surrender_loss", 0.9)]
    dated = "保单签收才十天"
    assert read_turn(rule, "mis_selling", "surrender_loss", False, ranking, dated, []).role == NEW_COMPLAINT
    spans = fact_spans(kb.case_facts, dated, "insurance")
    assert read_turn(rule, "mis_selling", "surrender_loss", False, ranking, dated, spans).role == MORE_FACTS
    charged = "年费扣了我两百"  # the figure is a fact; being charged is the grievance
    spans = fact_spans(kb.case_facts, charged, "bank")
    assert [charged[a:b] for a, b in spans] == ["两百"]
    fees = [("fees_and_charges", 0.9)]
    assert read_turn(rule, "mis_selling", "fees_and_charges", False, fees, charged, spans).role == NEW_COMPLAINT


def test_many_facts_turns_never_switch_the_case(settings, kb):
    facts = ("surrender_loss", [("surrender_loss", 0.95), ("mis_selling", 0.02)], "交了两年，一共四万，现金价值三万二")
    causes = play(settings, kb, [MIS_SOLD] + [facts] * 6)
    assert set(causes) == {"mis_selling"}


# ---------------------------------------------------------------- a second complaint: the cause changes


def test_a_clearly_stated_second_complaint_switches_the_case(settings, kb):
    second = (
        "fees_and_charges",
        [("fees_and_charges", 0.86), ("debt_collection", 0.05)],
        "另外提前还款还要收违约金，凭什么",
    )
    first = ("debt_collection", [("debt_collection", 0.9)], "催收天天打我单位电话")
    read = reading(settings, kb, "debt_collection", *second, domain="bank")
    assert read.role == NEW_COMPLAINT and read.may_switch and read.weight == 1.0
    assert play(settings, kb, [first, second], domain="bank") == ["debt_collection", "fees_and_charges"]


def test_a_real_surrender_loss_complaint_in_a_mis_selling_case_switches(settings, kb):
    second = ("surrender_loss", [("surrender_loss", 0.88), ("mis_selling", 0.06)], "现在退保亏了一万多，这个损失谁来管")
    assert reading(settings, kb, "mis_selling", *second).role == NEW_COMPLAINT
    assert play(settings, kb, [MIS_SOLD, second]) == ["mis_selling", "surrender_loss"]


# ---------------------------------------------------------------- what is not enough on its own


def test_a_grievance_without_a_clear_lead_is_the_case_complaint_again(settings, kb):
    ranking = [("surrender_loss", 0.48), ("mis_selling", 0.4)]
    read = reading(settings, kb, "mis_selling", "surrender_loss", ranking, "你们就是骗人，亏成这样")
    assert read.role == COMPLAINT and not read.may_switch
    assert play(settings, kb, [MIS_SOLD, ("surrender_loss", ranking, "你们就是骗人，亏成这样")])[-1] == "mis_selling"


def test_a_grievance_close_to_the_case_cause_does_not_switch(settings, kb):
    ranking = [("surrender_loss", 0.62), ("mis_selling", 0.35)]  # confident, but no margin
    assert reading(settings, kb, "mis_selling", "surrender_loss", ranking, "亏了这么多").role == COMPLAINT


@pytest.mark.parametrize("intent", ["provide_info", "demand_compensation", "ask_status"])
def test_an_act_never_switches_however_its_cause_reads(settings, kb, intent):
    ranking = [("fees_and_charges", 0.95)]
    read = reading(settings, kb, "debt_collection", intent, ranking, "另外还要收违约金", domain="bank")
    assert read.role == ACT and not read.may_switch
    assert read.weight == settings.act_weights[intent]


def test_an_unsure_turn_never_switches(settings, kb):
    read = reading(
        settings, kb, "mis_selling", "surrender_loss", [("surrender_loss", 0.9)], "亏了", low_confidence=True
    )
    assert read.role == ACT and read.weight == settings.act_weights["nlu_fallback"] and not read.may_switch


def test_without_a_case_cause_a_complaint_names_it(settings, kb):
    ranking = [("surrender_loss", 0.7), ("mis_selling", 0.2)]
    read = reading(settings, kb, None, "surrender_loss", ranking, "交了两年，现金价值三万二")
    assert read.role == COMPLAINT and read.weight == 1.0
    assert play(settings, kb, [("surrender_loss", ranking, "交了两年，现金价值三万二")]) == ["surrender_loss"]


def test_the_same_cause_again_counts_fully(settings, kb):
    read = reading(settings, kb, "mis_selling", "mis_selling", [("mis_selling", 0.7)], "交了两年")
    assert read.role == COMPLAINT and read.weight == 1.0


def test_a_broken_pattern_fails_the_settings_load():
    with pytest.raises(re.error):
        CauseEvidenceSettings.from_dict({"new_complaint": {"grievance": ["亏("]}})


@pytest.mark.parametrize(
    "intent, ranking, text, domain",
    [
        ("fees_and_charges", [("fees_and_charges", 0.97)], "另外你们还乱扣我信用卡年费，这个我也要投诉", "bank"),
        ("service_attitude", [("service_attitude", 0.92)], "还有一件事，网点柜员对我大吼大叫", "bank"),
        (
            "unauthorized_transaction",
            [("unauthorized_transaction", 0.92)],
            "上个月卡被盗刷了五千块，你们也不管",
            "bank",
        ),
        ("metro_fare_ticketing", [("metro_fare_ticketing", 0.8)], "我在地铁站被收了两次钱", "metro"),
    ],
)
def test_second_complaints_in_other_words_switch(settings, kb, intent, ranking, text, domain):
    assert reading(settings, kb, "mis_selling", intent, ranking, text, domain).role == NEW_COMPLAINT


@pytest.mark.parametrize(
    "intent, low_confidence", [("out_of_scope", False), ("provide_info", False), ("fees_and_charges", True)]
)
def test_a_first_turn_that_states_its_complaint_clearly_opens_the_case_whatever_its_act(
    settings, kb, intent, low_confidence
):
    ranking = [("debt_collection", 0.9), ("privacy_concern", 0.05)]
    text = "催收天天打电话骚扰我的家人和同事"
    read = reading(settings, kb, None, intent, ranking, text, domain="bank", low_confidence=low_confidence)
    assert read.role == COMPLAINT and read.weight == 1.0
    scores = add_evidence(settings, {}, ranking, read.weight)
    assert case_cause(settings, scores, None, read.may_switch) == "debt_collection"


@pytest.mark.parametrize(
    "ranking, text",
    [
        ([("debt_collection", 0.45), ("privacy_concern", 0.3)], "催收天天打电话骚扰我的家人和同事"),  # cause unsure
        ([("surrender_loss", 0.9)], "交了两年，现金价值三万二"),  # facts, no grievance
    ],
)
def test_an_unclear_first_turn_read_as_an_act_stays_an_act(settings, kb, ranking, text):
    read = reading(settings, kb, None, "out_of_scope", ranking, text)
    assert read.role == ACT and read.weight == settings.act_weights.get("out_of_scope", 0.0)
    unsure = reading(settings, kb, None, "surrender_loss", ranking, text, low_confidence=True)
    assert unsure.role == ACT and unsure.weight == settings.act_weights["nlu_fallback"]


def test_an_act_in_a_case_that_has_a_cause_never_opens_it_again(settings, kb):
    ranking = [("debt_collection", 0.9)]
    read = reading(settings, kb, "fees_and_charges", "out_of_scope", ranking, "催收天天打电话骚扰我", domain="bank")
    assert read.role == ACT and not read.may_switch


@pytest.mark.parametrize("case", [None, "fees_and_charges"])
def test_a_turn_that_only_threatens_adds_no_cause_evidence(settings, kb, case):
    """ "再不解决我就去银保监投诉" names no cause: the cause model spreads its guess over causes all the same."""
    ranking = [("mis_selling", 0.66), ("fees_and_charges", 0.1)]
    text = "再不解决我就去银保监投诉"
    read = reading(settings, kb, case, "threaten_escalation", ranking, text, domain="bank")
    assert read.role == ACT and read.weight == 0.0 and not read.may_switch
    assert play(settings, kb, [("threaten_escalation", ranking, text)]) == [None]
