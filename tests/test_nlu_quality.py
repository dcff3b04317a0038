"""Regression guard: the trained model stays above floors.

On the held-out split (tests/nlu_test) the floors sit a little below the
targets that `make eval` reports against, so a data or pipeline change that
breaks understanding fails CI. On real customers' words (../shared/real-dev,
evaluation only) the floors sit just below what the model reaches today; those
tests skip when the folder is not beside the repository. All floors are in
deescalate/tools/floors.yml.
"""

import asyncio

import pytest

from deescalate.contract import CAUSES
from deescalate.tools.build import ROOT
from deescalate.tools.evaluate import evaluate, load_floors, parse_all
from deescalate.tools.real_words import RealWords, flat_figures, flat_limits, real_dev_dir, score_model

FLOORS = load_floors()["own_split"]  # deescalate/tools/floors.yml, shared with `make retrain`
MAX_TRADITIONAL_GAP = load_floors()["max_traditional_gap"]
REAL = load_floors()["real_words"]


@pytest.fixture(scope="module")
def report(trained_model):
    return evaluate(trained_model, ROOT / "tests" / "nlu_test")


@pytest.fixture(scope="module")
def real_report(trained_model):
    folder = real_dev_dir()
    if folder is None:
        pytest.skip("no ../shared/real-dev beside the repository: real-words floors not checked")
    sets = RealWords.load(folder)
    return score_model(trained_model, sets.complaints, sets.weibo)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_metric_stays_above_its_floor(report, metric):
    assert report[metric] >= FLOORS[metric], f"{metric} = {report[metric]}"


def test_traditional_is_understood_nearly_as_well_as_simplified(report):
    assert report["traditional_examples"] >= 20
    assert report["traditional_gap"] <= MAX_TRADITIONAL_GAP


def test_every_contract_intent_is_in_the_test_split(report):
    from deescalate.contract import INTENTS

    assert set(INTENTS) <= set(report["intent_confusion"]["labels"])


@pytest.mark.parametrize("metric", sorted(REAL["complaints"]))
def test_real_complaints_stay_above_their_floor(real_report, metric):
    assert real_report[metric] >= REAL["complaints"][metric], f"{metric} = {real_report[metric]}"


@pytest.mark.parametrize("metric", sorted(REAL["complaints_at_most"]))
def test_real_complaints_stay_below_their_ceiling(real_report, metric):
    assert real_report[metric] <= REAL["complaints_at_most"][metric], f"{metric} = {real_report[metric]}"


@pytest.mark.parametrize("metric", sorted(REAL["weibo"]))
def test_real_weibo_posts_stay_above_their_floor(real_report, metric):
    assert real_report["weibo"][metric] >= REAL["weibo"][metric], f"{metric} = {real_report['weibo'][metric]}"


@pytest.mark.parametrize("metric", sorted(REAL["speech"]))
def test_real_words_as_speech_to_text_writes_them_stay_above_their_floor(real_report, metric):
    found = flat_figures(real_report)[f"speech_{metric}"]
    assert found >= REAL["speech"][metric], f"speech {metric} = {found}"


def test_retrain_judges_real_words_by_figures_the_evaluation_reports(real_report):
    """Every real-words figure `make retrain` checks or compares is one `make eval` measures."""
    floors, ceilings = flat_limits(REAL)
    compared = load_floors()["retrain"]["real_words"]["compare"]
    assert {*floors, *ceilings, *compared} <= set(flat_figures(real_report))
    assert flat_figures(real_report)["weibo_upset_f1"] == real_report["weibo"]["upset_f1"]


def test_every_turn_gets_a_cause_beside_its_dialogue_act(trained_model):
    narrative = (
        "2023年3月在某消费金融App借了两万元，分24期，每期还1180元。上个月我想提前结清，"
        "客服说要另交剩余本金百分之五的违约金，合同里根本没写这一条。"
        "他们的客服电话也总是打不通。要求退还多收的费用。"
    )
    greeting, story = asyncio.run(parse_all(trained_model, ["你好", narrative]))
    for parse in (greeting, story):
        cause = parse["cause"]
        assert cause["name"] in CAUSES and 0 <= cause["confidence"] <= 1
        assert [c["confidence"] for c in cause["ranking"]] == sorted(
            (c["confidence"] for c in cause["ranking"]), reverse=True
        )
    assert story["cause"]["name"] == "fees_and_charges"
    secondary = story["cause"]["secondary"]
    assert secondary is None or secondary["name"] != "fees_and_charges"


CODE_SWITCHED = [
    ("app登不上去 verification code一直没收到 急死了", "verification_friction"),
    ("我的account昨天被freeze了 transfer全部失败", "account_restriction"),
]
THREATS_ALONE = [
    "那行 我现在就去银保监会反映",
    "你们等着 我明天就找记者曝光",
    "我已经请好律师了 法院见",
    "再拖下去我就打一二三七八",
    "再不解决我就去银保监投诉",  # a condition that names no grievance
]
THREAT_WITH_GRIEVANCE = "退保一下扣了我两万多 我要去法院告你们"


@pytest.fixture(scope="module")
def probes(trained_model):
    """The probe turns below, parsed with one load of the model."""
    texts = [text for text, _ in CODE_SWITCHED] + THREATS_ALONE + [THREAT_WITH_GRIEVANCE]
    return dict(zip(texts, asyncio.run(parse_all(trained_model, texts))))


@pytest.mark.parametrize("text, cause", CODE_SWITCHED)
def test_a_complaint_with_english_words_mixed_in_gets_its_cause_named(probes, text, cause):
    """Bilingual customers name the thing in English; the assist still names the cause on the first turn."""
    from deescalate.tools.real_words import first_turn_causes

    parse = probes[text]
    assert parse["intent"]["name"] != "out_of_scope"
    assert first_turn_causes([parse]) == [cause]


@pytest.mark.parametrize("text", THREATS_ALONE)
def test_a_turn_that_only_threatens_is_that_act_and_names_no_cause(probes, text):
    """A threat alone is what the customer does, not what the complaint is about: the assist waits for the grievance."""
    from deescalate.tools.real_words import first_turn_causes

    parse = probes[text]
    assert parse["intent"]["name"] == "threaten_escalation"
    assert any(e["entity"] == "escalation" for e in parse["entities"])
    assert first_turn_causes([parse]) == [None]


def test_a_threat_that_states_its_grievance_keeps_the_cause(probes):
    from deescalate.tools.real_words import first_turn_causes

    parse = probes[THREAT_WITH_GRIEVANCE]
    assert parse["intent"]["name"] == "surrender_loss"
    assert first_turn_causes([parse]) == ["surrender_loss"]
