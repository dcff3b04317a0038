"""The real-words figures of `make eval`, computed on small labelled sets made up here.

The real sets (../shared/real-dev) are evaluation only; these tests check that
each figure means what the report says, and run without them.
"""

from pathlib import Path
from typing import Any, Dict, List

import pytest

from deescalate.tools import real_words as rw
from deescalate.tools.real_words_report import markdown
from deescalate.tools.real_words_scores import (
    Predictions,
    bootstrap_interval,
    cause_scores,
    emotion_macro_f1,
    escalation_scores,
    intervals,
    scores,
    share_interval,
    upset_f1,
)


def complaint(cause: str, emotion: str = "angry", **extra: Any) -> Dict[str, Any]:
    return {"text": "扣了我的钱", "intent": cause, "emotion": emotion, "escalation": [], **extra}


def test_the_cause_macro_f1_averages_only_causes_with_five_items():
    items = [complaint("fees_and_charges")] * 5 + [complaint("debt_collection")] * 5 + [complaint("metro_delay")]
    predicted: List[Any] = ["fees_and_charges"] * 5 + ["debt_collection"] * 5 + ["long_wait"]
    found = cause_scores(items, predicted)
    assert found["cause_macro_f1"] == 1.0  # the one metro item is not averaged
    assert set(found["per_cause"]) == {"fees_and_charges", "debt_collection"}
    assert found["cause_accuracy"] == round(10 / 11, 4)
    assert found["most_confused"] == [{"gold": "metro_delay", "predicted": "long_wait", "count": 1}]


def test_lenient_accuracy_counts_the_labelled_alternative_and_high_items_apart():
    items = [
        complaint("fees_and_charges", confidence="high"),
        complaint("mis_selling", confidence="medium", alt="fees_and_charges"),
        complaint("debt_collection", confidence="high"),
    ]
    found = cause_scores(items, ["fees_and_charges", "fees_and_charges", None])
    assert found["cause_accuracy"] == round(1 / 3, 4)
    assert found["lenient_accuracy"] == round(2 / 3, 4)
    assert (found["high_items"], found["high_accuracy"], found["high_lenient_accuracy"]) == (2, 0.5, 0.5)


def test_escalation_is_scored_per_complaint_and_per_value():
    gold = [["regulator"], ["media", "legal"], [], []]
    predicted = [["consumer_association"], ["media"], ["police"], []]
    found = escalation_scores(gold, predicted)
    assert (found["escalation_recall"], found["escalation_precision"]) == (1.0, round(2 / 3, 4))
    assert (found["escalation_value_recall"], found["escalation_value_precision"]) == (round(1 / 3, 4), round(1 / 3, 4))
    assert found["escalation_false_alarms"] == 1


def test_upset_is_angry_furious_or_anxious_and_macro_f1_scores_only_gold_emotions():
    assert upset_f1(["angry", "anxious", "calm"], ["furious", "angry", "confused"]) == 1.0
    assert upset_f1(["angry", "calm"], ["calm", "angry"]) == 0.0
    # "furious" is predicted but no item carries it: it is not a class of this set
    assert emotion_macro_f1(["calm", "angry"], ["calm", "furious"]) == 0.5


def test_a_peer_without_threats_or_confidence_gets_no_such_figures():
    items, posts = [complaint("fees_and_charges")] * 2, [{"text": "好烦", "emotion": "angry"}]
    peer = scores(items, posts, Predictions(["fees_and_charges"] * 2, ["angry", "calm"], ["angry"]))
    assert "escalation_recall" not in peer and "fallback_rate" not in peer
    ours = scores(
        items,
        posts,
        Predictions(
            ["fees_and_charges"] * 2, ["angry"] * 2, ["calm"], [[], []], [True, False], ["fees_and_charges", None]
        ),
    )
    assert (ours["fallback_rate"], ours["intent_fallback_rate"], ours["escalation_recall"]) == (0.5, 0.5, 1.0)
    assert ours["weibo"] == {"items": 1, "upset_f1": 0.0, "emotion_macro_f1": 0.0}


