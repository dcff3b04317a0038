"""`make retrain` / `make rollback`: the promotion decision, the serving pointer and the model card.

The unit tests use small figure dicts and fake model files; one slower test
(marked `stack`) runs the real comparison on the cached model of the current
data and is skipped when that model has not been trained.
"""

from pathlib import Path
from typing import Any, Dict, List

import pytest

from deescalate.tools import retrain as rt
from deescalate.tools.build import model_path
from deescalate.tools.evaluate import load_floors
from deescalate.tools.real_words import RealWords, flat_limits
from deescalate.tools.serving import ServingError, promote, read_pointer, rollback, serving_model

FLOORS = load_floors()


def figures(**changes: float) -> Dict[str, float]:
    """Figures comfortably above every floor, with `changes` applied."""
    good = {metric: min(1.0, floor + 0.04) for metric, floor in FLOORS["own_split"].items()}
    good["traditional_gap"] = 0.01
    return {**good, **changes}


REAL_FLOORS, REAL_CEILINGS = flat_limits(FLOORS["real_words"])
REAL_DROP = FLOORS["retrain"]["real_words"]["max_drop"]


def real(**changes: float) -> Dict[str, float]:
    """Real-words figures just above their floors and under their ceilings, with `changes` applied."""
    good = {metric: min(1.0, floor + 0.02) for metric, floor in REAL_FLOORS.items()}
    good.update({metric: ceiling - 0.02 for metric, ceiling in REAL_CEILINGS.items()})
    for metric in FLOORS["retrain"]["real_words"]["compare"]:
        good.setdefault(metric, 0.5)
    return {**good, **changes}


# ---------------------------------------------------------------- the decision


def test_a_good_candidate_is_promoted():
    decision = rt.decide(
        {rt.OWN_SPLIT: figures(), rt.REAL_DEV: real(cause_macro_f1=0.82)},
        {rt.OWN_SPLIT: figures(intent_macro_f1=0.94), rt.REAL_DEV: real(cause_macro_f1=0.81)},
        FLOORS,
    )
    assert decision.promote and decision.reasons == []
    assert {c.dataset for c in decision.checks} == {rt.OWN_SPLIT, rt.REAL_DEV}


def test_without_a_serving_model_the_floors_alone_decide():
    assert rt.decide({rt.OWN_SPLIT: figures()}, None, FLOORS).promote
    assert not rt.decide({rt.OWN_SPLIT: figures(amount_exact=0.5)}, None, FLOORS).promote


@pytest.mark.parametrize("metric", sorted(FLOORS["own_split"]))
def test_a_candidate_below_any_floor_is_refused(metric: str):
    below = FLOORS["own_split"][metric] - 0.005
    decision = rt.decide({rt.OWN_SPLIT: figures(**{metric: below})}, None, FLOORS)
    assert not decision.promote
    assert decision.reasons == [
        f"{rt.OWN_SPLIT}: {metric} {below:.3f} is below the floor {FLOORS['own_split'][metric]:.2f}"
    ]


def test_a_candidate_above_the_floors_that_loses_to_the_serving_model_is_refused():
    serving = figures(emotion_macro_f1=0.95)
    drop = 0.95 - FLOORS["retrain"]["max_drop"] - 0.01
    decision = rt.decide({rt.OWN_SPLIT: figures(emotion_macro_f1=drop)}, {rt.OWN_SPLIT: serving}, FLOORS)
    assert not decision.promote
    assert "worse than the serving model's 0.950" in decision.reasons[0]
    # a drop within max_drop is noise, not a regression
    within = 0.95 - FLOORS["retrain"]["max_drop"]
    assert rt.decide({rt.OWN_SPLIT: figures(emotion_macro_f1=within)}, {rt.OWN_SPLIT: serving}, FLOORS).promote


def test_a_drop_on_real_words_is_refused_though_the_own_split_is_fine():
    serving = real(escalation_recall=1.0)
    dropped = round(1.0 - REAL_DROP - 0.01, 3)
    decision = rt.decide(
        {rt.OWN_SPLIT: figures(), rt.REAL_DEV: real(escalation_recall=dropped)},
        {rt.OWN_SPLIT: figures(), rt.REAL_DEV: serving},
        FLOORS,
    )
    assert not decision.promote
    assert decision.reasons == [
        f"{rt.REAL_DEV}: escalation_recall {dropped:.3f} is worse than the serving model's 1.000 by more than {REAL_DROP}"
    ]


