"""How well the taboo check reads the families: the test split, the seeds' phrases, cross-validation.

    python -m deescalate.tools.taboo_eval [--out results/taboo] [--cv]

`make eval` runs this after the NLU evaluation. It scores the test split
written apart (tests/data/taboo_test.yml, never trained on) per family and
overall, checks that every taboo phrase listed in the seed documents is flagged
(read from ../shared/seeds at evaluation time when the folder is there; the
phrases are not copied into the repository), and writes report.json and
report.md. `--cv` adds a leave-one-writer-out cross-validation on the training
drafts, the figure used to choose the classifier's settings.
"""

import argparse
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

import yaml

from deescalate.assist.taboo import TabooChecker
from deescalate.assist.taboo_model import ROOT, Draft, FamilyModel, load_drafts
from deescalate.kb.loader import load_kb
from deescalate.textnorm import normalize_text

TEST_SPLIT = ROOT / "tests" / "data" / "taboo_test.yml"
SEEDS = Path(os.environ.get("SEEDS_DIR", ROOT.parent / "shared" / "seeds"))
TARGETS = {"recall": 0.95, "precision": 0.95, "family_recall": 0.85, "seed_phrases": 1.0}
# The seed list of phrases never to say sits in the seeds' slides as bullets marked
# "v", each printed twice, after the advice bullet about growing from complaints
# and before the behaviours marked "u".
_ADVICE_END = "自我提升"


def load_split(path: Path = TEST_SPLIT) -> List[Draft]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Draft(text=d["text"], families=tuple(d.get("families") or []), writer=data["writer"], style="")
        for d in data["drafts"]
    ]


def seed_phrases(folder: Path = SEEDS) -> List[str]:
    """The taboo phrases listed in the seed documents, or [] when the seeds are not here."""
    phrases: List[str] = []
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        text = re.sub(r"\n\d+、", "", normalize_text(path.read_text(encoding="utf-8", errors="replace")))
        at = text.find(_ADVICE_END)
        while at >= 0:
            end = text.find("u ", at)
            for bullet in text[at : end if end > 0 else None].split("v")[1:]:
                bullet = bullet.strip()
                half = len(bullet) // 2
                if bullet and len(bullet) % 2 == 0 and bullet[:half] == bullet[half:]:
                    phrases.append(bullet[:half])
            at = text.find(_ADVICE_END, end) if end > 0 else -1
    return list(dict.fromkeys(phrases))


