"""The real-words part of `make eval`'s report, as Markdown (results/nlu/report.md)."""

from typing import Any, Dict, List, Optional, Sequence

from deescalate.tools.markdown import confused_pairs, scores_table

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
HEAD = [
    "| metric | model | 95% interval | plain char n-gram LR | SnowNLP | target |",
    "|---|---|---|---|---|---|",
]
INTERVAL_NOTE = (
    "The interval is the model's 95% interval: for an F1, a bootstrap over the items (1,000 resamples; "
    "for the lead, the same resamples score the model and the baseline); for a share, Wilson's."
)


def span(interval: Optional[Sequence[float]], signed: bool = False) -> str:
    """An interval as `low–high`, or empty when it was not computed."""
    if not interval:
        return ""
    form = "{:+.3f}" if signed else "{:.3f}"
    return f"{form.format(interval[0])} – {form.format(interval[1])}"


def cell(source: Dict[str, Any], key: str) -> str:
    return f"{source[key]:.3f}" if key in source else "–"


def complaints_table(report: Dict[str, Any]) -> List[str]:
    model, base, snow = report["model"], report["plain_baseline"], report["snownlp"] or {}
    bounds = report.get("intervals") or {}
    lines = list(HEAD)
    for name, key, target in TARGETS:
        goal = f"≥ {target:.2f}" if target else ""
        lines.append(
            f"| {name} | {cell(model, key)} | {span(bounds.get(key))} | {cell(base, key)} | {cell(snow, key)} | {goal} |"
        )
    lead = model["cause_macro_f1"] - base["cause_macro_f1"]
    return lines + [
        f"| fallback rate (the assist names no cause) | {model['fallback_rate']:.3f} | | | | ≤ 0.05 |",
        f"| cause macro-F1 as the assist names it | {cell(model, 'shown_cause_macro_f1')} | | | | |",
        f"| lead over the baseline (cause macro-F1) | {lead:+.3f} | {span(bounds.get('lead'), signed=True)} | | | ≥ 0.10 |",
    ]


def weibo_table(report: Dict[str, Any]) -> List[str]:
    weibo, base = report["model"]["weibo"], report["plain_baseline"]["weibo"]
    snow = (report["snownlp"] or {}).get("weibo", {})
    interval = span((report.get("intervals") or {}).get("weibo_upset_f1"))
    return [
        f"## Weibo posts (`emotion_weibo.yml`, {weibo['items']} items)",
        "",
        *HEAD,
        f"| upset-vs-calm F1 | {weibo['upset_f1']:.3f} | {interval} | {base['upset_f1']:.3f} | "
        f"{cell(snow, 'upset_f1')} | ≥ 0.85 |",
        f"| emotion macro-F1 | {weibo['emotion_macro_f1']:.3f} | | {base['emotion_macro_f1']:.3f} | – | |",
    ]


SPEECH_FIGURES = [
    ("cause macro-F1", "cause_macro_f1"),
    ("lenient accuracy, confidence: high", "high_lenient_accuracy"),
    ("emotion macro-F1", "emotion_macro_f1"),
    ("upset-vs-calm F1", "upset_f1"),
    ("escalation recall", "escalation_recall"),
    ("escalation precision", "escalation_precision"),
    ("fallback rate", "fallback_rate"),
    ("cause macro-F1 as the assist names it", "shown_cause_macro_f1"),
]


def speech_table(report: Dict[str, Any]) -> List[str]:
    """The model on the same items without punctuation, as the hotline's speech-to-text writes them."""
    typed = report["model"]
    speech = typed.get("speech")
    if not speech:
        return []
    lines = [
        "## The same items as speech-to-text writes them",
        "",
        "Punctuation and spaces removed (two numbers stay a space apart): the hotline's register, on real words.",
        "",
        "| metric | as typed | as speech-to-text | change |",
        "|---|---|---|---|",
    ]
    rows = [(name, typed.get(key), speech.get(key)) for name, key in SPEECH_FIGURES]
    rows.append(("Weibo upset-vs-calm F1", typed["weibo"]["upset_f1"], speech["weibo"]["upset_f1"]))
    for name, before, after in rows:
        if before is not None and after is not None:
            lines.append(f"| {name} | {before:.3f} | {after:.3f} | {after - before:+.3f} |")
    return lines


def markdown(report: Dict[str, Any]) -> str:
    model = report["model"]
    lines = [
        f"## Real complaints (`complaints.yml`, {model['items']} non-skip items, "
        f"{model['high_items']} high-confidence)",
        "",
        *complaints_table(report),
        "",
        INTERVAL_NOTE,
        "",
        "The assist reads each complaint as the first turn of a case; a complaint it names no cause for "
        "counts against that cause's recall in the assist's macro-F1.",
        "",
        f"Rasa's intent fell back on {model['intent_fallback_rate']:.1%} of the complaints; "
        f"escalation per value: recall {model['escalation_value_recall']:.3f}, "
        f"precision {model['escalation_value_precision']:.3f}, "
        f"{model['escalation_false_alarms']} false alarms.",
        "",
    ]
    lines += scores_table("cause", model["per_cause"])
    lines += [""] + confused_pairs("Most confused causes (gold → predicted):", model["most_confused"])
    speech = speech_table(report)
    return "\n".join(lines + ["", *weibo_table(report)] + (["", *speech] if speech else []))
