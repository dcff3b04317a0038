"""The NLU measured on real customers' words (`make eval`, second part).

    python -m deescalate.tools.real_words [--model PATH] [--real-dev DIR] [--json FILE]

`../shared/real-dev/` (beside the repository; `DEESCALATE_REAL_DEV` names
another folder) holds real complaints and Weibo posts labelled against the
contract. They are for measuring only: nothing here is trained on them. When
the folder is absent the evaluation says so and skips; the product never needs
it. Scores, on `complaints.yml` without its `skip` items:

- the cause (the parse's `cause`, or for a model without one its best intent):
  accuracy, per-cause P/R/F1, macro-F1 over causes with at least five items,
  the most confused pairs, and lenient accuracy that counts the labelled `alt`
  as right, overall and on `confidence: high` items;
- emotion macro-F1 and upset-vs-calm F1 (upset = angry, furious, anxious);
- escalation recall and precision per complaint (any threat at all) and per value;
- the fallback rate: complaints whose cause is too unsure to name.

`emotion_weibo.yml` scores upset-vs-calm and emotion macro-F1. Two peers run in
the same evaluation: a plain character n-gram logistic regression trained on the
same `data/`, and SnowNLP's sentiment (below 0.5 = upset) for upset-vs-calm.
"""

import argparse
import asyncio
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml
from sklearn.metrics import classification_report, f1_score

from deescalate.contract import CAUSES, UPSET
from deescalate.tools.build import ROOT, quiet_rasa_logs
from deescalate.tools.markdown import confused_pairs, scores_table

MIN_CAUSE_ITEMS = 5


def real_dev_dir(explicit: Optional[Path] = None) -> Optional[Path]:
    """The real-words folder if it is there, else None."""
    folder = explicit or Path(os.environ.get("DEESCALATE_REAL_DEV", ROOT.parent / "shared" / "real-dev"))
    return folder if (folder / "complaints.yml").is_file() else None


def load_items(path: Path) -> List[Dict[str, Any]]:
    return [dict(item, text=str(item["text"])) for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []]


