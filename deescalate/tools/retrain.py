"""`make retrain` and `make rollback`: promote a new model only when it is no worse.

    python -m deescalate.tools.retrain            # train a candidate, compare, promote or refuse
    python -m deescalate.tools.retrain rollback   # serve the model promoted before
    python -m deescalate.tools.retrain status     # which model is served

The candidate is the model of everything under data/ (the team's data, the
trainers' exported corrections and imported histories all live there), trained
or taken from the model cache like `make model`. It is measured beside the
serving model (serving.py) on the held-out split, tests/nlu_test, and on the
real complaints and Weibo posts in ../shared/real-dev when that folder is
there, each set with the figures `make eval` reports for it (real_words.py
scores the cause component, not the dialogue act). It is promoted only when
it keeps every floor and ceiling of floors.yml on every set and loses no
compared figure by more than that set's `max_drop`. The comparison is
written as a model card, $RESULTS_DIR/model_card.md.
"""

import datetime as dt
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import yaml

from deescalate.tools.build import ROOT, ensure_model
from deescalate.tools.evaluate import evaluate_examples, load_examples, load_floors
from deescalate.tools.real_words import RealWords, flat_figures, flat_limits, real_dev_dir, score_model
from deescalate.tools.serving import ServingError, promote, read_pointer, rollback, serving_model

OWN_SPLIT = "held-out split (tests/nlu_test)"
REAL_DEV = "real words (real-dev complaints and Weibo posts)"
Figures = Dict[str, Dict[str, float]]  # evaluation set -> metric -> value


def results_dir() -> Path:
    return Path(os.environ.get("RESULTS_DIR") or ROOT / "results")


def evaluation_sets() -> Dict[str, Any]:
    """The held-out split's examples, and the real-words sets when their folder is there."""
    sets: Dict[str, Any] = {OWN_SPLIT: load_examples(ROOT / "tests" / "nlu_test")}
    folder = real_dev_dir()
    if folder is not None:
        sets[REAL_DEV] = RealWords.load(folder)
    return sets


def measure(model: Path, dataset: str, data: Any) -> Dict[str, Any]:
    """A model's figures on one evaluation set, as `make eval` computes them for that set."""
    if dataset == REAL_DEV:
        return flat_figures(score_model(model, data.complaints, data.weibo))
    return evaluate_examples(model, data)


# ---------------------------------------------------------------- the decision


@dataclass
class Check:
    dataset: str
    metric: str
    candidate: Optional[float]
    serving: Optional[float]
    floor: Optional[float]  # a floor, or a ceiling when lower is better
    ok: bool
    why: str = ""
    lower_is_better: bool = False


@dataclass
class Decision:
    promote: bool
    checks: List[Check] = field(default_factory=list)

    @property
    def reasons(self) -> List[str]:
        return [f"{c.dataset}: {c.metric} {c.why}" for c in self.checks if not c.ok]


def _check(
    dataset: str,
    metric: str,
    candidate: Optional[float],
    serving: Optional[float],
    floor: Optional[float],
    max_drop: float,
    lower_is_better: bool = False,
) -> Check:
    def verdict(ok: bool, why: str = "") -> Check:
        return Check(dataset, metric, candidate, serving, floor, ok, why, lower_is_better)

    if candidate is None:
        return verdict(False, "was not measured")
    sign = -1 if lower_is_better else 1
    if floor is not None and sign * (candidate - floor) < 0:
        side = "above the ceiling" if lower_is_better else "below the floor"
        return verdict(False, f"{candidate:.3f} is {side} {floor:.2f}")
    if serving is not None and sign * (candidate - serving) < -max_drop - 1e-9:
        return verdict(
            False, f"{candidate:.3f} is worse than the serving model's {serving:.3f} by more than {max_drop}"
        )
    return verdict(True)


def limits(dataset: str, floors: Dict[str, Any]) -> Tuple[Dict[str, float], Dict[str, float], List[str], float]:
    """A set's floors, its ceilings (lower is better), the figures compared with the serving model, and the drop allowed."""
    settings = floors["retrain"]
    if dataset == OWN_SPLIT:
        ceilings = {"traditional_gap": float(floors["max_traditional_gap"])}
        return floors["own_split"], ceilings, settings["compare"], float(settings["max_drop"])
    low, high = flat_limits(floors.get("real_words") or {})
    return low, high, settings["real_words"]["compare"], float(settings["real_words"]["max_drop"])


def decide(candidate: Figures, serving: Optional[Figures], floors: Dict[str, Any]) -> Decision:
    """Promote only when every floor and ceiling holds and no compared figure drops, on every set."""
    checks: List[Check] = []
    for dataset in [OWN_SPLIT, *(d for d in candidate if d != OWN_SPLIT)]:
        ours = candidate.get(dataset, {})
        theirs = (serving or {}).get(dataset, {})
        low, high, compare, max_drop = limits(dataset, floors)
        for metric in dict.fromkeys([*low, *compare]):
            checks.append(_check(dataset, metric, ours.get(metric), theirs.get(metric), low.get(metric), max_drop))
        for metric, ceiling in high.items():
            checks.append(
                _check(dataset, metric, ours.get(metric), theirs.get(metric), ceiling, max_drop, lower_is_better=True)
            )
    return Decision(all(c.ok for c in checks), checks)


