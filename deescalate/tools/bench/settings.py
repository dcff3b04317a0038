"""Bench settings and the figures computed from measurements: percentiles, growth, targets."""

import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from deescalate.tools.build import ROOT

SETTINGS_FILE = Path(__file__).resolve().with_name("bench.yml")
RESULTS = ROOT / "results" / "bench.json"
UTTERANCE_DIR = ROOT / "tests" / "nlu_test"
FLOOR_DIR = Path(__file__).resolve().with_name("floor")
FLOOR_BUILD = ROOT / "build" / "bench"
FLOOR_TEXT = "收到，我们马上为您处理。"  # what both floor bots answer (domain response, actions.py)
ANNOTATION = re.compile(r"\[([^\]\[]*)\](?:\([^()]*\)|\{[^{}]*\})")
MIB = 1024 * 1024


class BenchError(Exception):
    """Something could not be measured: a server did not start or answered wrongly."""


class Deadline(BenchError):
    """The overall deadline passed."""


# ---------------------------------------------------------------- settings


def merge(base: Dict[str, Any], override: Dict[str, Any]) -> Dict[str, Any]:
    """`base` with `override`'s values, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path = SETTINGS_FILE, quick: bool = False) -> Dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    overrides = data.pop("quick", {}) or {}
    return merge(data, overrides) if quick else data


# ---------------------------------------------------------------- pure helpers


def strip_annotations(text: str) -> str:
    """Training-data markup removed: `[两千](amount)` and `[两千]{"entity": ...}` become `两千`."""
    return ANNOTATION.sub(r"\1", text)


def load_utterances(folder: Path = UTTERANCE_DIR) -> List[str]:
    """Every example text of the held-out NLU split, markup removed, in file order."""
    texts = []
    for path in sorted(folder.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            examples = block.get("examples") or []
            if isinstance(examples, str):  # the `examples: |` list form
                examples = [{"text": line.lstrip("- ")} for line in examples.splitlines() if line.strip()]
            for example in examples:
                raw = example.get("text") if isinstance(example, dict) else None
                if isinstance(raw, str) and raw.strip():
                    texts.append(strip_annotations(raw.strip()))
    return texts


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolating linearly between ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0-100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(latencies_ms: Sequence[float]) -> Dict[str, float]:
    return {
        "n": len(latencies_ms),
        "p50": round(percentile(latencies_ms, 50), 2),
        "p95": round(percentile(latencies_ms, 95), 2),
        "p99": round(percentile(latencies_ms, 99), 2),
        "mean": round(statistics.fmean(latencies_ms), 2),
        "max": round(max(latencies_ms), 2),
    }


def window_means(series: Sequence[float], window: int) -> Tuple[float, float]:
    """Mean of the first `window` values and of the last `window` values."""
    if window < 1 or len(series) < window:
        raise ValueError(f"{len(series)} values cannot give two windows of {window}")
    return statistics.fmean(series[:window]), statistics.fmean(series[-window:])


def ratio(numerator: float, denominator: float) -> float:
    if denominator <= 0:
        raise ValueError(f"ratio over {denominator}")
    return numerator / denominator


@dataclass(frozen=True)
class TargetResult:
    """One target: the measured figure against its limit (figure ≤ limit passes; ≥ for an `at_least` target)."""

    name: str
    label: str
    figure: float
    limit: float
    unit: str
    at_least: bool = False

    @property
    def ratio(self) -> float:
        return ratio(self.figure, self.limit)

    @property
    def ok(self) -> bool:
        return self.figure >= self.limit if self.at_least else self.figure <= self.limit

    def as_dict(self) -> Dict[str, Any]:
        return {
            "label": self.label,
            "figure": round(self.figure, 3),
            "limit": self.limit,
            "unit": self.unit,
            "ratio_to_limit": round(self.ratio, 3),
            "ok": self.ok,
            "at_least": self.at_least,
        }


TARGETS: Dict[str, Tuple[str, str]] = {
    "assist_p50_over_trivial_action_p50": ("assist p50 / trivial-action floor p50", "×"),
    "growth_last_over_first": ("assist turns {last} / turns {first}", "×"),
    "concurrent_turns_over_trivial_action": ("concurrent turns/s: assist / trivial-action floor", "×"),
    "assist_p99_ms": ("assist p99, single stream", "ms"),
    "servers_rss_mib": ("all our servers' RSS", "MiB"),
    "taboo_check_p95_ms": ("taboo check of one draft, p95", "ms"),
}
# Targets a figure must reach rather than stay under.
AT_LEAST = {"concurrent_turns_over_trivial_action"}


def evaluate_targets(
    figures: Dict[str, float], limits: Dict[str, float], label_values: Optional[Dict[str, str]] = None
) -> List[TargetResult]:
    """Each configured target against its figure; an unknown or unmeasured target is an error.

    `label_values` fill the labels' placeholders (the growth windows' turn ranges).
    """
    results = []
    for name, limit in limits.items():
        if name not in TARGETS:
            raise BenchError(f"unknown target {name!r} in bench.yml (known: {', '.join(TARGETS)})")
        if name not in figures:
            raise BenchError(f"target {name!r} has no measured figure")
        label, unit = TARGETS[name]
        label = label.format(**{"first": "first", "last": "last", **(label_values or {})})
        results.append(TargetResult(name, label, float(figures[name]), float(limit), unit, name in AT_LEAST))
    return results


def target_figures(result: Dict[str, Any]) -> Dict[str, float]:
    """The figures the targets compare, from the measured results."""
    single = result["single_stream"]["targets"]
    return {
        "assist_p50_over_trivial_action_p50": ratio(single["assist"]["p50"], single["floor_action"]["p50"]),
        "growth_last_over_first": result["growth"]["targets"]["assist"]["growth"],
        "concurrent_turns_over_trivial_action": ratio(
            result["concurrent"]["assist"]["turns_per_s"], result["concurrent"]["floor_action"]["turns_per_s"]
        ),
        "assist_p99_ms": single["assist"]["p99"],
        "servers_rss_mib": result["memory"]["total_mib"],
        "taboo_check_p95_ms": result["taboo_check"]["p95"],
    }