@dataclass
class RealWords:
    """The labelled sets of a real-words folder: complaints (without `skip`) and Weibo posts."""

    complaints: List[Dict[str, Any]]
    weibo: List[Dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> "RealWords":
        complaints = [i for i in load_items(folder / "complaints.yml") if i.get("intent") != "skip"]
        weibo = load_items(folder / "emotion_weibo.yml") if (folder / "emotion_weibo.yml").is_file() else []
        return cls(complaints, weibo)

    def __len__(self) -> int:
        return len(self.complaints) + len(self.weibo)


def predicted_cause(parse: Dict[str, Any]) -> Dict[str, Any]:
    """The parse's cause; for a model without a cause classifier, its best cause intent."""
    if isinstance(parse.get("cause"), dict):
        return parse["cause"]
    for candidate in parse.get("intent_ranking") or [parse.get("intent") or {}]:
        if candidate.get("name") in CAUSES:
            return {"name": candidate["name"], "confidence": candidate.get("confidence", 0.0)}
    return {"name": None, "confidence": 0.0}


def escalations(parse: Dict[str, Any]) -> List[str]:
    return sorted({e["value"] for e in parse.get("entities") or [] if e.get("entity") == "escalation"})


def upset_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return round(float(f1_score([g in UPSET for g in gold], [p in UPSET for p in predicted])), 4)


def emotion_macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    labels = sorted(set(gold))
    return round(float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4)


def cause_scores(items: List[Dict[str, Any]], predicted: List[Optional[str]]) -> Dict[str, Any]:
    gold = [i["intent"] for i in items]
    predicted = [p or "none" for p in predicted]
    counts = Counter(gold)
    big = sorted(c for c, n in counts.items() if n >= MIN_CAUSE_ITEMS)
    high = [k for k, i in enumerate(items) if i.get("confidence") == "high"]

    def lenient(indices: List[int]) -> float:
        right = sum(predicted[k] in (gold[k], items[k].get("alt")) for k in indices)
        return round(right / len(indices), 4) if indices else 0.0

    report = classification_report(gold, predicted, labels=big, output_dict=True, zero_division=0)
    confused = Counter((g, p) for g, p in zip(gold, predicted) if g != p)
    return {
        "items": len(items),
        "cause_macro_f1": round(float(f1_score(gold, predicted, labels=big, average="macro", zero_division=0)), 4),
        "cause_accuracy": round(sum(g == p for g, p in zip(gold, predicted)) / len(items), 4),
        "lenient_accuracy": lenient(list(range(len(items)))),
        "high_items": len(high),
        "high_accuracy": round(sum(gold[k] == predicted[k] for k in high) / len(high), 4) if high else 0.0,
        "high_lenient_accuracy": lenient(high),
        "per_cause": {c: {k: round(v, 4) for k, v in report[c].items()} for c in big},
        "most_confused": [{"gold": g, "predicted": p, "count": n} for (g, p), n in confused.most_common(10)],
    }


def escalation_scores(gold: List[List[str]], predicted: List[List[str]]) -> Dict[str, Any]:
    flagged = [bool(p) for p in predicted]
    real = [bool(g) for g in gold]
    tp = sum(f and r for f, r in zip(flagged, real))
    value_tp = sum(len(set(g) & set(p)) for g, p in zip(gold, predicted))
    value_gold, value_predicted = sum(map(len, gold)), sum(map(len, predicted))
    return {
        "escalation_items": sum(real),
        "escalation_recall": round(tp / sum(real), 4) if any(real) else 1.0,
        "escalation_precision": round(tp / sum(flagged), 4) if any(flagged) else 1.0,
        "escalation_value_recall": round(value_tp / value_gold, 4) if value_gold else 1.0,
        "escalation_value_precision": round(value_tp / value_predicted, 4) if value_predicted else 1.0,
        "escalation_false_alarms": sum(f and not r for f, r in zip(flagged, real)),
    }


async def _parse_all(model: Path, texts: List[str]) -> List[Dict[str, Any]]:
    from rasa.core.agent import Agent

    quiet_rasa_logs()
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def cause_threshold(config_file: Path = ROOT / "config.yml") -> float:
    """Below this cause confidence the assist answer names no cause (the cause component's setting)."""
    from deescalate.nlu.cause import DEFAULT_THRESHOLD

    pipeline = yaml.safe_load(config_file.read_text(encoding="utf-8"))["pipeline"]
    entry: Dict[str, Any] = next((c for c in pipeline if c.get("name", "").endswith("CauseClassifier")), {})
    return float(entry.get("threshold", DEFAULT_THRESHOLD))


def score_model(model: Path, complaints: List[Dict[str, Any]], weibo: List[Dict[str, Any]]) -> Dict[str, Any]:
    parses = asyncio.run(_parse_all(model, [i["text"] for i in complaints + weibo]))
    on_complaints, on_weibo = parses[: len(complaints)], parses[len(complaints) :]
    causes = [predicted_cause(p) for p in on_complaints]
    emotions = [(p.get("emotion") or {}).get("name") or "calm" for p in on_complaints]
    threshold = cause_threshold()
    result = cause_scores(complaints, [c["name"] for c in causes])
    result.update(
        escalation_scores(
            [list(i.get("escalation") or []) for i in complaints], [escalations(p) for p in on_complaints]
        )
    )
    gold_emotions = [i["emotion"] for i in complaints]
    result.update(
        emotion_macro_f1=emotion_macro_f1(gold_emotions, emotions),
        upset_f1=upset_f1(gold_emotions, emotions),
        fallback_rate=round(sum(float(c.get("confidence") or 0) < threshold for c in causes) / len(causes), 4),
        intent_fallback_rate=round(
            sum((p.get("intent") or {}).get("name") == "nlu_fallback" for p in on_complaints) / len(on_complaints), 4
        ),
        emotion_counts={"gold": dict(Counter(gold_emotions)), "predicted": dict(Counter(emotions))},
    )
    weibo_emotions = [(p.get("emotion") or {}).get("name") or "calm" for p in on_weibo]
    gold_weibo = [i["emotion"] for i in weibo]
    result["weibo"] = {
        "items": len(weibo),
        "upset_f1": upset_f1(gold_weibo, weibo_emotions),
        "emotion_macro_f1": emotion_macro_f1(gold_weibo, weibo_emotions),
    }
    return result


def plain_baseline(
    complaints: List[Dict[str, Any]], weibo: List[Dict[str, Any]], data: Path = ROOT / "data"
) -> Dict[str, Any]:
    """A plain char 1-3-gram TF-IDF logistic regression on the same training data.

    For the cause it learns from the cause examples, as the cause classifier
    does (trained on every intent it scored lower when measured); for the
    emotion from every example that carries one.
    """
    from rasa.shared.nlu.training_data.loading import load_data
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from deescalate.nlu.emotion import example_emotion

    messages = [
        m
        for path in sorted((data / "nlu").rglob("*.yml"))
        for m in load_data(str(path)).intent_examples
        if m.get("text")
    ]

    def fit(pairs: List[tuple]) -> Any:
        model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True), LogisticRegression(max_iter=2000)
        )
        return model.fit([t for t, _ in pairs], [label for _, label in pairs])

    texts = [i["text"] for i in complaints]
    cause_only = fit([(m.get("text"), m.get("intent")) for m in messages if m.get("intent") in CAUSES])
    emotion = fit([(m.get("text"), example_emotion(m)) for m in messages if example_emotion(m)])
    result = cause_scores(complaints, list(cause_only.predict(texts)))
    gold = [i["emotion"] for i in complaints]
    predicted = list(emotion.predict(texts))
    weibo_predicted = list(emotion.predict([i["text"] for i in weibo]))
    result.update(
        emotion_macro_f1=emotion_macro_f1(gold, predicted),
        upset_f1=upset_f1(gold, predicted),
        weibo={
            "upset_f1": upset_f1([i["emotion"] for i in weibo], weibo_predicted),
            "emotion_macro_f1": emotion_macro_f1([i["emotion"] for i in weibo], weibo_predicted),
        },
    )
    return result


