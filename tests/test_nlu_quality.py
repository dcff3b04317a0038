"""Regression guard: the trained model on the held-out split stays above floors.

The floors sit a little below the targets that `make eval` reports against,
so a data or pipeline change that breaks understanding fails CI.
"""
import pytest

from deescalate.tools.build import ROOT
from deescalate.tools.evaluate import evaluate, load_floors

FLOORS = load_floors()["own_split"]          # deescalate/tools/floors.yml, shared with `make retrain`
MAX_TRADITIONAL_GAP = load_floors()["max_traditional_gap"]


@pytest.fixture(scope="module")
def report(trained_model):
    return evaluate(trained_model, ROOT / "tests" / "nlu_test")


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_metric_stays_above_its_floor(report, metric):
    assert report[metric] >= FLOORS[metric], f"{metric} = {report[metric]}"


def test_traditional_is_understood_nearly_as_well_as_simplified(report):
    assert report["traditional_examples"] >= 20
    assert report["traditional_gap"] <= MAX_TRADITIONAL_GAP


def test_every_contract_intent_is_in_the_test_split(report):
    from deescalate.contract import INTENTS

    assert set(INTENTS) <= set(report["intent_confusion"]["labels"])