def _ratio(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 1.0


def score(checker: TabooChecker, drafts: Sequence[Draft], families: Sequence[str]) -> Dict[str, Any]:
    """Per-family and overall recall and precision, with the drafts missed and wrongly flagged."""
    predicted: List[Set[str]] = [{hit["family"] for hit in checker.check(d.text)} for d in drafts]
    per_family = {}
    for family in families:
        tp = sum(1 for d, p in zip(drafts, predicted) if family in d.families and family in p)
        fp = sum(1 for d, p in zip(drafts, predicted) if family not in d.families and family in p)
        fn = sum(1 for d, p in zip(drafts, predicted) if family in d.families and family not in p)
        per_family[family] = {"recall": _ratio(tp, tp + fn), "precision": _ratio(tp, tp + fp), "support": tp + fn}
    taboo = [bool(d.families) for d in drafts]
    flagged = [bool(p) for p in predicted]
    tp = sum(1 for t, f in zip(taboo, flagged) if t and f)
    return {
        "overall": {
            "recall": _ratio(tp, sum(taboo)),
            "precision": _ratio(tp, sum(flagged)),
            "taboo_drafts": sum(taboo),
            "acceptable_drafts": len(drafts) - sum(taboo),
        },
        "families": per_family,
        "missed": [
            {"text": d.text, "families": list(d.families), "flagged": sorted(p)}
            for d, p in zip(drafts, predicted)
            if not set(d.families) <= p
        ],
        "false_flags": [
            {"text": d.text, "families": list(d.families), "flagged": sorted(p - set(d.families))}
            for d, p in zip(drafts, predicted)
            if p - set(d.families)
        ],
    }


def cross_validate(entries: List[Dict[str, Any]], drafts: Sequence[Draft]) -> Dict[str, Any]:
    """Leave one writer out: train on the others, score the writer's drafts."""
    families = [e["id"] for e in entries]
    pooled: List[Draft] = []
    flags: List[Set[str]] = []
    for writer in sorted({d.writer for d in drafts}):
        held = [d for d in drafts if d.writer == writer]
        model = FamilyModel(families, [d for d in drafts if d.writer != writer])
        checker = TabooChecker(entries, model=model)
        pooled.extend(held)
        flags.extend({hit["family"] for hit in checker.check(d.text)} for d in held)
    replay = _Replay(dict(zip([d.text for d in pooled], flags)))
    return score(replay, pooled, families)  # type: ignore[arg-type]


class _Replay:
    """Answers check() with flags already computed, so `score` can pool several models."""

    def __init__(self, flags: Dict[str, Set[str]]) -> None:
        self.flags = flags

    def check(self, text: str) -> List[Dict[str, str]]:
        return [{"family": family} for family in self.flags[text]]


def evaluate(with_cv: bool = False, seeds: Path = SEEDS) -> Dict[str, Any]:
    kb = load_kb(ROOT / "scripts_kb")
    families = [e["id"] for e in kb.taboo]
    checker = TabooChecker(kb.taboo)
    report: Dict[str, Any] = {"test": score(checker, load_split(), families)}
    phrases = seed_phrases(seeds)
    report["seed_phrases"] = {
        "count": len(phrases),
        "flagged": [bool(checker.check(p)) for p in phrases],
        "missed": [p for p in phrases if not checker.check(p)],
    }
    if with_cv:
        report["cross_validation"] = cross_validate(kb.taboo, load_drafts())
    report["labels"] = {e["id"]: e["label"] for e in kb.taboo}
    return report


def _table(result: Dict[str, Any], labels: Dict[str, str]) -> List[str]:
    lines = ["| family | label | recall | precision | drafts |", "|---|---|---|---|---|"]
    for family, figures in result["families"].items():
        lines.append(
            f"| {family} | {labels[family]} | {figures['recall']:.2f} | {figures['precision']:.2f} "
            f"| {figures['support']} |"
        )
    overall = result["overall"]
    lines.append(
        f"| **overall** (taboo or not) | | **{overall['recall']:.2f}** | **{overall['precision']:.2f}** "
        f"| {overall['taboo_drafts']} taboo, {overall['acceptable_drafts']} acceptable |"
    )
    return lines


def render(report: Dict[str, Any]) -> str:
    test, seeds, labels = report["test"], report["seed_phrases"], report["labels"]
    lines = [
        "# Taboo check: the test split written apart",
        "",
        "Produced by `make eval` (`python -m deescalate.tools.taboo_eval`); the split is "
        "tests/data/taboo_test.yml, written by another writer than the training drafts and never trained on. "
        "A family's recall counts the drafts of that family flagged with that family; the overall row "
        "asks only whether a taboo draft was flagged at all and an acceptable one left alone.",
        "",
    ]
    lines += _table(test, labels)
    flagged = sum(seeds["flagged"])
    lines += [
        "",
        f"Seed documents' taboo phrases flagged: {flagged} of {seeds['count']}"
        + ("" if seeds["count"] else " (seed folder not present)")
        + ".",
        "",
    ]
    lines += (
        ["## Taboo drafts missed", ""]
        + [
            f"- {m['text']} (expected {', '.join(m['families'])}; flagged {', '.join(m['flagged']) or 'nothing'})"
            for m in test["missed"]
        ]
        + [""]
    )
    lines += (
        ["## Flags on families the draft does not break", ""]
        + [f"- {m['text']} ({', '.join(m['flagged'])})" for m in test["false_flags"]]
        + [""]
    )
    if "cross_validation" in report:
        lines += ["## Leave-one-writer-out cross-validation on the training drafts", ""]
        lines += _table(report["cross_validation"], labels) + [""]
    return "\n".join(lines)


def failures(report: Dict[str, Any]) -> List[str]:
    test = report["test"]
    problems = [
        f"overall {k} {test['overall'][k]:.2f} < {TARGETS[k]}"
        for k in ("recall", "precision")
        if test["overall"][k] < TARGETS[k]
    ]
    problems += [
        f"{f} recall {v['recall']:.2f} < {TARGETS['family_recall']}"
        for f, v in test["families"].items()
        if v["recall"] < TARGETS["family_recall"]
    ]
    problems += [f"seed phrase not flagged: {p}" for p in report["seed_phrases"]["missed"]]
    return problems


def check_latencies_ms(checks: int = 500) -> List[float]:
    """Milliseconds of each of `checks` single-draft checks, cycling through the test split's drafts
    (after a warm-up; the model is trained before the clock starts)."""
    kb = load_kb(ROOT / "scripts_kb")
    checker = TabooChecker(kb.taboo)
    texts = [d.text for d in load_split()]
    for text in texts[:20]:
        checker.check(text)
    latencies = []
    for index in range(checks):
        started = time.perf_counter()
        checker.check(texts[index % len(texts)])
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "taboo")
    parser.add_argument("--cv", action="store_true", help="also cross-validate on the training drafts")
    args = parser.parse_args(argv)
    report = evaluate(with_cv=args.cv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (args.out / "report.md").write_text(render(report), encoding="utf-8")
    overall = report["test"]["overall"]
    print(
        f"taboo check: recall {overall['recall']:.3f} precision {overall['precision']:.3f}; "
        f"seed phrases {sum(report['seed_phrases']['flagged'])}/{report['seed_phrases']['count']}; "
        f"report in {args.out}"
    )
    for problem in failures(report):
        print(f"  below target: {problem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