def snownlp_peer(complaints: List[Dict[str, Any]], weibo: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """SnowNLP sentiment below 0.5 read as upset; None when SnowNLP is not installed."""
    try:
        from snownlp import SnowNLP
    except ImportError:
        return None

    def labels(items: List[Dict[str, Any]]) -> List[str]:
        return ["angry" if SnowNLP(i["text"]).sentiments < 0.5 else "calm" for i in items]

    return {
        "upset_f1": upset_f1([i["emotion"] for i in complaints], labels(complaints)),
        "weibo": {"upset_f1": upset_f1([i["emotion"] for i in weibo], labels(weibo))},
    }


def evaluate_real_words(model: Path, folder: Path) -> Dict[str, Any]:
    sets = RealWords.load(folder)
    return {
        "model": score_model(model, sets.complaints, sets.weibo),
        "plain_baseline": plain_baseline(sets.complaints, sets.weibo),
        "snownlp": snownlp_peer(sets.complaints, sets.weibo),
    }


WEIBO_PREFIX = "weibo_"


def flat_figures(scores: Dict[str, Any]) -> Dict[str, float]:
    """A model's real-words figures as one level: the Weibo figures prefixed `weibo_`."""
    figures = {k: float(v) for k, v in scores.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    figures.update({WEIBO_PREFIX + k: float(v) for k, v in (scores.get("weibo") or {}).items() if k != "items"})
    return figures


def flat_limits(real_floors: Dict[str, Any]) -> Tuple[Dict[str, float], Dict[str, float]]:
    """floors.yml's `real_words` floors and ceilings, named as `flat_figures` names the figures."""
    floors = {**real_floors.get("complaints", {})}
    floors.update({WEIBO_PREFIX + k: v for k, v in real_floors.get("weibo", {}).items()})
    return floors, dict(real_floors.get("complaints_at_most", {}))


TARGETS = [
    ("cause macro-F1 (causes with ≥ 5 items)", "cause_macro_f1", 0.80),
    ("cause accuracy", "cause_accuracy", None),
    ("lenient accuracy, confidence: high", "high_lenient_accuracy", 0.85),
    ("lenient accuracy, all", "lenient_accuracy", None),
    ("emotion macro-F1", "emotion_macro_f1", 0.60),
    ("upset-vs-calm F1", "upset_f1", 0.90),
    ("escalation recall", "escalation_recall", 0.95),
    ("escalation precision", "escalation_precision", 0.85),
]


def markdown(report: Dict[str, Any]) -> str:
    model, base, snow = report["model"], report["plain_baseline"], report["snownlp"] or {}

    def cell(source: Dict[str, Any], key: str) -> str:
        return f"{source[key]:.3f}" if key in source else "–"

    lines = [
        f"## Real complaints (`complaints.yml`, {model['items']} non-skip items, "
        f"{model['high_items']} high-confidence)",
        "",
        "| metric | model | plain char n-gram LR | SnowNLP | target |",
        "|---|---|---|---|---|",
    ]
    for name, key, target in TARGETS:
        goal = f"≥ {target:.2f}" if target else ""
        lines.append(f"| {name} | {cell(model, key)} | {cell(base, key)} | {cell(snow, key)} | {goal} |")
    lines += [
        f"| fallback rate | {model['fallback_rate']:.3f} | | | ≤ 0.05 |",
        f"| lead over the baseline (cause macro-F1) | {model['cause_macro_f1'] - base['cause_macro_f1']:+.3f}"
        " | | | ≥ 0.10 |",
        "",
        f"Rasa's intent fell back on {model['intent_fallback_rate']:.1%} of the complaints; "
        f"escalation per value: recall {model['escalation_value_recall']:.3f}, "
        f"precision {model['escalation_value_precision']:.3f}, "
        f"{model['escalation_false_alarms']} false alarms.",
        "",
    ]
    lines += scores_table("cause", model["per_cause"])
    lines += [""] + confused_pairs("Most confused causes (gold → predicted):", model["most_confused"])
    weibo = model["weibo"]
    lines += [
        "",
        f"## Weibo posts (`emotion_weibo.yml`, {weibo['items']} items)",
        "",
        "| metric | model | plain char n-gram LR | SnowNLP | target |",
        "|---|---|---|---|---|",
        f"| upset-vs-calm F1 | {weibo['upset_f1']:.3f} | {base['weibo']['upset_f1']:.3f} | "
        f"{cell(snow.get('weibo', {}), 'upset_f1')} | ≥ 0.85 |",
        f"| emotion macro-F1 | {weibo['emotion_macro_f1']:.3f} | {base['weibo']['emotion_macro_f1']:.3f} | – | |",
    ]
    return "\n".join(lines)


SKIP_MESSAGE = (
    "real-words evaluation skipped: no ../shared/real-dev/complaints.yml beside the repository "
    "(set DEESCALATE_REAL_DEV to its folder to run it)"
)


def main(argv: Optional[List[str]] = None) -> int:
    from deescalate.tools.build import ensure_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--real-dev", type=Path)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    folder = real_dev_dir(args.real_dev)
    if folder is None:
        print(SKIP_MESSAGE)
        return 0
    report = evaluate_real_words(args.model or ensure_model(), folder)
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
