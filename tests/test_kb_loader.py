"""The knowledge base loads, and a broken edit names the file and key at fault."""

import subprocess
import sys

import pytest
import yaml

from deescalate.contract import CAUSE_DOMAINS, EMOTIONS, ESCALATIONS, STAGES
from deescalate.kb import KBError, load_kb
from deescalate.tools.build import ROOT


def _edit(path, change):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_every_cause_has_every_domain_of_the_contract(kb):
    for cause, domains in CAUSE_DOMAINS.items():
        assert set(domains) <= set(kb.causes[cause]["domains"]), cause


def test_every_emotion_stage_and_escalation_has_lines(kb):
    for emotion in EMOTIONS:
        assert len(kb.empathy["emotions"][emotion]["lines"]) >= 3
    for stage in STAGES:
        assert kb.stages[stage]["lines"]
    for value in ESCALATIONS:
        assert kb.escalation["escalation"][value]["lines"]


def test_missing_required_key_names_file_and_key(kb_copy):
    _edit(kb_copy / "causes" / "mis_selling.yml", lambda d: d["domains"]["insurance"]["explanations"].pop("plain"))
    with pytest.raises(KBError) as error:
        load_kb(kb_copy)
    assert error.value.file.endswith("causes/mis_selling.yml")
    assert error.value.key == "domains.insurance.explanations"
    assert "plain" in error.value.message


def test_unknown_template_variable_is_rejected(kb_copy):
    _edit(kb_copy / "empathy.yml", lambda d: d["emotions"]["angry"]["lines"].append("您的{customer_name}我记下了"))
    with pytest.raises(KBError) as error:
        load_kb(kb_copy)
    assert error.value.file.endswith("empathy.yml")
    assert "customer_name" in error.value.message


def test_choice_with_unknown_approver_is_rejected(kb_copy):
    _edit(
        kb_copy / "causes" / "atm_malfunction.yml",
        lambda d: d["domains"]["bank"]["choices"][0].update(approver="the_janitor"),
    )
    with pytest.raises(KBError) as error:
        load_kb(kb_copy)
    assert error.value.key == "domains.bank.choices[0].approver"


def test_missing_domain_of_a_cause_is_rejected(kb_copy):
    _edit(kb_copy / "causes" / "fees_and_charges.yml", lambda d: d["domains"].pop("metro"))
    with pytest.raises(KBError) as error:
        load_kb(kb_copy)
    assert "metro" in error.value.message


def test_invalid_yaml_and_bad_regex_are_reported(kb_copy):
    (kb_copy / "stages.yml").write_text("stages: [unclosed", encoding="utf-8")
    with pytest.raises(KBError, match="stages.yml.*not valid YAML"):
        load_kb(kb_copy)


def test_bad_taboo_regex_is_rejected(kb_copy):
    _edit(kb_copy / "taboo.yml", lambda d: d["taboo"][0]["patterns"].append("(unclosed"))
    with pytest.raises(KBError) as error:
        load_kb(kb_copy)
    assert error.value.key.startswith("taboo[0].patterns")


def test_missing_cause_file_is_rejected(kb_copy):
    (kb_copy / "causes" / "metro_delay.yml").unlink()
    with pytest.raises(KBError, match="metro_delay"):
        load_kb(kb_copy)


