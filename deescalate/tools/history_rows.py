"""Rows of a bank's complaint export (CSV or JSONL), each with its line number.

Reading never drops a row quietly: every row comes out either as a `Row` or as
a `Problem` naming its line and the reason (malformed, undecodable bytes).
Bytes that are not valid in the export's encoding are kept apart with
`surrogateescape`, so one badly encoded row is reported and the rest read on.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Union

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
FIELDS = ("text", "category", "emotion", "outcome")
REQUIRED = ("text", "category")


class ExportError(Exception):
    """The export as a whole cannot be read (no header, no text column, ...)."""


@dataclass(frozen=True)
class Row:
    line: int
    text: str
    category: str
    emotion: str = ""
    outcome: str = ""


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str
    detail: str = ""
    category: str = ""


Item = Union[Row, Problem]


def _undecodable(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def guess_encoding(raw: bytes) -> Optional[str]:
    """The encoding charset-normalizer reads `raw` in, if it finds one."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with requests
        return None
    best = from_bytes(raw).best()
    return best.encoding if best is not None else None


def _encoding_problem(line: int, values: Sequence[str], encoding: str) -> Problem:
    raw = b" ".join(v.encode("utf-8", "surrogateescape") for v in values)
    guess = guess_encoding(raw)
    hint = f"; it reads as {guess}" if guess and guess.replace("_", "-") != encoding else ""
    return Problem(line, "undecodable bytes", f"bytes that are not valid {encoding}{hint}")


def resolve_columns(
    names: Sequence[str], aliases: Dict[str, List[str]], explicit: Dict[str, Optional[str]]
) -> Dict[str, str]:
    """Which column holds each field: an explicit name, else the first alias present."""
    present = {name.strip().lstrip("\ufeff").lower(): name for name in names}
    chosen: Dict[str, str] = {}
    for field in FIELDS:
        wanted = [explicit[field]] if explicit.get(field) else aliases.get(field, [field])
        for alias in wanted:
            if alias and alias.strip().lower() in present:
                chosen[field] = present[alias.strip().lower()]
                break
        if field in REQUIRED and field not in chosen:
            raise ExportError(
                f"no {field} column: looked for {', '.join(str(w) for w in wanted)} "
                f"among {', '.join(names) or '(none)'}"
            )
    return chosen


def _row(line: int, record: Dict[str, object], columns: Dict[str, str]) -> Item:
    values: Dict[str, str] = {}
    for field, column in columns.items():
        value = record.get(column)
        if isinstance(value, (dict, list)):
            return Problem(line, "malformed row", f"{field} is not a plain value")
        values[field] = "" if value is None else str(value)
    return Row(
        line,
        values["text"],
        values["category"].strip(),
        values.get("emotion", "").strip(),
        values.get("outcome", "").strip(),
    )


def read_csv(
    path: Path, encoding: str, aliases: Dict[str, List[str]], explicit: Dict[str, Optional[str]], blank: List[int]
) -> Iterator[Item]:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    text = path.read_bytes().decode(codec, errors="surrogateescape")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as error:
        raise ExportError(f"{path}: no header row ({error or 'empty file'})") from error
    if any(_undecodable(name) for name in header):
        raise ExportError(
            f"{path}: the header is not valid {encoding}; "
            f"try --encoding {guess_encoding(path.read_bytes()[:4096]) or '...'}"
        )
    columns = resolve_columns(header, aliases, explicit)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Problem(start, "malformed row", f"CSV: {error}")
            continue
        if not fields or all(not f.strip() for f in fields):
            blank.append(start)
            continue
        if len(fields) != len(header):
            yield Problem(start, "malformed row", f"{len(fields)} fields where the header has {len(header)}")
            continue
        if any(_undecodable(f) for f in fields):
            yield _encoding_problem(start, fields, encoding)
            continue
        yield _row(start, dict(zip(header, fields)), columns)


def read_jsonl(
    path: Path, encoding: str, aliases: Dict[str, List[str]], explicit: Dict[str, Optional[str]], blank: List[int]
) -> Iterator[Item]:
    columns: Optional[Dict[str, str]] = None
    with path.open("rb") as handle:
        for line, raw in enumerate(handle, start=1):
            if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                yield _encoding_problem(line, [raw.decode(encoding, errors="surrogateescape")], encoding)
                continue
            if not text.strip():
                blank.append(line)
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                yield Problem(line, "malformed row", f"not valid JSON ({error.msg})")
                continue
            if not isinstance(record, dict):
                yield Problem(line, "malformed row", "not a JSON object")
                continue
            if columns is None:
                columns = resolve_columns(list(record), aliases, explicit)
            yield _row(line, record, columns)


def read_export(
    path: Path, encoding: str, aliases: Dict[str, List[str]], explicit: Dict[str, Optional[str]], blank: List[int]
) -> Iterator[Item]:
    """Rows and problems of a CSV/TSV or JSONL export, in file order; blank lines go to `blank`."""
    if not path.is_file():
        raise ExportError(f"{path}: no such file")
    reader = read_jsonl if path.suffix.lower() in JSONL_SUFFIXES else read_csv
    return reader(path, encoding, aliases, explicit, blank)