def test_real_words_allow_a_wider_drop_than_the_held_out_split():
    """One complaint in 463 moves a macro-F1 by more than the held-out split's max_drop."""
    within = real(upset_f1=REAL_FLOORS["upset_f1"] + 0.02 + FLOORS["retrain"]["max_drop"] + 0.005)
    serving = real(upset_f1=within["upset_f1"] + FLOORS["retrain"]["max_drop"] + 0.005)
    assert REAL_DROP > FLOORS["retrain"]["max_drop"]
    assert rt.decide(
        {rt.OWN_SPLIT: figures(), rt.REAL_DEV: within}, {rt.OWN_SPLIT: figures(), rt.REAL_DEV: serving}, FLOORS
    ).promote


@pytest.mark.parametrize("metric", sorted(REAL_FLOORS))
def test_a_candidate_below_a_real_words_floor_is_refused(metric: str):
    below = round(REAL_FLOORS[metric] - 0.005, 3)
    decision = rt.decide({rt.OWN_SPLIT: figures(), rt.REAL_DEV: real(**{metric: below})}, None, FLOORS)
    assert not decision.promote
    assert decision.reasons == [f"{rt.REAL_DEV}: {metric} {below:.3f} is below the floor {REAL_FLOORS[metric]:.2f}"]


@pytest.mark.parametrize("metric", sorted(REAL_CEILINGS))
def test_a_candidate_above_a_real_words_ceiling_is_refused(metric: str):
    above = round(REAL_CEILINGS[metric] + 0.01, 3)
    decision = rt.decide({rt.OWN_SPLIT: figures(), rt.REAL_DEV: real(**{metric: above})}, None, FLOORS)
    assert not decision.promote and decision.reasons == [
        f"{rt.REAL_DEV}: {metric} {above:.3f} is above the ceiling {REAL_CEILINGS[metric]:.2f}"
    ]


def test_the_traditional_gap_is_a_ceiling():
    gap = FLOORS["max_traditional_gap"] + 0.02
    decision = rt.decide({rt.OWN_SPLIT: figures(traditional_gap=gap)}, None, FLOORS)
    assert not decision.promote and "above the ceiling" in decision.reasons[0]


def test_a_figure_that_was_not_measured_is_no_pass():
    candidate = figures()
    del candidate["escalation_recall"]
    decision = rt.decide({rt.OWN_SPLIT: candidate}, None, FLOORS)
    assert not decision.promote and decision.reasons == [f"{rt.OWN_SPLIT}: escalation_recall was not measured"]


# ---------------------------------------------------------------- the pointer and rollback


def fake_model(cache: Path, name: str) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"assist-{name}.tar.gz"
    path.write_bytes(b"not a real model: " + name.encode())
    return path


def test_nothing_promoted_means_no_serving_model(tmp_path: Path):
    assert serving_model(tmp_path) is None
    with pytest.raises(ServingError, match="nothing has been promoted"):
        rollback(tmp_path)


def test_promote_then_roll_back_step_by_step(tmp_path: Path):
    first, second, third = (fake_model(tmp_path, n) for n in ("a1", "b2", "c3"))
    promote(first, tmp_path)
    promote(second, tmp_path)
    promote(third, tmp_path)
    assert serving_model(tmp_path) == third
    assert [p["model"] for p in read_pointer(tmp_path)["previous"]] == [second.name, first.name]
    assert rollback(tmp_path) == second and serving_model(tmp_path) == second
    assert rollback(tmp_path) == first
    assert rollback(tmp_path) is None  # back to before any promotion
    assert not (tmp_path / "serving.yml").exists() and serving_model(tmp_path) is None


def test_a_missing_model_is_never_served_or_rolled_back_to(tmp_path: Path):
    first, second = fake_model(tmp_path, "a1"), fake_model(tmp_path, "b2")
    promote(first, tmp_path)
    promote(second, tmp_path)
    first.unlink()
    with pytest.raises(ServingError, match="missing"):
        rollback(tmp_path)
    assert serving_model(tmp_path) == second  # nothing changed
    second.unlink()
    with pytest.raises(ServingError, match="missing"):
        serving_model(tmp_path)


def test_only_a_model_of_the_cache_can_be_promoted(tmp_path: Path):
    elsewhere = fake_model(tmp_path / "elsewhere", "x9")
    with pytest.raises(ServingError):
        promote(elsewhere, tmp_path / "cache")


# ---------------------------------------------------------------- the whole command, with fakes


class FakeEvaluator:
    """Figures per model file name, as the real evaluation would report them."""

    def __init__(self, by_model: Dict[str, Dict[str, Dict[str, float]]]) -> None:
        self.by_model = by_model
        self.calls: List[str] = []

    def __call__(self, model: Path, dataset: str, data: Any) -> Dict[str, Any]:
        self.calls.append(model.name)
        return self.by_model[model.name][dataset]


SETS = {rt.OWN_SPLIT: [{"text": "例句"}] * 3, rt.REAL_DEV: RealWords([{"text": "投诉"}] * 4, [{"text": "微博"}])}