def test_action_server_refuses_to_start_with_a_broken_kb(kb_copy):
    _edit(kb_copy / "causes" / "claim_denied.yml", lambda d: d["domains"]["insurance"].pop("choices"))
    result = subprocess.run(
        [sys.executable, "-c", "import actions.assist"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"KB_DIR": str(kb_copy), "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
    )
    assert result.returncode != 0
    assert "causes/claim_denied.yml" in result.stderr and "choices" in result.stderr


def test_kb_check_command_reports_size():
    result = subprocess.run(
        [sys.executable, "-m", "deescalate.kb.check", "scripts_kb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "22 causes" in result.stdout


def test_kb_check_runs_the_compliance_lint_and_passes():
    result = subprocess.run(
        [sys.executable, "-m", "deescalate.kb.check", "scripts_kb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "compliance lint clean" in result.stdout


PLANTED = {
    # kind of violation: (file, where the line goes, the line)
    "liability": (
        "causes/metro_delay.yml",
        ("domains", "metro", "explanations", "precise"),
        "这次是运营原因造成的延误，给您添麻烦了。",
    ),
    "guarantee": (
        "causes/metro_fare_ticketing.yml",
        ("domains", "metro", "commitments"),
        "站务人员5分钟内到，多扣的钱我保证一分都不会少。",
    ),
    "slot_words": (
        "causes/fees_and_charges.yml",
        ("domains", "bank", "restate"),
        "您被扣了一笔这笔钱的费用，心里不痛快，对吧？",
    ),
    "title": (
        "causes/claim_denied.yml",
        ("domains", "insurance", "commitments"),
        "通融给付需要{approver}审批，结果出来我告诉您。",
    ),
    "taboo": ("stages.yml", ("stages", "listen", "lines"), "公司规定就是这样，我也没办法。"),
}


def _plant(kb_copy, kind):
    file, path, line = PLANTED[kind]

    def change(data):
        node = data
        for key in path:
            node = node[key]
        node.append(line)

    _edit(kb_copy / file, change)


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_the_lint_catches_a_planted_violation_of_each_kind(kb_copy, kind):
    from deescalate.kb.lint import lint_kb

    assert lint_kb(load_kb(kb_copy)) == []  # the copy is clean before planting
    _plant(kb_copy, kind)
    findings = lint_kb(load_kb(kb_copy))
    assert findings, kind
    assert {f.kind for f in findings} >= {kind}
    assert all(f.source.endswith(PLANTED[kind][0]) for f in findings)


def test_the_lint_also_catches_a_title_in_approval_talk_and_a_duplicated_slot(kb_copy):
    from deescalate.kb.lint import lint_kb

    _edit(
        kb_copy / "causes" / "surrender_loss.yml",
        lambda d: d["domains"]["insurance"]["commitments"].extend(
            ["退保差额要总经理批，您再等等。", "您这份这款产品的退保金额我再核一下。"]
        ),
    )
    kinds = {f.rule for f in lint_kb(load_kb(kb_copy))}
    assert {"title_in_approval", "broken_slot_words"} <= kinds


def test_kb_check_fails_on_a_planted_violation_and_names_file_and_key(kb_copy):
    _plant(kb_copy, "guarantee")
    result = subprocess.run(
        [sys.executable, "-m", "deescalate.kb.check", str(kb_copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "causes/metro_fare_ticketing.yml" in result.stderr and "domains.metro.commitments" in result.stderr


def test_a_condition_on_an_unknown_fact_or_with_a_call_is_rejected(kb_copy):
    _edit(
        kb_copy / "causes" / "mis_selling.yml",
        lambda d: d["domains"]["insurance"]["choices"][0].update(when="days_since_purchase <= 15"),
    )
    with pytest.raises(KBError, match="unknown fact 'days_since_purchase'"):
        load_kb(kb_copy)
    _edit(
        kb_copy / "causes" / "mis_selling.yml",
        lambda d: d["domains"]["insurance"]["choices"][0].update(when="__import__('os').system('x')"),
    )
    with pytest.raises(KBError, match="not allowed in a condition"):
        load_kb(kb_copy)


def test_a_named_approver_from_another_domains_matrix_is_rejected(kb_copy):
    _edit(
        kb_copy / "causes" / "service_attitude.yml",
        lambda d: d["domains"]["bank"]["choices"][0].update(approver="channel_head"),
    )
    with pytest.raises(KBError, match="not in the bank approval matrix"):
        load_kb(kb_copy)