def test_a_share_interval_is_honest_about_small_perfect_counts():
    low, high = share_interval([True] * 19)
    assert 0.8 < low < 0.9 and high == 1.0
    assert share_interval([]) is None
    wide, narrow = share_interval([True, False] * 10), share_interval([True, False] * 200)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]


def test_a_bootstrap_interval_holds_the_figure_is_reproducible_and_narrows_with_more_items():
    def accuracy_of(flags: List[bool]):
        return lambda idx: sum(flags[i] for i in idx) / len(idx)

    few, many = [True, True, False] * 10, [True, True, False] * 200
    first = bootstrap_interval(accuracy_of(few), len(few))
    assert first == bootstrap_interval(accuracy_of(few), len(few))
    assert first[0] < 2 / 3 < first[1]
    wide, narrow = first[1] - first[0], bootstrap_interval(accuracy_of(many), len(many))
    assert narrow[1] - narrow[0] < wide / 2
    assert bootstrap_interval(accuracy_of([True]), 1) is None


def test_the_lead_interval_resamples_both_readers_together():
    items = [complaint(c) for c in ["fees_and_charges", "debt_collection", "mis_selling"] * 20]
    right = [i["intent"] for i in items]
    wrong_third = [c if k % 3 else "unauthorized_transaction" for k, c in enumerate(right)]
    posts = [{"text": "好烦", "emotion": e} for e in ["angry", "calm"] * 5]
    weibo = [p["emotion"] for p in posts]
    ours = Predictions(right, ["angry"] * 60, weibo, [[] for _ in items])
    found = intervals(items, posts, ours, Predictions(wrong_third, ["calm"] * 60, weibo))
    assert found["cause_macro_f1"] == (1.0, 1.0) and 0 < found["lead"][0] <= found["lead"][1]
    assert intervals(items, posts, ours, ours)["lead"] == (0.0, 0.0)
    assert found["escalation_recall"] is None  # no complaint carries a threat: nothing to recall
    assert found["escalation_precision"] is None


def test_figures_and_limits_are_named_alike_for_retrain():
    figures = rw.flat_figures({"cause_macro_f1": 0.8, "most_confused": [], "weibo": {"items": 3, "upset_f1": 0.7}})
    assert figures == {"cause_macro_f1": 0.8, "weibo_upset_f1": 0.7}
    floors, ceilings = rw.flat_limits(
        {
            "complaints": {"cause_macro_f1": 0.7},
            "complaints_at_most": {"fallback_rate": 0.05},
            "weibo": {"upset_f1": 0.6},
        }
    )
    assert floors == {"cause_macro_f1": 0.7, "weibo_upset_f1": 0.6} and ceilings == {"fallback_rate": 0.05}


def report_of(items: List[Dict[str, Any]], posts: List[Dict[str, Any]]) -> Dict[str, Any]:
    causes = [i["intent"] for i in items]
    nothing = [False] * len(items)
    ours = Predictions(causes, ["angry"] * len(items), ["angry"] * len(posts), [[] for _ in items], nothing, causes)
    peer = Predictions(["fees_and_charges"] * len(items), ["calm"] * len(items), ["calm"] * len(posts))
    return {
        "model": scores(items, posts, ours),
        "intervals": intervals(items, posts, ours, peer),
        "plain_baseline": scores(items, posts, peer),
        "snownlp": None,
    }


def test_the_report_shows_each_figure_beside_its_interval_and_its_peers():
    items = [complaint(c, confidence="high") for c in ["fees_and_charges", "debt_collection"] * 5]
    posts = [{"text": "好烦", "emotion": e} for e in ["angry", "calm"] * 3]
    text = markdown(report_of(items, posts))
    assert "| metric | model | 95% interval | plain char n-gram LR | SnowNLP | target |" in text
    assert "| cause macro-F1 (causes with ≥ 5 items) | 1.000 | 1.000 – 1.000 | 0.333 | – | ≥ 0.80 |" in text
    low, _ = share_interval([True] * 10)  # all ten high-confidence items right
    assert f"| lenient accuracy, confidence: high | 1.000 | {low:.3f} – 1.000 |" in text
    assert "| lead over the baseline (cause macro-F1) | +0.667 | +" in text
    assert "| escalation recall | 1.000 |  | – | – | ≥ 0.95 |" in text  # no threat among the items
    assert "## Weibo posts (`emotion_weibo.yml`, 6 items)" in text


