"""`make import-history`: a generated 2,000-row bank export with messy rows.

The export mixes clean rows with one of each kind of trouble a real export
has; every bad row must come back with its own line number and reason, the
phone number must be masked as the tracker store masks it, and the written
file must load with Rasa's own reader.
"""

import csv
import io
import json
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml

from deescalate.contract import EMOTIONS
from deescalate.privacy import mask
from deescalate.tools import import_history
from deescalate.tools.history_rows import ExportError, read_export
from deescalate.tools.import_history import UNMAPPED, Mapping, keyword_match, load_mapping, load_settings

# The bank's own categories, and what a reviewer maps them to.
CATEGORIES = {
    "信用卡年费争议": "fees_and_charges",
    "催收投诉": "debt_collection",
    "理赔纠纷": "claim_denied",
    "ATM吞卡": "atm_malfunction",
    "热线难打通": "hotline_unreachable",
}
OPENINGS = ["我想问一下", "真的受不了了", "第三次打过来了", "麻烦你们看看", "说句实话"]
COMPLAINTS = {
    "信用卡年费争议": "卡一次没刷过却扣了{n}元年费",
    "催收投诉": "借款才逾期{n}天就有人天天打电话到我单位",
    "理赔纠纷": "住院花了{n}元交了全部单据还是说不赔",
    "ATM吞卡": "在网点门口的机器取{n}元卡被吞了",
    "热线难打通": "客服号码拨了{n}分钟一直占线",
}
EMOTION_LABELS = ["愤怒", "焦虑", "中性", "困惑"]
PHONE = "13912345678"


def clean_row(i: int) -> Dict[str, str]:
    category = list(CATEGORIES)[i % len(CATEGORIES)]
    text = OPENINGS[i % len(OPENINGS)] + "，" + COMPLAINTS[category].format(n=100 + i)
    return {"text": text, "category": category, "emotion": EMOTION_LABELS[i % 4], "outcome": "closed"}


