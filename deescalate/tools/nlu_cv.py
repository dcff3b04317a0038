"""Choose the n-gram classifiers' settings on the training data alone.

    python -m deescalate.tools.nlu_cv [--label intent|cause|emotion] [--data data/nlu]

Starts from the settings in config.yml and tries each neighbour (one setting
changed at a time: character n-gram length ±1, C halved and doubled, word
weight ±0.3). Every setting is scored twice, by macro-F1:

- leave one writer out: the examples of each writer (`metadata: writer:` of
  their intent blocks) are held out in turn and the model is
  trained on the others' examples. Writers word things their own way, so
  this asks how well the model understands wordings it has not seen, the
  question the held-out split asks;
- stratified 5-fold cross-validation over all examples.

The held-out split in tests/nlu_test is never read here: settings chosen on it
would flatter `make eval`. Run this after a large data change; if a neighbour
wins on both scores, move config.yml to it and confirm with `make eval`.
"""

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import yaml
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from deescalate.tools.build import ROOT

COMPONENTS = {
    "intent": "deescalate.nlu.intent.NgramIntentClassifier",
    "cause": "deescalate.nlu.cause.CauseClassifier",
    "emotion": "deescalate.nlu.emotion.EmotionClassifier",
}


@dataclass
class Example:
    text: str
    tokens: List[str]
    label: str
    group: str  # the writer


def component_config(label: str, config_file: Path = ROOT / "config.yml") -> Dict[str, Any]:
    """The classifier's settings: its defaults overridden by its entry in config.yml."""
    from deescalate.nlu.ngram_classifier import NgramClassifier

    pipeline = yaml.safe_load(config_file.read_text(encoding="utf-8"))["pipeline"]
    entry: Dict[str, Any] = next((c for c in pipeline if c.get("name") == COMPONENTS[label]), {})
    settings = ("max_char_ngram", "word_weight", "C", "calibration_folds")
    return {**NgramClassifier.get_default_config(), **{k: v for k, v in entry.items() if k in settings}}


def neighbours(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The config itself, then each one-step change of a setting."""
    changes = [
        ("max_char_ngram", config["max_char_ngram"] - 1),
        ("max_char_ngram", config["max_char_ngram"] + 1),
        ("C", config["C"] / 2),
        ("C", config["C"] * 2),
        ("word_weight", round(config["word_weight"] - 0.3, 2)),
        ("word_weight", round(config["word_weight"] + 0.3, 2)),
    ]
    return [config] + [{**config, key: value} for key, value in changes if value > 0]


def load_examples(data: Path, label: str) -> List[Example]:
    """Training examples, normalised and tokenised as the pipeline does, grouped by writer.

    An intent block without a `writer:` counts as written by its file."""
    import spacy
    from rasa.shared.nlu.training_data.loading import load_data

    import deescalate.nlu.spacy_tokenizer  # noqa: F401  (registers the jieba tokenizer)
    from deescalate.contract import CAUSES
    from deescalate.nlu.emotion import example_emotion
    from deescalate.nlu.ngram_classifier import token_features
    from deescalate.nlu.normalizer import normalize_text
    from deescalate.tools.build import build_spacy

    nlp = spacy.load(build_spacy())
    label_of: Callable[[Any], Optional[str]] = {
        "emotion": example_emotion,
        "cause": lambda m: m.get("intent") if m.get("intent") in CAUSES else None,
    }.get(label, lambda m: m.get("intent"))
    examples = []
    for path in sorted(data.rglob("*.yml")):
        for message in load_data(str(path)).intent_examples:
            if not message.get("text") or not label_of(message):
                continue
            text = normalize_text(message.get("text"))
            tokens = token_features(token.text for token in nlp.make_doc(text))
            examples.append(Example(text, tokens, str(label_of(message)), writer_of(message, path)))
    return examples


def writer_of(message: Any, path: Path) -> str:
    """The writer an example's intent block names (`metadata: writer:`), else its file."""
    intent_metadata = (message.get("metadata") or {}).get("intent")
    writer = intent_metadata.get("writer") if isinstance(intent_metadata, dict) else None
    return str(writer) if writer else path.name


def macro_f1(config: Dict[str, Any], train: List[Example], test: List[Example]) -> float:
    from deescalate.nlu.ngram_classifier import NgramModel

    model = NgramModel(config).fit([e.text for e in train], [e.tokens for e in train], [e.label for e in train])
    probabilities = model.predict_proba([e.text for e in test], [e.tokens for e in test])
    predicted = [model.classes[i] for i in probabilities.argmax(axis=1)]
    gold = [e.label for e in test]
    return float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro"))


def leave_one_writer_out(config: Dict[str, Any], examples: List[Example]) -> float:
    groups = sorted({e.group for e in examples})
    scores = [
        macro_f1(config, [e for e in examples if e.group != g], [e for e in examples if e.group == g]) for g in groups
    ]
    return float(np.mean(scores))


def k_fold(config: Dict[str, Any], examples: List[Example], folds: int = 5) -> float:
    labels = [e.label for e in examples]
    splits = StratifiedKFold(folds, shuffle=True, random_state=0).split(examples, labels)
    return float(np.mean([macro_f1(config, [examples[i] for i in a], [examples[i] for i in b]) for a, b in splits]))


def describe(config: Dict[str, Any], base: Dict[str, Any]) -> str:
    changed = [f"{k}={v}" for k, v in config.items() if base.get(k) != v]
    return ", ".join(changed) if changed else "config.yml as it is"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", choices=sorted(COMPONENTS), default="intent")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    args = parser.parse_args(argv)
    examples = load_examples(args.data, args.label)
    base = component_config(args.label)
    print(f"{args.label}: {len(examples)} examples by {len({e.group for e in examples})} writers")
    print(f"{'setting':40s} {'leave-one-writer-out':>20s} {'5-fold':>8s}")
    for config in neighbours(base):
        print(
            f"{describe(config, base):40s} {leave_one_writer_out(config, examples):20.4f} "
            f"{k_fold(config, examples):8.4f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