@pytest.mark.parametrize(
    "typed, spoken",
    [
        ("扣了我300元，凭什么？！", "扣了我300元凭什么"),
        ("我打了12315 12378，都没用。", "我打了12315 12378都没用"),  # two numbers stay apart
        ("ATM 吞了卡 …… 你们说（三天）到账", "ATM吞了卡你们说三天到账"),
        ("“年费”是什么；我没同意", "年费是什么我没同意"),
        ("，。！", ""),
    ],
)
def test_as_speech_drops_punctuation_and_spaces(typed: str, spoken: str):
    assert rw.as_speech(typed) == spoken


def test_the_report_compares_typed_and_spoken_figures_when_both_were_measured():
    items = [complaint(c, confidence="high") for c in ["fees_and_charges", "debt_collection"] * 5]
    posts = [{"text": "好烦", "emotion": e} for e in ["angry", "calm"] * 3]
    report = report_of(items, posts)
    assert "speech-to-text" not in markdown(report)
    spoken = Predictions(
        ["fees_and_charges"] * 10,
        ["angry"] * 10,
        ["calm"] * 6,
        [[] for _ in items],
        None,
        [None] + ["fees_and_charges"] * 9,
    )
    report["model"]["speech"] = scores(items, posts, spoken)
    text = markdown(report)
    assert "| metric | as typed | as speech-to-text | change |" in text
    assert "| cause macro-F1 | 1.000 | 0.333 | -0.667 |" in text
    assert "| fallback rate | 0.000 | 0.100 | +0.100 |" in text
    assert "| Weibo upset-vs-calm F1 | 0.667 | 0.000 | -0.667 |" in text


def test_without_the_folder_the_evaluation_skips_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture):
    assert rw.real_dev_dir(tmp_path) is None
    assert rw.main(["--real-dev", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == rw.SKIP_MESSAGE


def test_the_assists_cause_counts_a_complaint_it_names_no_cause_for_against_recall():
    items = [complaint(c) for c in ["fees_and_charges"] * 5 + ["debt_collection"] * 5]
    shown = ["fees_and_charges"] * 4 + [None] + ["debt_collection"] * 5
    ours = scores(
        items,
        [],
        Predictions(
            [i["intent"] for i in items],
            ["calm"] * 10,
            [],
            [[] for _ in items],
            [False] * 10,
            shown,
        ),
    )
    assert ours["cause_macro_f1"] == 1.0 and ours["fallback_rate"] == 0.1
    # fees: precision 1, recall 0.8 -> F1 0.889; debt collection 1.0
    assert ours["shown_cause_macro_f1"] == round((2 * 0.8 / 1.8 + 1.0) / 2, 4)
    assert "| fallback rate (the assist names no cause) | 0.100 |" in markdown(
        {
            "model": ours,
            "plain_baseline": scores(items, [], Predictions(["fees_and_charges"] * 10, ["calm"] * 10, [])),
            "snownlp": None,
            "intervals": {},
        }
    )


def parse_of(text: str, intent: str, confidence: float, cause: str, cause_confidence: float) -> Dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": [],
        "emotion": {"name": "angry", "confidence": 0.8},
        "cause": {
            "name": cause,
            "confidence": cause_confidence,
            "ranking": [{"name": cause, "confidence": cause_confidence}],
        },
    }


def test_the_fallback_is_read_from_what_the_assist_names_on_a_first_turn():
    written = "催收公司天天打电话骚扰我的家人，还威胁要上门"
    shown = rw.first_turn_causes(
        [
            parse_of(written, "out_of_scope", 0.5, "debt_collection", 0.9),  # the act says nothing, the cause is plain
            parse_of(written, "nlu_fallback", 0.4, "debt_collection", 0.45),  # unsure on both counts
            parse_of("你好", "greet", 0.98, "debt_collection", 0.35),  # a greeting names no cause
            parse_of(written, "debt_collection", 0.9, "debt_collection", 0.9),
        ]
    )
    assert shown == ["debt_collection", None, None, "debt_collection"]
