"""The n-gram scorer predicts what scikit-learn's vectorizers and SVM predict, from shared vocabularies."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from deescalate.nlu.ngram_classifier import NgramModel
from deescalate.nlu.ngram_scorer import VOCABULARIES, NgramScorer, Vocabulary, char_ngrams
from deescalate.tools.bench.settings import strip_annotations

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {"max_char_ngram": 2, "word_weight": 0.7, "C": 1.0, "calibration_folds": 3}
# Texts the scorer must read as the vectorizers do: runs of white space, a tab, upper case,
# full-width letters, punctuation runs, one character, nothing, n-grams no model has seen.
ODD_TEXTS = ["  ATM  吞卡\t\t了 ", "Ｏｋ  OK\tok", "！！？？", "谢", "", "龘靐齉", "ab\ncd\n\n ef"]


def tokens_of(text):
    """Stand-in word tokens (the scorer takes any token list): characters and whitespace-split words."""
    return [t.lower() for t in text.split() if t] + [c for c in text if c.strip()][:3]


def training_examples(limit_files=6):
    """Labelled texts of a few of the repository's NLU files (intent labels)."""
    texts, labels = [], []
    for path in sorted((ROOT / "data" / "nlu").rglob("*.yml"))[:limit_files]:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if not block.get("intent"):
                continue
            for example in block.get("examples") or []:
                raw = example.get("text") if isinstance(example, dict) else None
                if isinstance(raw, str) and raw.strip():
                    texts.append(strip_annotations(raw.strip()))
                    labels.append(block["intent"])
    return texts, labels


@pytest.fixture(scope="module")
def trained():
    texts, labels = training_examples()
    assert len(set(labels)) >= 3 and len(texts) >= 100
    return NgramModel(CONFIG).fit(texts, [tokens_of(t) for t in texts], labels), texts


def held_out_texts():
    texts = []
    for path in sorted((ROOT / "tests" / "nlu_test").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            for example in block.get("examples") or []:
                raw = example.get("text") if isinstance(example, dict) else None
                if isinstance(raw, str) and raw.strip():
                    texts.append(strip_annotations(raw.strip()))
    return texts


def test_char_ngrams_are_the_vectorizers_own(trained):
    model, _texts = trained
    analyzer = model.char.build_analyzer()
    for text in ODD_TEXTS + held_out_texts()[:50]:
        assert char_ngrams(text, CONFIG["max_char_ngram"]) == analyzer(text)


def test_probabilities_equal_scikit_learns_on_a_fixed_set_of_texts(trained):
    model, training_texts = trained
    texts = held_out_texts() + ODD_TEXTS + training_texts[:50]
    tokens = [tokens_of(t) for t in texts]
    assert model.linear is not None
    reference = model.linear.predict_proba(model.features(texts, tokens))
    ours = model.predict_proba(texts, tokens)
    assert ours.shape == reference.shape == (len(texts), len(model.classes))
    assert np.abs(ours - reference).max() < 1e-6  # float32 weights, float64 sums
    assert np.array_equal(ours.argmax(axis=1), reference.argmax(axis=1))


def test_a_loaded_model_keeps_no_vectorizer_and_predicts_as_the_fitted_one(trained, tmp_path):
    model, _texts = trained
    model.save(tmp_path)
    loaded = NgramModel.load(CONFIG, tmp_path)
    assert loaded.linear is None and not hasattr(loaded.char, "vocabulary_")
    texts = held_out_texts()[:40] + ODD_TEXTS
    tokens = [tokens_of(t) for t in texts]
    assert np.array_equal(loaded.predict_proba(texts, tokens), model.predict_proba(texts, tokens))
    with pytest.raises(RuntimeError):
        loaded.save(tmp_path)


def test_models_with_the_same_vocabulary_share_one(trained, tmp_path):
    model, _texts = trained
    model.save(tmp_path)
    NgramModel.load(CONFIG, tmp_path)
    sizes = {kind: len(vocabulary) for kind, vocabulary in VOCABULARIES.items()}
    again = NgramModel.load(CONFIG, tmp_path)
    assert {kind: len(vocabulary) for kind, vocabulary in VOCABULARIES.items()} == sizes
    assert again.predict_proba(["取款机吞卡"], [["取款机"]]).shape == (1, len(model.classes))


def test_an_ngram_outside_a_models_vocabulary_does_not_count_for_it():
    # Scorers over one shared vocabulary: "b" is known before the narrow scorer is built
    # (an IDF of 0 for it), "ⓩ" only after (an id beyond its arrays). For the narrow
    # scorer neither may weigh in the norm: "abⓩ" scores as "a" alone.
    def scorer(terms, weights):
        return NgramScorer(1, 0.0, (terms, np.ones(len(terms))), ([], np.zeros(0)), np.array([weights]), np.zeros(1))

    scorer(["a", "b"], [1.0, 1.0])
    narrow = scorer(["a"], [2.0])
    scorer(["a", "ⓩ"], [1.0, 1.0])
    assert narrow.scores(["abⓩ"], [[]])[0, 0] == pytest.approx(narrow.scores(["a"], [[]])[0, 0]) == 2.0
    assert narrow.scores([""], [[]])[0, 0] == 0.0


def test_vocabulary_ids_are_stable():
    vocabulary = Vocabulary()
    assert vocabulary.add(["x", "y"]).tolist() == [0, 1]
    assert vocabulary.add(["y", "z", "x"]).tolist() == [1, 2, 0]
    assert len(vocabulary) == 3


def test_a_model_saved_with_vocabulary_dictionaries_still_loads(trained, tmp_path):
    # Models saved before the term lists kept each vocabulary as term -> column (rollback may load one).
    model, _texts = trained
    model.save(tmp_path)
    meta_file = tmp_path / "ngram_model.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    for kind in ("char", "word"):
        terms = meta.pop(f"{kind}_terms")
        meta[f"{kind}_vocabulary"] = {term: column for column, term in reversed(list(enumerate(terms)))}
    meta_file.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    texts = held_out_texts()[:40]
    tokens = [tokens_of(t) for t in texts]
    assert np.array_equal(
        NgramModel.load(CONFIG, tmp_path).predict_proba(texts, tokens), model.predict_proba(texts, tokens)
    )
