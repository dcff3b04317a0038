"""Markdown pieces shared by the evaluation reports (own split and real words)."""

from typing import Any, Dict, List, Mapping, Sequence


def scores_table(label: str, scores: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """A precision/recall/F1/support table, one row per label.

    Accepts both our own score dicts (`f1`, `support`) and scikit-learn's
    `classification_report(output_dict=True)` rows (`f1-score`).
    """
    lines = [f"| {label} | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, s in scores.items():
        f1 = s["f1"] if "f1" in s else s["f1-score"]
        lines.append(f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {f1:.3f} | {int(s['support'])} |")
    return lines


def confused_pairs(title: str, pairs: Sequence[Dict[str, Any]], most: int = 5) -> List[str]:
    """The most confused gold → predicted pairs as a list under `title`."""
    return [title] + [f"- {c['gold']} → {c['predicted']}: {c['count']}" for c in pairs[:most]]
