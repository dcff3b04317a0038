"""`make eval`: how well the trained model understands the held-out test split.

    python -m deescalate.tools.evaluate [--model PATH] [--data tests/nlu_test] [--out results/nlu]

Parses every test example with the trained model and reports intent
precision/recall/F1 per intent with a confusion matrix, emotion macro-F1 with
its confusion matrix, entity F1 per entity (value-level), escalation recall,
exact amount values, and accuracy on Traditional beside Simplified examples.
Writes report.json and report.md to the output folder and prints a summary.
Then scores the taboo check on its test split (deescalate/tools/taboo_eval.py, results/taboo/).
When ../shared/real-dev/ is beside the repository, the same report also holds
the figures on real customers' words (deescalate/tools/real_words.py); without it
that part is skipped with a message.
"""

import argparse
import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml
from sklearn.metrics import classification_report, confusion_matrix, f1_score

from deescalate.assist.analysis import FALLBACK_INTENT, parse_turn
from deescalate.nlu.normalizer import to_halfwidth, to_simplified
from deescalate.tools.build import ROOT, ensure_model, quiet_rasa_logs
from deescalate.tools.markdown import confused_pairs, scores_table
from deescalate.tools.real_words import SKIP_MESSAGE, evaluate_real_words, real_dev_dir
from deescalate.tools.real_words_report import markdown as real_words_markdown

TARGETS = {
    "intent_macro_f1": 0.92,
    "emotion_macro_f1": 0.85,
    "escalation_recall": 0.95,
    "amount_exact": 0.95,
    "traditional_gap": 0.05,
}
FLOORS_FILE = Path(__file__).resolve().with_name("floors.yml")


def load_floors(path: Path = FLOORS_FILE) -> Dict[str, Any]:
    """The floors a model must keep (floors.yml): the quality tests and `make retrain` read them."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_examples(folder: Path) -> List[Dict[str, Any]]:
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for path in sorted(folder.glob("*.yml")):
        for message in load_data(str(path)).intent_examples:
            metadata = (message.get("metadata") or {}).get("example") or {}
            examples.append(
                {
                    "text": message.get("text"),
                    "intent": message.get("intent"),
                    "emotion": metadata.get("emotion"),
                    "entities": message.get("entities") or [],
                }
            )
    return examples


def is_traditional(text: str) -> bool:
    half = to_halfwidth(text)
    return to_simplified(half) != half


async def parse_all(model: Path, texts: List[str]) -> List[Dict[str, Any]]:
    from rasa.core.agent import Agent

    quiet_rasa_logs()
    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def entity_values(entities: List[Dict[str, Any]], name: str) -> Counter:
    return Counter(str(e.get("value")) for e in entities if e.get("entity") == name)


def entity_scores(
    gold: List[List[Dict[str, Any]]], predicted: List[List[Dict[str, Any]]], name: str
) -> Dict[str, float]:
    """Value-level precision/recall/F1 of one entity over all examples (a value counted once per example)."""
    tp = fp = fn = 0
    for g, p in zip(gold, predicted):
        gold_values = set(entity_values(g, name))
        predicted_values = set(entity_values(p, name))
        tp += len(gold_values & predicted_values)
        fp += len(predicted_values - gold_values)
        fn += len(gold_values - predicted_values)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": tp + fn}


def evaluate(model: Path, data: Path) -> Dict[str, Any]:
    return evaluate_examples(model, load_examples(data))


def evaluate_examples(model: Path, examples: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The report of `model` on examples ({text, intent, emotion, entities}), e.g. from load_examples."""
    parses = asyncio.run(parse_all(model, [e["text"] for e in examples]))
    turns = [parse_turn(p) for p in parses]
    gold_intents = [e["intent"] for e in examples]
    # Under the fallback the model's best guess is scored; the fallback itself is a safe answer, not a cause.
    predicted_intents = [t.intent for t in turns]
    raw_fallbacks = sum(1 for p in parses if (p.get("intent") or {}).get("name") == FALLBACK_INTENT)
    labels = sorted(set(gold_intents))
    gold_emotions = [e["emotion"] for e in examples]
    predicted_emotions = [t.emotion for t in turns]
    emotion_labels = ["calm", "confused", "anxious", "angry", "furious"]
    predicted_entities = [p.get("entities") or [] for p in parses]
    gold_entities = [e["entities"] for e in examples]

    amounts = [
        (entity_values(g, "amount"), entity_values(p, "amount"))
        for g, p in zip(gold_entities, predicted_entities)
        if entity_values(g, "amount")
    ]
    amount_exact = sum(1 for g, p in amounts if set(g) == set(p)) / len(amounts) if amounts else 1.0

    traditional = [i for i, e in enumerate(examples) if is_traditional(e["text"])]
    simplified = [i for i in range(len(examples)) if i not in set(traditional)]

    def accuracy(indices: List[int]) -> float:
        return sum(gold_intents[i] == predicted_intents[i] for i in indices) / len(indices) if indices else 0.0

    confusions = Counter((g, p) for g, p in zip(gold_intents, predicted_intents) if g != p)
    report = {
        "examples": len(examples),
        "intent_macro_f1": round(f1_score(gold_intents, predicted_intents, labels=labels, average="macro"), 4),
        "intent_accuracy": round(accuracy(list(range(len(examples)))), 4),
        "intent_report": classification_report(
            gold_intents, predicted_intents, labels=labels, output_dict=True, zero_division=0
        ),
        "intent_confusion": {
            "labels": labels,
            "matrix": confusion_matrix(gold_intents, predicted_intents, labels=labels).tolist(),
        },
        "most_confused": [{"gold": g, "predicted": p, "count": n} for (g, p), n in confusions.most_common(10)],
        "fallback_rate": round(raw_fallbacks / len(examples), 4),
        "emotion_macro_f1": round(
            f1_score(gold_emotions, predicted_emotions, labels=emotion_labels, average="macro"), 4
        ),
        "emotion_confusion": {
            "labels": emotion_labels,
            "matrix": confusion_matrix(gold_emotions, predicted_emotions, labels=emotion_labels).tolist(),
        },
        "entities": {
            name: entity_scores(gold_entities, predicted_entities, name)
            for name in ("escalation", "amount", "demand", "product")
        },
        "escalation_recall": entity_scores(gold_entities, predicted_entities, "escalation")["recall"],
        "amount_exact": round(amount_exact, 4),
        "amount_examples": len(amounts),
        "traditional_accuracy": round(accuracy(traditional), 4),
        "traditional_examples": len(traditional),
        "simplified_accuracy": round(accuracy(simplified), 4),
    }
    report["traditional_gap"] = round(report["simplified_accuracy"] - report["traditional_accuracy"], 4)
    return report