def test_retrain_promotes_a_good_candidate_and_refuses_a_damaged_one(tmp_path: Path, capsys):
    cache, card = tmp_path / "cache", tmp_path / "results" / "model_card.md"
    old, good, damaged = (fake_model(cache, n) for n in ("old", "good", "damaged"))
    promote(old, cache)
    evaluate = FakeEvaluator(
        {
            old.name: {rt.OWN_SPLIT: figures(), rt.REAL_DEV: real()},
            good.name: {rt.OWN_SPLIT: figures(intent_macro_f1=0.96), rt.REAL_DEV: real(cause_macro_f1=0.81)},
            damaged.name: {rt.OWN_SPLIT: figures(intent_macro_f1=0.62), rt.REAL_DEV: real(cause_macro_f1=0.31)},
        }
    )

    refused = rt.retrain(lambda: damaged, evaluate, SETS, cache, card)
    assert refused is not None and not refused.promote
    assert serving_model(cache) == old
    text = card.read_text(encoding="utf-8")
    assert "REFUSED" in text and "| intent_macro_f1 | ≥ 0.91 |" in text and "FAIL" in text
    assert "0.620" in text and "-0.330" in text  # the candidate's figure and its change, held-out split

    promoted = rt.retrain(lambda: good, evaluate, SETS, cache, card)
    assert promoted is not None and promoted.promote
    assert serving_model(cache) == good
    assert "PROMOTED" in card.read_text(encoding="utf-8") and f"`{old.name}`" in card.read_text(encoding="utf-8")
    assert rollback(cache) == old

    evaluate.calls.clear()
    promote(good, cache)
    assert rt.retrain(lambda: good, evaluate, SETS, cache, card) is None  # already serving: nothing to do
    assert evaluate.calls == []
    assert "promoted" in capsys.readouterr().out


def test_the_quality_tests_and_retrain_share_one_set_of_floors():
    import tests.test_nlu_quality as quality

    assert quality.FLOORS == FLOORS["own_split"]
    assert quality.MAX_TRADITIONAL_GAP == FLOORS["max_traditional_gap"]


def test_the_real_words_folder_is_read_into_its_two_sets(tmp_path: Path):
    (tmp_path / "complaints.yml").write_text(
        "- {id: x1, text: 甲, intent: debt_collection, emotion: angry, escalation: [regulator]}\n"
        "- {id: x2, text: 乙, intent: skip, emotion: calm, escalation: []}\n",
        encoding="utf-8",
    )
    sets = RealWords.load(tmp_path)
    assert [i["id"] for i in sets.complaints] == ["x1"] and sets.weibo == [] and len(sets) == 1
    (tmp_path / "emotion_weibo.yml").write_text("- {id: w1, text: 123, emotion: calm}\n", encoding="utf-8")
    assert RealWords.load(tmp_path).weibo == [{"id": "w1", "text": "123", "emotion": "calm"}]


# ---------------------------------------------------------------- the real comparison


@pytest.mark.stack
def test_the_real_comparison_on_the_cached_model(tmp_path: Path):
    model = model_path()
    if not model.exists():
        pytest.skip(f"{model.name} is not trained yet (make model): the real comparison is not run")
    from deescalate.tools.build import build_spacy

    build_spacy()  # the model loads its tokenizer from build/
    cache = tmp_path / "cache"
    cache.mkdir()
    candidate = cache / model.name
    candidate.symlink_to(model)
    sets = rt.evaluation_sets()  # the held-out split, and the real words when ../shared/real-dev is there
    decision = rt.retrain(lambda: candidate, rt.measure, sets, cache, tmp_path / "card.md")
    assert decision is not None
    for dataset in sets:
        floors, ceilings, compare, _ = rt.limits(dataset, FLOORS)
        checks = {c.metric: c for c in decision.checks if c.dataset == dataset}
        assert set(floors) | set(ceilings) | set(compare) == set(checks)
        for metric, floor in floors.items():
            assert checks[metric].candidate is not None and checks[metric].ok == (checks[metric].candidate >= floor)
        for metric, ceiling in ceilings.items():
            assert checks[metric].candidate is not None and checks[metric].ok == (checks[metric].candidate <= ceiling)
    assert decision.promote == all(c.ok for c in decision.checks)
    assert (serving_model(cache) == candidate) == decision.promote
    card = (tmp_path / "card.md").read_text(encoding="utf-8")
    assert "| intent_macro_f1 |" in card
    if rt.REAL_DEV in sets:
        assert f"| cause_macro_f1 | ≥ {REAL_FLOORS['cause_macro_f1']:.2f} |" in card
        assert f"| fallback_rate | ≤ {REAL_CEILINGS['fallback_rate']:.2f} |" in card
