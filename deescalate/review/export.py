"""Trainers' corrections as Rasa NLU training data.

    python -m deescalate.review.export [OUT_DIR]     # what `make export-corrections` runs

Writes every correction not yet exported to OUT_DIR/corrections_<YYYYMMDD_HHMMSS>.yml
(default data/nlu, or CORRECTIONS_DIR), in the format of data/nlu/*.yml: intent
blocks whose examples are `- text: |` with `metadata: {emotion: ...}`. The
entities the NLU found in the turn are written as annotations, as in the
hand-written data, so the new examples do not teach DIET that they are not
entities. The file is meant to be reviewed like any data change before the
next `make model`.

Rows are claimed (exported_at set) before the file is written, so two
exports at once never write the same correction twice; a failed write gives
the rows back.
"""

import datetime as dt
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from deescalate.contract import ENTITIES, INTENTS
from deescalate.db.models import Correction, utcnow
from deescalate.events import events_by_id

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "data" / "nlu"
# [text](entity) or [text]{"entity": ...}: the annotation syntax of Rasa's YAML examples.
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
MASKED = re.compile(r"[*＊【】(){}]")  # masked personal data, or characters of the annotation syntax


def corrections_dir() -> Path:
    return Path(os.environ.get("CORRECTIONS_DIR") or DEFAULT_DIR)


def plain_text(example: str) -> str:
    """An example's text without entity annotations, whitespace normalised."""
    return " ".join(ANNOTATION.sub(r"\1", example).split())


def _value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def annotate(text: str, entities: Iterable[Dict[str, Any]]) -> str:
    """The text with the found entities marked, in the hand-written data's syntax.

    Only clean spans are kept: inside the text, not overlapping, not masked,
    without brackets, of an entity of the contract.
    """
    text = text.replace("[", "［").replace("]", "］")  # plain brackets must not read as annotations
    spans: List[Tuple[int, int, str, str]] = []
    for entity in entities:
        start, end, name = entity.get("start"), entity.get("end"), entity.get("entity")
        if name not in ENTITIES or not isinstance(start, int) or not isinstance(end, int):
            continue
        piece = text[start:end] if 0 <= start < end <= len(text) else ""
        if not piece.strip() or piece != piece.strip() or MASKED.search(piece):
            continue
        if any(start < s_end and s_start < end for s_start, s_end, _, _ in spans):
            continue
        spans.append((start, end, name, _value(entity.get("value", piece))))
    out, position = [], 0
    for start, end, name, value in sorted(spans):
        piece = text[start:end]
        out.append(text[position:start])
        if name == "product" and value == piece:
            out.append(f"[{piece}]({name})")
        else:
            out.append(f"[{piece}]" + json.dumps({"entity": name, "value": value}, ensure_ascii=False))
        position = end
    out.append(text[position:])
    return " ".join("".join(out).split())


@dataclass
class Example:
    intent: str
    text: str  # annotated
    emotion: Optional[str]


def nlu_yaml(examples: List[Example]) -> str:
    """Rasa NLU YAML in the layout of data/nlu/*.yml, intents in contract order."""
    lines = ['version: "3.1"', "nlu:"]
    order = {name: index for index, name in enumerate(INTENTS)}
    for intent in sorted({e.intent for e in examples}, key=lambda name: order.get(name, len(order))):
        lines += [f"- intent: {intent}", "  examples:"]
        for example in (e for e in examples if e.intent == intent):
            lines += ["  - text: |", f"      {example.text}"]
            if example.emotion:
                lines += ["    metadata:", f"      emotion: {example.emotion}"]
    return "\n".join(lines) + "\n"


