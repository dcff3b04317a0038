"""`make import-history`: a bank's categorised complaint history as NLU training data.

    python -m deescalate.tools.import_history FILE --map MAP [--name NAME]   # import
    python -m deescalate.tools.import_history FILE [--draft-map]             # draft MAP first

FILE is a CSV (header row) or JSONL export with the complaint text, the bank's
own category and, where present, an emotion and an outcome. MAP (YAML) says
which contract intent each category is; without MAP a draft is written that
lists every category with its row count, pre-filled where the category's name
clearly names a cause (keywords in import_history.yml) and `unmapped` otherwise.

The import masks personal data with the tracker store's masker
(deescalate/privacy.py), writes data/nlu/imported/<name>.yml with
`writer: import-<name>` on every intent block, and reports every row it did
not import, by line number and reason, on screen and in
$RESULTS_DIR/import/<name>-problems.csv. The report never repeats a row's text.
"""

import argparse
import csv
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

from deescalate.contract import EMOTIONS, INTENTS
from deescalate.privacy import Masker, default_masker
from deescalate.review.export import annotate, existing_examples, plain_text
from deescalate.tools.build import ROOT
from deescalate.tools.history_rows import ExportError, Problem, Row, guess_encoding, read_export

SETTINGS_FILE = Path(__file__).resolve().with_name("import_history.yml")
DATA_DIR = ROOT / "data" / "nlu"
UNMAPPED = "unmapped"
SHOWN_PROBLEMS = 50


def results_dir() -> Path:
    return Path(os.environ.get("RESULTS_DIR") or ROOT / "results")


def load_settings(path: Path = SETTINGS_FILE) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- mapping


@dataclass
class Mapping:
    categories: Dict[str, str]  # the bank's category -> contract intent or UNMAPPED
    emotions: Dict[str, str] = field(default_factory=dict)

    def intent(self, category: str) -> Optional[str]:
        return self.categories.get(category)

    def emotion(self, label: str) -> Optional[str]:
        if label in EMOTIONS:
            return label
        value = self.emotions.get(label)
        return value if value in EMOTIONS else None


def _target(value: Any) -> str:
    """A mapping entry is `intent` or `{cause: intent, rows: n, ...}`; empty means unmapped."""
    if isinstance(value, dict):
        value = value.get("cause", value.get("emotion"))
    return str(value).strip() if value not in (None, "") else UNMAPPED