# ---------------------------------------------------------------- the model card


def training_data_summary(data: Path = ROOT / "data" / "nlu") -> List[str]:
    """Examples per folder of data/nlu, and each imported or correction file by name."""
    per_folder: Dict[str, int] = {}
    named: List[str] = []
    for path in sorted(data.rglob("*.yml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        blocks = content.get("nlu") if isinstance(content, dict) else None
        count = sum(len(b.get("examples") or []) for b in blocks or [] if isinstance(b, dict) and "intent" in b)
        folder = path.parent.relative_to(data).as_posix() if path.parent != data else "."
        per_folder[folder] = per_folder.get(folder, 0) + count
        if folder == "imported" or path.name.startswith("corrections_"):
            named.append(f"{path.relative_to(ROOT).as_posix()}: {count}")
    lines = [f"- data/nlu/{folder}: {count} examples" for folder, count in sorted(per_folder.items()) if count]
    return lines + ([f"- of which {n}" for n in named] or ["- no imported history or exported corrections"])


def model_card(
    decision: Decision, candidate: Path, serving: Optional[Path], sizes: Dict[str, int], data_lines: List[str]
) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    verdict = "PROMOTED" if decision.promote else "REFUSED (the serving model stays)"
    lines = [
        "# Model card",
        "",
        f"{now}: candidate **{verdict}**",
        "",
        f"- candidate: `{candidate.name}` (named by the hash of config.yml, domain.yml, data/ and the NLU code)",
        f"- serving before: `{serving.name}`"
        if serving
        else "- serving before: none promoted (`make run` used the model of the current data)",
        "",
        "## Training data",
        "",
        *data_lines,
        "",
        "## Comparison",
        "",
    ]
    for dataset in dict.fromkeys(c.dataset for c in decision.checks):
        lines += [
            f"### {dataset}: {sizes.get(dataset, 0)} examples",
            "",
            "| figure | floor | serving | candidate | change | |",
            "|---|---|---|---|---|---|",
        ]
        for c in (c for c in decision.checks if c.dataset == dataset):
            change = f"{c.candidate - c.serving:+.3f}" if c.candidate is not None and c.serving is not None else ""
            floor = ("≤ " if c.lower_is_better else "≥ ") + f"{c.floor:.2f}" if c.floor is not None else ""
            lines.append(
                f"| {c.metric} | {floor} | {_fmt(c.serving)} | {_fmt(c.candidate)} | {change} | "
                f"{'ok' if c.ok else 'FAIL'} |"
            )
        lines.append("")
    if decision.reasons:
        lines += ["## Why it was refused", "", *[f"- {r}" for r in decision.reasons], ""]
    lines += [
        "## Use and limits",
        "",
        "The held-out split is written by the team; the real complaints are evaluation only and never "
        "trained on. Figures on a few dozen examples move by a few points between runs of similar data.",
        "`make rollback` serves the model promoted before this one.",
    ]
    return "\n".join(lines) + "\n"


def _fmt(value: Optional[float]) -> str:
    return f"{value:.3f}" if value is not None else "–"


# ---------------------------------------------------------------- the command

Evaluator = Callable[[Path, str, Any], Dict[str, Any]]  # (model, set name, its data) -> figures


def retrain(
    train: Callable[[], Path] = ensure_model,
    evaluate: Evaluator = measure,
    sets: Optional[Dict[str, Any]] = None,
    cache: Optional[Path] = None,
    card: Optional[Path] = None,
) -> Optional[Decision]:
    """Train (or reuse) the candidate, compare it with the serving model, promote it or not, write the card.

    None when the candidate already is the serving model (the data has not changed since).
    """
    candidate = train()
    serving = serving_model(cache)
    sets = sets if sets is not None else evaluation_sets()
    floors = load_floors()
    if serving is not None and serving.resolve() == candidate.resolve():
        print(f"{candidate.name} is already the serving model: nothing to compare")
        return None
    ours = {name: evaluate(candidate, name, data) for name, data in sets.items()}
    theirs = {name: evaluate(serving, name, data) for name, data in sets.items()} if serving else None
    decision = decide(ours, theirs, floors)
    card = card or results_dir() / "model_card.md"
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(
        model_card(decision, candidate, serving, {k: len(v) for k, v in sets.items()}, training_data_summary()),
        encoding="utf-8",
    )
    if decision.promote:
        promote(candidate, cache)
        print(f"promoted {candidate.name}; `make rollback` serves the previous model again")
    else:
        print("refused: " + "; ".join(decision.reasons))
    print(f"model card: {card}")
    return decision


def main(argv: List[str]) -> int:
    command = argv[0] if argv else "retrain"
    try:
        if command == "retrain":
            decision = retrain()
            return 0 if decision is None or decision.promote else 1
        if command == "rollback":
            back = rollback()
            print(
                f"now serving {back.name}"
                if back
                else "no promoted model any more: `make run` uses the model of the current data"
            )
            return 0
        if command == "status":
            pointer = read_pointer()
            print(yaml.safe_dump(pointer, sort_keys=False) if pointer["current"] else "nothing promoted")
            return 0
    except ServingError as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 2
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
