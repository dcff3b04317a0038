"""The n-gram classifier's model: calibrated probabilities that survive saving, and the settings search."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

from deescalate.nlu.ngram_classifier import LinearModel, NgramModel, calibrated_probabilities
from deescalate.tools.nlu_cv import Example, component_config, k_fold, leave_one_writer_out, neighbours

CONFIG = {"max_char_ngram": 2, "word_weight": 0.7, "C": 1.0, "calibration_folds": 3}

TEXTS = {
    "atm_malfunction": [
        "取款机吞了我的卡",
        "ATM没出钞却扣了钱",
        "机器吐钱少了五百",
        "存款机吃了钱没入账",
        "取款机卡住不退卡",
        "自助机显示失败但扣款了",
    ],
    "metro_delay": [
        "地铁晚点了半小时",
        "列车停在隧道里不动",
        "二号线又故障停运",
        "车一直不来要迟到了",
        "地铁延误害我误了火车",
        "早高峰列车晚了二十分钟",
    ],
    "thank": ["谢谢你", "太感谢了", "多谢帮忙", "谢谢你们处理这么快", "辛苦了谢谢", "非常感谢你的耐心"],
}


def examples(group_size: int = 3):
    out = []
    for label, texts in TEXTS.items():
        for i, text in enumerate(texts):
            out.append(Example(text, list(text), label, f"writer{i // group_size}"))
    return out


def fitted():
    data = examples()
    return NgramModel(CONFIG).fit([e.text for e in data], [e.tokens for e in data], [e.label for e in data])


def test_probabilities_match_scikit_learn_calibration():
    model = fitted()
    features = model.features(["取款机吞卡了", "谢谢"], [list("取款机吞卡了"), list("谢谢")])
    train = examples()
    reference = CalibratedClassifierCV(
        LinearSVC(C=1.0, class_weight="balanced", random_state=0), cv=3, method="sigmoid", ensemble=False
    )
    reference.fit(
        model.features([e.text for e in train], [e.tokens for e in train]), np.array([e.label for e in train])
    )
    assert np.allclose(model.linear.predict_proba(features), reference.predict_proba(features))


def test_a_saved_model_predicts_exactly_as_the_trained_one(tmp_path):
    model = fitted()
    texts, tokens = ["ATM吞了卡", "地铁又停了", "谢啦"], [list("ATM吞了卡"), list("地铁又停了"), list("谢啦")]
    model.save(tmp_path)
    loaded = NgramModel.load(CONFIG, tmp_path)
    assert loaded.classes == model.classes
    assert np.array_equal(loaded.predict_proba(texts, tokens), model.predict_proba(texts, tokens))
    assert [loaded.classes[i] for i in loaded.predict_proba(texts, tokens).argmax(axis=1)] == [
        "atm_malfunction",
        "metro_delay",
        "thank",
    ]


def test_loading_a_folder_without_the_calibration_arrays_fails_clearly(tmp_path):
    model = fitted()
    model.save(tmp_path)
    arrays = dict(np.load(tmp_path / "ngram_arrays.npz"))
    del arrays["sigmoid_a"]
    np.savez(tmp_path / "ngram_arrays.npz", **arrays)
    with pytest.raises(KeyError):
        NgramModel.load(CONFIG, tmp_path)


def test_probabilities_are_normalised_and_fall_back_to_uniform():
    scores = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    probabilities = calibrated_probabilities(scores, np.array([-1.0, -1.0, -1.0]), np.zeros(3))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0].argmax() == 0
    assert np.allclose(probabilities[1], 1 / 3)
    vanished = calibrated_probabilities(np.zeros((1, 2)), np.array([-1000.0, -1000.0]), np.array([-1e6, -1e6]))
    assert np.allclose(vanished, 0.5)


def test_a_label_with_one_example_still_trains_uncalibrated():
    texts = ["取款机吞卡", "取款机少吐钱", "地铁晚点", "地铁停运", "谢谢"]
    features = NgramModel(CONFIG).features(texts, [list(t) for t in texts], fit=True)
    model = LinearModel.fit(features, ["atm", "atm", "metro", "metro", "thank"], C=1.0, folds=5)
    assert model.classes == ["atm", "metro", "thank"]
    assert np.array_equal(model.sigmoid_a, -np.ones(3))
    probabilities = model.predict_proba(features)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert [model.classes[i] for i in probabilities.argmax(axis=1)] == ["atm", "atm", "metro", "metro", "thank"]


@pytest.mark.parametrize("folds", [1, 3])
def test_two_labels_give_two_probabilities(folds):
    data = [e for e in examples() if e.label != "thank"]
    features = NgramModel(CONFIG).features([e.text for e in data], [e.tokens for e in data], fit=True)
    model = LinearModel.fit(features, [e.label for e in data], C=1.0, folds=folds)
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (len(data), 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert [model.classes[i] for i in probabilities.argmax(axis=1)] == [e.label for e in data]


def test_settings_search_starts_from_the_config_and_changes_one_setting_at_a_time():
    base = component_config("intent")
    assert base["max_char_ngram"] >= 1 and base["C"] > 0
    candidates = neighbours(base)
    assert candidates[0] == base
    for candidate in candidates[1:]:
        assert sum(candidate[k] != base[k] for k in base) == 1
        assert all(value > 0 for value in candidate.values() if isinstance(value, (int, float)))


def test_cross_validation_scores_a_separable_task_highly():
    data = examples()
    assert leave_one_writer_out(CONFIG, data) > 0.8
    assert k_fold(CONFIG, data, folds=3) > 0.8