def load_mapping(path: Path) -> Mapping:
    """The mapping file, checked: every target is a contract intent (or emotion) or `unmapped`."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ExportError(f"{path}: cannot read the mapping ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("categories"), dict):
        raise ExportError(f"{path}: the mapping needs a `categories:` section")
    categories = {str(k).strip(): _target(v) for k, v in data["categories"].items()}
    emotions = {str(k).strip(): _target(v) for k, v in (data.get("emotions") or {}).items()}
    wrong = sorted({v for v in categories.values() if v not in INTENTS and v != UNMAPPED})
    wrong += sorted({v for v in emotions.values() if v not in EMOTIONS and v != UNMAPPED})
    if wrong:
        raise ExportError(f"{path}: not contract intents or emotions (docs/contract.md): {', '.join(wrong)}")
    return Mapping(categories, emotions)


def keyword_match(name: str, keywords: Dict[str, List[str]]) -> Tuple[str, List[str]]:
    """The one target whose keywords occur in `name`, else UNMAPPED; and every target that matched."""
    lowered = name.lower()
    hits = [target for target, words in keywords.items() if any(str(w).lower() in lowered for w in words)]
    return (hits[0] if len(hits) == 1 else UNMAPPED), hits


def draft_section(
    counts: Counter, keywords: Dict[str, List[str]], known: Dict[str, str], identity: Iterable[str] = ()
) -> Dict[str, Dict[str, Any]]:
    """Every label with its rows, its target kept from an earlier mapping or guessed from keywords."""
    section: Dict[str, Dict[str, Any]] = {}
    for label, rows in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        entry: Dict[str, Any] = {"rows": rows}
        if known.get(label, UNMAPPED) != UNMAPPED:
            entry["cause"], entry["from"] = known[label], "earlier mapping"
        elif label in identity:
            entry["cause"] = label
        else:
            entry["cause"], hits = keyword_match(label, keywords)
            if len(hits) > 1:
                entry["candidates"] = hits
        section[label] = entry
    return section


def write_draft(rows: List[Row], path: Path, settings: Dict[str, Any], source: Path) -> Dict[str, int]:
    """Write (or extend) the draft mapping; returns how many categories are mapped and unmapped."""
    earlier = load_mapping(path) if path.exists() else Mapping({}, {})
    categories = draft_section(
        Counter(r.category for r in rows if r.category), settings["cause_keywords"], earlier.categories, INTENTS
    )
    emotions = draft_section(
        Counter(r.emotion for r in rows if r.emotion), settings["emotion_keywords"], earlier.emotions, EMOTIONS
    )
    for entry in emotions.values():
        entry["emotion"] = entry.pop("cause")
    header = (
        f"# Draft mapping for {source.name}: the bank's category -> contract intent\n"
        "# (docs/contract.md), its emotion label -> contract emotion. Check every line;\n"
        "# rows of an `unmapped` category are reported and not imported.\n"
    )
    body = yaml.safe_dump({"categories": categories, "emotions": emotions}, allow_unicode=True, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")
    unmapped = sum(1 for e in categories.values() if e["cause"] == UNMAPPED)
    return {"categories": len(categories), "mapped": len(categories) - unmapped, "unmapped": unmapped}


# ---------------------------------------------------------------- import


@dataclass
class Example:
    intent: str
    text: str
    emotion: Optional[str]
    outcome: str


@dataclass
class ImportResult:
    examples: List[Example] = field(default_factory=list)
    problems: List[Problem] = field(default_factory=list)
    warnings: List[Problem] = field(default_factory=list)
    masked: Counter = field(default_factory=Counter)  # kind of personal data -> pieces masked
    masked_rows: int = 0
    rows: int = 0
    blank_lines: List[int] = field(default_factory=list)


def convert(
    items: Iterable[Any],
    mapping: Mapping,
    masker: Masker,
    known: Dict[str, str],
    max_chars: int,
    result: Optional[ImportResult] = None,
) -> ImportResult:
    """Rows into masked examples; every row not imported becomes a Problem with its line."""
    result = result or ImportResult()
    seen: Dict[str, int] = {}
    for item in items:
        result.rows += 1
        if isinstance(item, Problem):
            result.problems.append(item)
            continue
        problem = _check(item, mapping, max_chars)
        if problem:
            result.problems.append(problem)
            continue
        masked = masker.mask_with_spans(item.text)
        text = annotate(masked.text, [])  # plain text: brackets must not read as annotations
        key = plain_text(text)
        if key in seen:
            result.problems.append(Problem(item.line, "duplicate", f"same text as line {seen[key]}", item.category))
            continue
        if key in known:
            result.problems.append(
                Problem(item.line, "duplicate", f"already in data/nlu as {known[key]}", item.category)
            )
            continue
        seen[key] = item.line
        if masked.findings:
            result.masked_rows += 1
            result.masked.update(f.kind for f in masked.findings)
        emotion = mapping.emotion(item.emotion) if item.emotion else None
        if item.emotion and emotion is None:
            result.warnings.append(
                Problem(
                    item.line, "emotion not mapped", f"'{item.emotion}': imported without an emotion", item.category
                )
            )
        result.examples.append(Example(str(mapping.intent(item.category)), text, emotion, item.outcome))
    return result


def _check(row: Row, mapping: Mapping, max_chars: int) -> Optional[Problem]:
    if not row.text.strip():
        return Problem(row.line, "empty text", "", row.category)
    if len(row.text) > max_chars:
        return Problem(row.line, "text too long", f"{len(row.text)} characters (at most {max_chars})", row.category)
    if not row.category:
        return Problem(row.line, "unknown category", "no category")
    intent = mapping.intent(row.category)
    if intent is None:
        return Problem(row.line, "unknown category", f"'{row.category}' is not in the mapping", row.category)
    if intent == UNMAPPED:
        return Problem(row.line, "unknown category", f"'{row.category}' is marked unmapped", row.category)
    return None


class _Dumper(yaml.SafeDumper):
    pass


class _Literal(str):
    pass


_Dumper.add_representer(
    _Literal, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value + "\n", style="|")
)


def nlu_yaml(examples: List[Example], writer: str) -> str:
    """Rasa NLU YAML like data/nlu/*: intents in contract order, `writer` on every block."""
    order = {name: index for index, name in enumerate(INTENTS)}
    blocks = []
    for intent in sorted({e.intent for e in examples}, key=lambda name: order.get(name, len(order))):
        entries = []
        for example in (e for e in examples if e.intent == intent):
            entry: Dict[str, Any] = {"text": _Literal(example.text)}
            metadata = {k: v for k, v in (("emotion", example.emotion), ("outcome", example.outcome)) if v}
            if metadata:
                entry["metadata"] = metadata
            entries.append(entry)
        blocks.append({"intent": intent, "metadata": {"writer": writer}, "examples": entries})
    body = yaml.dump({"nlu": blocks}, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000)
    return 'version: "3.1"\n' + body


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    return cleaned or "history"


def write_problems(result: ImportResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["line", "kind", "reason", "detail", "category"])
        for kind, items in (("not imported", result.problems), ("warning", result.warnings)):
            for p in sorted(items, key=lambda p: p.line):
                out.writerow([p.line, kind, p.reason, p.detail, p.category])


def summary(result: ImportResult, output: Optional[Path], problems_file: Path) -> str:
    by_intent = Counter(e.intent for e in result.examples)
    reasons = Counter(p.reason for p in result.problems)
    lines = [
        f"rows read: {result.rows} (blank lines skipped: {len(result.blank_lines)})",
        f"imported: {len(result.examples)} examples in {len(by_intent)} intents" + (f" -> {output}" if output else ""),
        "  " + ", ".join(f"{intent} {n}" for intent, n in by_intent.most_common()),
        f"personal data masked: {result.masked_rows} rows ("
        + (", ".join(f"{kind} {n}" for kind, n in result.masked.most_common()) or "none")
        + ")",
        f"not imported: {len(result.problems)} rows"
        + (" (" + ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()) + ")" if reasons else ""),
    ]
    if result.warnings:
        lines.append(f"warnings: {len(result.warnings)} rows imported without their emotion label")
    for p in sorted(result.problems + result.warnings, key=lambda p: p.line)[:SHOWN_PROBLEMS]:
        lines.append(f"  line {p.line}: {p.reason}" + (f": {p.detail}" if p.detail else ""))
    if len(result.problems) + len(result.warnings) > SHOWN_PROBLEMS:
        lines.append(f"  ... every row in {problems_file}")
    elif result.problems or result.warnings:
        lines.append(f"  (also in {problems_file})")
    return "\n".join(lines)


def run_import(
    path: Path,
    mapping: Mapping,
    name: str,
    out_dir: Path,
    data_dir: Path,
    encoding: str,
    explicit: Dict[str, Optional[str]],
    settings: Dict[str, Any],
) -> Tuple[ImportResult, Path]:
    """Import `path`; the written file is out_dir/<name>.yml (only when some rows were imported)."""
    output = out_dir / f"{name}.yml"
    known = existing_examples(data_dir)
    if output.exists():  # importing again replaces the file: its own examples are no duplicates
        for text in existing_examples_in(output):
            known.pop(text, None)
    result = ImportResult()
    items = read_export(path, encoding, settings["columns"], explicit, result.blank_lines)
    convert(items, mapping, default_masker(), known, int(settings["max_text_chars"]), result)
    if result.examples:
        out_dir.mkdir(parents=True, exist_ok=True)
        output.write_text(nlu_yaml(result.examples, f"import-{name}"), encoding="utf-8")
    return result, output


def existing_examples_in(path: Path) -> List[str]:
    """Plain texts of one NLU file (an earlier run of the same import)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    blocks = data.get("nlu") if isinstance(data, dict) else None
    return [
        plain_text(str(e["text"]))
        for b in blocks or []
        if isinstance(b, dict)
        for e in b.get("examples") or []
        if isinstance(e, dict) and "text" in e
    ]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--map", type=Path, help="category mapping (YAML); without it a draft is written")
    parser.add_argument("--draft-map", action="store_true", help="write or extend the draft mapping and stop")
    parser.add_argument("--name", help="name of the import (default: the file's name)")
    parser.add_argument("--encoding", default="utf-8")
    parser.add_argument("--out-dir", type=Path, default=DATA_DIR / "imported")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="existing training data (duplicates)")
    for column in ("text", "category", "emotion", "outcome"):
        parser.add_argument(f"--{column}-column")
    args = parser.parse_args(argv)
    settings = load_settings()
    name = safe_name(args.name or args.file.stem)
    explicit = {c: getattr(args, f"{c}_column") for c in ("text", "category", "emotion", "outcome")}
    try:
        if args.draft_map or args.map is None:
            draft = args.map or args.file.with_name(f"{args.file.stem}.map.yml")
            blank: List[int] = []
            items = list(read_export(args.file, args.encoding, settings["columns"], explicit, blank))
            rows = [i for i in items if isinstance(i, Row)]
            counts = write_draft(rows, draft, settings, args.file)
            print(
                f"draft mapping: {draft}\n  {counts['categories']} categories, {counts['mapped']} pre-filled, "
                f"{counts['unmapped']} unmapped; {len(items) - len(rows)} rows unreadable\n"
                f"check it, then: make import-history FILE={args.file} MAP={draft}"
            )
            return 0
        result, output = run_import(
            args.file, load_mapping(args.map), name, args.out_dir, args.data_dir, args.encoding, explicit, settings
        )
    except ExportError as error:
        print(f"import-history: {error}", file=sys.stderr)
        return 2
    problems_file = results_dir() / "import" / f"{name}-problems.csv"
    write_problems(result, problems_file)
    print(summary(result, output if result.examples else None, problems_file))
    undecodable = sum(1 for p in result.problems if p.reason == "undecodable bytes")
    if undecodable * 2 > max(result.rows, 1):
        guess = guess_encoding(args.file.read_bytes()[:65536])
        print(
            f"most rows are not {args.encoding}" + (f"; the file reads as {guess}: --encoding {guess}" if guess else "")
        )
    return 0 if result.examples else 1


if __name__ == "__main__":
    sys.exit(main())