def csv_line(values: List[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def messy_export(path: Path, rows: int = 2000) -> Dict[str, int]:
    """Write the export; returns the line of each planted problem (the header is line 1)."""
    header = ["投诉内容", "投诉类别", "情绪", "处理结果"]
    out = [csv_line(header)]
    planted: Dict[str, int] = {}
    line = 1
    for i in range(rows):
        row = clean_row(i)
        values = [row["text"], row["category"], row["emotion"], row["outcome"]]
        data = csv_line(values)
        if i == 10:
            values[0] = "   "
            planted["empty"] = line + 1
        elif i == 20:
            values[1] = "积分商城"
            planted["unknown"] = line + 1
        elif i == 30:
            values[0] = f"回电请打{PHONE}，" + values[0]
            planted["phone"] = line + 1
        elif i == 40:  # one row typed in by a system that wrote GB18030
            planted["encoding"] = line + 1
            data = csv_line(values).decode("utf-8").encode("gb18030")
        elif i == 50:
            values[0] = clean_row(5)["text"]
            planted["duplicate"] = line + 1
        elif i == 60:
            values.append("多出来的一列")
            planted["malformed"] = line + 1
        elif i == 70:  # a quoted text across two lines: later line numbers must still be right
            values[0] = values[0] + "\n下一行还有话"
            planted["multiline"] = line + 1
        elif i == 80:
            values[0] = "卡号写成[1234]了" + values[0]
            planted["brackets"] = line + 1
        elif i == 90:
            values[2] = "哭笑不得"
            planted["odd_emotion"] = line + 1
        if i != 40:
            data = csv_line(values)
        out.append(data)
        line += data.count(b"\n")
    planted["last"] = line
    path.write_bytes(b"".join(out))
    return planted


def mapping_file(path: Path) -> Path:
    entries = {name: {"cause": cause} for name, cause in CATEGORIES.items()}
    emotions = {"愤怒": "angry", "焦虑": "anxious", "中性": "calm", "困惑": "confused"}
    path.write_text(yaml.safe_dump({"categories": entries, "emotions": emotions}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Tuple[import_history.ImportResult, Path, Dict[str, int]]:
    folder = tmp_path_factory.mktemp("history")
    export = folder / "bank_2023.csv"
    planted = messy_export(export)
    data_dir = folder / "data_nlu"
    data_dir.mkdir()
    result, output = import_history.run_import(
        export,
        load_mapping(mapping_file(folder / "map.yml")),
        "bank-2023",
        data_dir / "imported",
        data_dir,
        "utf-8",
        {},
        load_settings(),
    )
    return result, output, planted


def problem_at(result: import_history.ImportResult, line: int) -> str:
    reasons = [p.reason for p in result.problems if p.line == line]
    assert len(reasons) == 1, f"line {line}: {reasons}"
    return reasons[0]


def test_every_planted_bad_row_is_reported_with_its_line(imported):
    result, _, planted = imported
    assert problem_at(result, planted["empty"]) == "empty text"
    assert problem_at(result, planted["unknown"]) == "unknown category"
    assert problem_at(result, planted["encoding"]) == "undecodable bytes"
    assert problem_at(result, planted["duplicate"]) == "duplicate"
    assert problem_at(result, planted["malformed"]) == "malformed row"
    assert len(result.problems) == 5
    assert [w.line for w in result.warnings] == [planted["odd_emotion"]]


def test_nothing_is_dropped_silently(imported):
    result, _, planted = imported
    assert result.rows == 2000
    assert len(result.examples) + len(result.problems) == result.rows
    assert planted["last"] == 2000 + 1 + 1  # header, rows, one row across two lines


def test_the_phone_number_comes_out_masked_as_in_the_tracker_store(imported):
    result, output, _ = imported
    written = output.read_text(encoding="utf-8")
    assert PHONE not in written
    assert result.masked["mobile"] == 1 and result.masked_rows == 1
    phone_text = f"回电请打{PHONE}，" + clean_row(30)["text"]
    assert mask(phone_text) in written


def test_the_written_file_loads_with_rasas_reader(imported):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    result, output, planted = imported
    data = RasaYAMLReader().read(str(output))
    assert len(data.intent_examples) == len(result.examples) == 2000 - 5
    assert {m.get("intent") for m in data.intent_examples} == set(CATEGORIES.values())
    assert data.entity_examples == []  # the bracketed card number is no entity annotation
    emotions = [(m.get("metadata") or {}).get("example", {}).get("emotion") for m in data.intent_examples]
    assert set(emotions) - {None} <= set(EMOTIONS) and emotions.count(None) == 1
    raw = yaml.safe_load(output.read_text(encoding="utf-8"))
    assert {block["metadata"]["writer"] for block in raw["nlu"]} == {"import-bank-2023"}
    texts = {m.get("text") for m in data.intent_examples}
    assert any("下一行还有话" in t for t in texts)


def test_a_second_import_of_the_same_file_is_no_duplicate_of_itself(imported):
    result, output, _ = imported
    folder, data_dir = output.parents[2], output.parents[1]
    again, _ = import_history.run_import(
        folder / "bank_2023.csv",
        load_mapping(folder / "map.yml"),
        "bank-2023",
        output.parent,
        data_dir,
        "utf-8",
        {},
        load_settings(),
    )
    assert len(again.examples) == len(result.examples)
    assert [p.reason for p in again.problems].count("duplicate") == 1


def test_rows_already_in_the_training_data_are_reported(tmp_path: Path):
    data_dir = tmp_path / "nlu"
    data_dir.mkdir()
    first = clean_row(0)
    (data_dir / "old.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: fees_and_charges\n  examples:\n  - text: |\n      ' + first["text"] + "\n",
        encoding="utf-8",
    )
    export = tmp_path / "x.jsonl"
    export.write_text(
        "\n".join(json.dumps(clean_row(i), ensure_ascii=False) for i in range(3)) + "\n", encoding="utf-8"
    )
    result, _ = import_history.run_import(
        export,
        load_mapping(mapping_file(tmp_path / "m.yml")),
        "x",
        data_dir / "imported",
        data_dir,
        "utf-8",
        {},
        load_settings(),
    )
    assert [(p.line, p.reason) for p in result.problems] == [(1, "duplicate")]
    assert "already in data/nlu" in result.problems[0].detail


def test_jsonl_bad_lines(tmp_path: Path):
    export = tmp_path / "h.jsonl"
    lines = [
        json.dumps(clean_row(0), ensure_ascii=False).encode(),
        b"{not json",
        b"",
        json.dumps(["a list"]).encode(),
        json.dumps(clean_row(1), ensure_ascii=False).encode("gb18030"),
    ]
    export.write_bytes(b"\n".join(lines) + b"\n")
    blank: List[int] = []
    items = list(read_export(export, "utf-8", load_settings()["columns"], {}, blank))
    assert [getattr(i, "reason", "row") for i in items] == [
        "row",
        "malformed row",
        "malformed row",
        "undecodable bytes",
    ]
    assert [i.line for i in items] == [1, 2, 4, 5] and blank == [3]


def test_an_export_without_a_text_column_is_refused(tmp_path: Path):
    export = tmp_path / "h.csv"
    export.write_text("id,类别\n1,催收投诉\n", encoding="utf-8")
    with pytest.raises(ExportError, match="no text column"):
        list(read_export(export, "utf-8", load_settings()["columns"], {}, []))


def test_a_mapping_to_a_name_outside_the_contract_is_refused(tmp_path: Path):
    path = tmp_path / "m.yml"
    path.write_text("categories:\n  催收投诉: harassment\n", encoding="utf-8")
    with pytest.raises(ExportError, match="harassment"):
        load_mapping(path)


def test_keywords_prefill_only_a_clear_match():
    keywords = load_settings()["cause_keywords"]
    assert keyword_match("信用卡年费争议", keywords)[0] == "fees_and_charges"
    assert keyword_match("暴力催收", keywords)[0] == "debt_collection"
    assert keyword_match("其他", keywords)[0] == UNMAPPED
    cause, hits = keyword_match("理赔进度慢", keywords)  # two causes named: a person decides
    assert cause == UNMAPPED and {"claim_denied", "slow_processing"} <= set(hits)


def test_the_draft_map_lists_every_category_with_its_count(tmp_path: Path, capsys: pytest.CaptureFixture):
    export = tmp_path / "bank.csv"
    messy_export(export, rows=200)
    assert import_history.main([str(export), "--draft-map"]) == 0
    draft = yaml.safe_load((tmp_path / "bank.map.yml").read_text(encoding="utf-8"))
    categories = draft["categories"]
    assert set(categories) == set(CATEGORIES) | {"积分商城"}
    assert sum(e["rows"] for e in categories.values()) == 200 - 2  # the undecodable and the malformed row
    assert categories["积分商城"]["cause"] == UNMAPPED
    assert categories["催收投诉"]["cause"] == "debt_collection"
    assert categories["ATM吞卡"]["cause"] == "atm_malfunction"
    assert draft["emotions"]["愤怒"]["emotion"] == "angry"
    mapped = load_mapping(tmp_path / "bank.map.yml")
    assert isinstance(mapped, Mapping) and mapped.intent("积分商城") == UNMAPPED
    assert "1 unmapped" in capsys.readouterr().out


def test_the_command_prints_a_summary_and_writes_the_problem_report(
    tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture
):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    export = tmp_path / "bank.csv"
    planted = messy_export(export, rows=120)
    data_dir = tmp_path / "nlu"
    data_dir.mkdir()
    code = import_history.main(
        [
            str(export),
            "--map",
            str(mapping_file(tmp_path / "m.yml")),
            "--out-dir",
            str(data_dir / "imported"),
            "--data-dir",
            str(data_dir),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "rows read: 120" in out and "not imported: 5 rows" in out
    assert f"line {planted['encoding']}: undecodable bytes" in out
    report = list(csv.DictReader((tmp_path / "results" / "import" / "bank-problems.csv").open(encoding="utf-8")))
    assert sorted(int(r["line"]) for r in report if r["kind"] == "not imported") == sorted(
        planted[k] for k in ("empty", "unknown", "encoding", "duplicate", "malformed")
    )
    assert PHONE not in (tmp_path / "results" / "import" / "bank-problems.csv").read_text(encoding="utf-8")