def summary_rows(report: Dict[str, Any]) -> List[Tuple[str, str, str, str]]:
    def row(name: str, key: str, higher_is_better: bool = True) -> Tuple[str, str, str, str]:
        value, target = report[key], TARGETS[key]
        ok = value >= target if higher_is_better else value <= target
        return name, f"{value:.3f}", ("≥ " if higher_is_better else "≤ ") + f"{target:.2f}", "ok" if ok else "BELOW"

    return [
        row("intent macro-F1", "intent_macro_f1"),
        row("emotion macro-F1", "emotion_macro_f1"),
        row("escalation recall", "escalation_recall"),
        row("amount values exact", "amount_exact"),
        row("Traditional gap (Simplified - Traditional accuracy)", "traditional_gap", higher_is_better=False),
    ]


def write_report(report: Dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = ["| metric | value | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in summary_rows(report)]
    lines += [
        "",
        f"examples: {report['examples']}, intent accuracy {report['intent_accuracy']:.3f}, "
        f"fallback rate {report['fallback_rate']:.3f}, Traditional {report['traditional_accuracy']:.3f} "
        f"({report['traditional_examples']} examples) vs Simplified {report['simplified_accuracy']:.3f}",
        "",
    ]
    lines += scores_table("entity", report["entities"])
    lines += [""] + confused_pairs("Most confused intent pairs (gold → predicted):", report["most_confused"])
    lines += [
        "",
        "Emotion confusion (rows gold, columns predicted): " + ", ".join(report["emotion_confusion"]["labels"]),
    ]
    lines += ["    " + " ".join(f"{n:4d}" for n in row) for row in report["emotion_confusion"]["matrix"]]
    text = "\n".join(lines)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "nlu_test")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "nlu")
    parser.add_argument("--real-dev", type=Path, help="folder of the real-words sets (default ../shared/real-dev)")
    args = parser.parse_args()
    model = args.model or ensure_model()
    report = evaluate(model, args.data)
    text = write_report(report, args.out)
    folder = real_dev_dir(args.real_dev)
    if folder is None:
        print(SKIP_MESSAGE)
    else:
        report["real_words"] = evaluate_real_words(model, folder)
        text = "## Held-out split (tests/nlu_test)\n\n" + text + "\n\n" + real_words_markdown(report["real_words"])
        (args.out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        (args.out / "report.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\nfull report: {args.out / 'report.json'}")
    from deescalate.tools.taboo_eval import main as evaluate_taboo

    print("")
    evaluate_taboo([])


if __name__ == "__main__":
    main()
