"""The real-words figures from labels alone: gold items and predicted labels in, figures out.

Used by `make eval` (real_words.py) for the model and for its peers, so that
every reader of the real complaints computes a figure the same way. Each
headline figure also gets a 95% interval (a bootstrap over the items for an
F1 and for the lead over a peer, a Wilson score interval for a share): on
463 complaints, of which some causes have five items, one complaint moves a
macro-F1 by up to 0.015, and a figure without its interval says more than it
knows.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.stats import binomtest, bootstrap
from sklearn.metrics import classification_report, f1_score

from deescalate.contract import UPSET

MIN_CAUSE_ITEMS = 5
RESAMPLES = 1000
CONFIDENCE = 0.95


@dataclass
class Predictions:
    """One reader's labels for the real-words items, in the items' order.

    A peer that reads only some things leaves the rest empty (the plain
    baseline names no threats and has no confidence to fall back on).
    """

    causes: List[Optional[str]]
    emotions: List[str]
    weibo_emotions: List[str]
    escalations: Optional[List[List[str]]] = None
    intent_fallbacks: Optional[List[bool]] = None  # Rasa's intent fell back (nlu_fallback)
    shown_causes: Optional[List[Optional[str]]] = None  # the cause the assist names; None: it names none


def upset_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return round(float(f1_score([g in UPSET for g in gold], [p in UPSET for p in predicted], zero_division=0)), 4)


def emotion_macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Optional[List[str]] = None) -> float:
    """Macro-F1 over the gold emotions (or `labels`): an emotion no item carries is not scored."""
    labels = labels or sorted(set(gold))
    return round(float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4)


def scored_causes(gold: Sequence[str]) -> List[str]:
    """The causes the macro-F1 averages over: those with at least MIN_CAUSE_ITEMS items."""
    return sorted(c for c, n in Counter(gold).items() if n >= MIN_CAUSE_ITEMS)


def cause_macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: List[str]) -> float:
    return round(float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)), 4)


def leniently_right(items: Sequence[Dict[str, Any]], predicted: Sequence[str]) -> List[bool]:
    """Per item: the prediction is the labelled cause or the labelled `alt`."""
    return [p in (i["intent"], i.get("alt")) for i, p in zip(items, predicted)]


def share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if len(flags) else 0.0


def cause_scores(items: List[Dict[str, Any]], predicted: List[Optional[str]]) -> Dict[str, Any]:
    gold = [i["intent"] for i in items]
    named = [p or "none" for p in predicted]
    big = scored_causes(gold)
    lenient = leniently_right(items, named)
    high = [k for k, i in enumerate(items) if i.get("confidence") == "high"]
    report = classification_report(gold, named, labels=big, output_dict=True, zero_division=0)
    confused = Counter((g, p) for g, p in zip(gold, named) if g != p)
    return {
        "items": len(items),
        "cause_macro_f1": cause_macro_f1(gold, named, big),
        "cause_accuracy": share([g == p for g, p in zip(gold, named)]),
        "lenient_accuracy": share(lenient),
        "high_items": len(high),
        "high_accuracy": share([gold[k] == named[k] for k in high]),
        "high_lenient_accuracy": share([lenient[k] for k in high]),
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


def scores(complaints: List[Dict[str, Any]], weibo: List[Dict[str, Any]], ours: Predictions) -> Dict[str, Any]:
    """Every real-words figure of one reader: cause, emotion, escalation, fallback, Weibo."""
    result = cause_scores(complaints, ours.causes)
    gold_emotions = [i["emotion"] for i in complaints]
    result.update(
        emotion_macro_f1=emotion_macro_f1(gold_emotions, ours.emotions),
        upset_f1=upset_f1(gold_emotions, ours.emotions),
        emotion_counts={"gold": dict(Counter(gold_emotions)), "predicted": dict(Counter(ours.emotions))},
    )
    if ours.escalations is not None:
        result.update(escalation_scores([list(i.get("escalation") or []) for i in complaints], ours.escalations))
    if ours.shown_causes is not None:
        result["fallback_rate"] = share([cause is None for cause in ours.shown_causes])
        result["shown_cause_macro_f1"] = cause_scores(complaints, ours.shown_causes)["cause_macro_f1"]
    if ours.intent_fallbacks is not None:
        result["intent_fallback_rate"] = share(ours.intent_fallbacks)
    gold_weibo = [i["emotion"] for i in weibo]
    result["weibo"] = {
        "items": len(weibo),
        "upset_f1": upset_f1(gold_weibo, ours.weibo_emotions),
        "emotion_macro_f1": emotion_macro_f1(gold_weibo, ours.weibo_emotions),
    }
    return result


# ---------------------------------------------------------------- intervals


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float], size: int, resamples: int = RESAMPLES, seed: int = 0
) -> Optional[Tuple[float, float]]:
    """The 95% percentile bootstrap interval of `statistic(indices)` over `size` items drawn with replacement.

    None when there are too few items to resample. The seed is fixed, so a
    report is reproducible for the same predictions.
    """
    if size < 2:
        return None
    result = bootstrap(
        (np.arange(size),),
        statistic,
        vectorized=False,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        random_state=seed,
    )
    low, high = result.confidence_interval
    return round(float(low), 4), round(float(high), 4)


def share_interval(flags: Sequence[bool]) -> Optional[Tuple[float, float]]:
    """The 95% Wilson score interval of a share: sound at 19 of 19, where resampling says 1.000 - 1.000."""
    if not len(flags):
        return None
    found = binomtest(int(sum(flags)), len(flags)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return round(float(found.low), 4), round(float(found.high), 4)


def intervals(
    complaints: List[Dict[str, Any]], weibo: List[Dict[str, Any]], ours: Predictions, peer: Predictions
) -> Dict[str, Optional[Tuple[float, float]]]:
    """95% intervals of the headline figures, and of the lead over `peer` on the same resamples."""
    gold = np.array([i["intent"] for i in complaints], dtype=object)
    mine = np.array([p or "none" for p in ours.causes], dtype=object)
    theirs = np.array([p or "none" for p in peer.causes], dtype=object)
    big = scored_causes(list(gold))
    emotions = np.array([i["emotion"] for i in complaints], dtype=object)
    felt = np.array(ours.emotions, dtype=object)
    labels = sorted(set(emotions))
    weibo_gold = np.array([i["emotion"] for i in weibo], dtype=object)
    weibo_felt = np.array(ours.weibo_emotions, dtype=object)
    lenient = leniently_right(complaints, list(mine))
    high = [k for k, i in enumerate(complaints) if i.get("confidence") == "high"]
    found: Dict[str, Optional[Tuple[float, float]]] = {
        "cause_macro_f1": bootstrap_interval(lambda i: cause_macro_f1(gold[i], mine[i], big), len(gold)),
        "high_lenient_accuracy": share_interval([lenient[k] for k in high]),
        "emotion_macro_f1": bootstrap_interval(lambda i: emotion_macro_f1(emotions[i], felt[i], labels), len(emotions)),
        "upset_f1": bootstrap_interval(lambda i: upset_f1(emotions[i], felt[i]), len(emotions)),
        "weibo_upset_f1": bootstrap_interval(lambda i: upset_f1(weibo_gold[i], weibo_felt[i]), len(weibo_gold)),
        "lead": bootstrap_interval(
            lambda i: cause_macro_f1(gold[i], mine[i], big) - cause_macro_f1(gold[i], theirs[i], big), len(gold)
        ),
    }
    if ours.escalations is not None:
        threats = [bool(i.get("escalation")) for i in complaints]
        flagged = [bool(p) for p in ours.escalations]
        found["escalation_recall"] = share_interval([f for f, t in zip(flagged, threats) if t])
        found["escalation_precision"] = share_interval([t for f, t in zip(flagged, threats) if f])
    return found