def existing_examples(folder: Path) -> Dict[str, str]:
    """Plain text -> intent of every example already in the folder's NLU files."""
    known: Dict[str, str] = {}
    for path in sorted(folder.rglob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        blocks = data.get("nlu") if isinstance(data, dict) else None
        for block in blocks or []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            examples = block.get("examples") or []
            if isinstance(examples, str):
                examples = [{"text": line[2:]} for line in examples.splitlines() if line.startswith("- ")]
            for example in examples:
                if isinstance(example, dict) and isinstance(example.get("text"), str):
                    known[plain_text(example["text"])] = block["intent"]
    return known


@dataclass
class ExportResult:
    path: Optional[Path] = None
    exported: int = 0
    already_present: int = 0  # same text and intent already in the data: nothing to add
    conflicts: List[str] = field(default_factory=list)  # texts the data has under another intent
    skipped: int = 0  # no usable intent (e.g. fallback, never corrected): left pending


def _file_name(folder: Path, now: dt.datetime) -> Path:
    stem = f"corrections_{now:%Y%m%d_%H%M%S}"
    path, number = folder / f"{stem}.yml", 2
    while path.exists():
        path, number = folder / f"{stem}_{number}.yml", number + 1
    return path


def _claim(factory: sessionmaker, stamp: dt.datetime) -> List[int]:
    """Mark the pending corrections as exported at `stamp`; the ids this export owns."""
    with factory() as session:
        ids = [row.id for row in session.query(Correction.id).filter(Correction.exported_at.is_(None))]
        if ids:
            session.execute(
                update(Correction)
                .where(Correction.id.in_(ids), Correction.exported_at.is_(None))
                .values(exported_at=stamp)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        return [row.id for row in session.query(Correction.id).filter(Correction.exported_at == stamp)]


def _release(factory: sessionmaker, ids: List[int]) -> None:
    if not ids:
        return
    with factory() as session:
        session.execute(
            update(Correction)
            .where(Correction.id.in_(ids))
            .values(exported_at=None)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def _examples(
    session: Session, rows: List[Correction], known: Dict[str, str], result: ExportResult
) -> Tuple[List[Example], List[int]]:
    """Examples to write, and the ids to give back (no usable intent)."""
    events = events_by_id(session, [row.event_id for row in rows])
    examples, give_back, seen = [], [], set()
    for row in rows:
        intent = row.intent or row.predicted_intent
        if intent not in INTENTS:
            give_back.append(row.id)
            result.skipped += 1
            continue
        event = events.get(row.event_id)
        parse = (event[3].get("parse_data") or {}) if event else {}
        text = annotate(row.text, parse.get("entities") or [])
        plain = plain_text(text)
        if not plain or (plain, intent) in seen or known.get(plain) == intent:
            result.already_present += 1
            continue
        if plain in known:
            result.conflicts.append(plain)
        seen.add((plain, intent))
        examples.append(Example(intent, text, row.emotion or row.predicted_emotion))
    return examples, give_back


def export_corrections(
    factory: sessionmaker, folder: Optional[Path] = None, now: Optional[dt.datetime] = None
) -> ExportResult:
    """Write the pending corrections to a new NLU file in `folder` and mark them exported."""
    folder = folder or corrections_dir()
    result = ExportResult()
    stamp = utcnow()
    ids = _claim(factory, stamp)
    if not ids:
        return result
    try:
        with factory() as session:
            rows = session.query(Correction).filter(Correction.id.in_(ids)).order_by(Correction.id).all()
            examples, give_back = _examples(session, rows, existing_examples(folder), result)
        _release(factory, give_back)
        if examples:
            folder.mkdir(parents=True, exist_ok=True)
            path = _file_name(folder, now or dt.datetime.now())
            path.write_text(nlu_yaml(examples), encoding="utf-8")
            result.path, result.exported = path, len(examples)
    except Exception:
        _release(factory, ids)
        raise
    return result


def main(argv: List[str]) -> int:
    from deescalate.db.migrate import upgrade
    from deescalate.db.session import session_factory

    upgrade()
    result = export_corrections(session_factory(), Path(argv[0]) if argv else None)
    if result.path:
        print(f"wrote {result.exported} examples to {result.path}")
    else:
        print("no new corrections to export")
    if result.already_present:
        print(f"{result.already_present} already in the training data with the same intent")
    if result.skipped:
        print(f"{result.skipped} left pending: no intent of the contract (correct the intent first)")
    for text in result.conflicts:
        print(f"note: the training data has this text under another intent: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
