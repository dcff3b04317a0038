"""The taboo check by family: meaning, spans, repairs, fair look-alikes, the endpoint, the lint, the split."""

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from deescalate.assist.taboo import TabooChecker
from deescalate.assist.taboo_model import DraftsError, load_drafts
from deescalate.kb import check as kb_check
from deescalate.kb.loader import load_kb
from deescalate.tools.build import ROOT
from deescalate.tools.taboo_eval import SEEDS, TARGETS, load_split, score, seed_phrases

FAMILIES = [
    "hiding_behind_rules",
    "passing_the_buck",
    "blaming_customer",
    "impatience",
    "belittling",
    "provoking",
    "flat_no",
    "dont_know",
    "admitting_liability",
    "guaranteeing",
    "beyond_authority",
]
OLD_DRAFTS = yaml.safe_load((ROOT / "tests" / "data" / "taboo_drafts.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def checker(kb):
    return TabooChecker(kb.taboo)


def families(checker, text):
    return {hit["family"] for hit in checker.check(text)}


def test_the_knowledge_base_holds_the_eleven_families_with_meaning_reason_and_advice(kb):
    assert [entry["id"] for entry in kb.taboo] == FAMILIES
    for entry in kb.taboo:
        assert entry["label"] and entry["means"] and entry["why"] and entry["advice"] and entry["repair"]


@pytest.mark.parametrize(
    "text, family",
    [
        ("系统就是这么设置的，我这边也改不了。", "hiding_behind_rules"),
        ("产品是保险公司的，银行只是代卖，您打他们客服电话问吧。", "passing_the_buck"),
        ("验证码是您自己告诉对方的，这个损失只能您自己承担。", "blaming_customer"),
        ("您先听我把话说完行不行？", "impatience"),
        ("就几十块钱，至于这么较真吗？", "belittling"),
        ("别的客户都没反映过。", "belittling"),
        ("您觉得不合理可以去法院起诉，我们等着。", "provoking"),
        ("全额退款是不可能的，您就别想了。", "flat_no"),
        ("这个我也没办法回答您。", "dont_know"),
        ("确实是我们员工误导了您。", "admitting_liability"),
        ("这个理财是保本的。", "guaranteeing"),
        ("我保证明天一定办好。", "guaranteeing"),
        ("年费我做主给您免了。", "beyond_authority"),
    ],
)
def test_reworded_taboo_drafts_are_flagged_with_their_family(checker, text, family):
    assert family in families(checker, text)


@pytest.mark.parametrize(
    "text",
    [
        "按照规定犹豫期已经过了，不过还有两种办法可以减少您的损失。",
        "这部分是保险公司负责审核的，我现在就帮您联系他们。",
        "按照规定，我们三个工作日内给您答复。",
        "这个我不太清楚，我马上帮您查，十分钟内回复您。",
        "如果核实是系统多扣的，我们会全额退还。",
        "退款能否批下来要看审核结果，我会尽力帮您争取。",
        "减免年费需要主管审批，我现在就帮您提交申请。",
        "您有权向监管部门反映，我们也会同步处理。",
    ],
)
def test_fair_drafts_that_reuse_the_same_words_pass(checker, text):
    assert checker.check(text) == []


def test_sending_the_customer_to_ask_someone_else_is_no_next_step(checker):
    assert {"dont_know", "passing_the_buck"} <= families(checker, "我不知道，您去问问别人")


def test_a_flag_marks_its_span_and_repairs_only_that_part(checker):
    text = "全额退款是不可能的，您就别想了。"
    hit = next(h for h in checker.check(text) if h["family"] == "flat_no")
    assert text[hit["start"] : hit["end"]] == hit["matched"] == hit["phrase"] == "您就别想了"
    assert hit["rewritten"] == text[: hit["start"]] + hit["rewrite"] + text[hit["end"] :]
    assert hit["rewritten"].startswith("全额退款是不可能的，")  # the agent's meaning is kept
    assert "flat_no" not in families(checker, hit["rewritten"])
    assert hit["why"] and hit["advice"] and hit["label"]


def test_the_repair_names_the_other_party_of_the_clause(checker):
    hit = checker.check("这是保险公司的事，我们管不了。")[0]
    assert hit["family"] == "passing_the_buck" and "保险公司" in hit["rewrite"]


@pytest.mark.parametrize(
    "text",
    [
        "系统就是这么设置的，我这边也改不了。",
        "您先听我把话说完行不行？",
        "验证码是您自己告诉对方的，这个损失只能您自己承担。",
        "我保证明天一定办好。",
        "您好。公司规定就是这样，我也没办法。",
    ],
)
def test_every_rewrite_passes_the_check_itself(checker, text):
    for hit in checker.check(text):
        assert hit["family"] not in families(checker, hit["rewritten"]), hit["rewritten"]


def test_traditional_characters_are_read_and_the_span_is_in_the_typed_text(checker):
    text = "您好。條款就是這麼寫的，我們也沒辦法。"
    hit = checker.check(text)[0]
    assert hit["family"] == "hiding_behind_rules"
    assert text[hit["start"] : hit["end"]] == hit["matched"] and "條款" in hit["matched"]


def test_empty_and_very_long_drafts(checker):
    assert checker.check("") == [] and checker.check("   ") == []
    long_draft = "您好，我马上帮您查一下。" * 400 + "您爱去哪投诉就去哪投诉。"
    assert isinstance(checker.check(long_draft), list)  # cut to its first part, no error


def test_a_way_forward_far_away_in_a_long_draft_does_not_excuse_a_taboo_sentence(checker):
    long_draft = (
        "您爱去哪投诉就去哪投诉。"
        + "这笔交易发生在上周三晚上，金额是两千元，商户在外地。" * 3
        + "别的问题我马上帮您查。"
    )
    assert "provoking" in families(checker, long_draft)


def test_the_old_labelled_drafts_still_hold(checker):
    tp = fp = fn = 0
    for draft in OLD_DRAFTS:
        found = bool(checker.check(draft["text"]))
        tp += found and draft["taboo"]
        fp += found and not draft["taboo"]
        fn += (not found) and draft["taboo"]
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95


# ---------------------------------------------------------------- training drafts and the split written apart


def test_training_drafts_are_many_varied_and_apart_from_the_test_split():
    drafts = load_drafts()
    taboo = [d for d in drafts if d.families]
    assert len(taboo) >= 300 and len(drafts) - len(taboo) >= 300
    assert {f for d in taboo for f in d.families} == set(FAMILIES)
    assert len({d.writer for d in drafts}) >= 4 and {d.style for d in drafts} == {"spoken", "typed"}
    split = load_split()
    assert not {d.text for d in drafts} & {d.text for d in split}
    assert not {d.writer for d in drafts} & {d.writer for d in split}


def test_the_fast_scoring_path_equals_the_vectorizers_own(checker):
    import numpy as np

    model = checker.model
    texts = [d.text for d in load_split()[:40]] + ["  A  b\tC  ", ""]
    reference = 1 / (1 + np.exp(-(model.vectorizer.transform(texts) @ model.weights + model.bias)))
    assert np.allclose(model.scores(texts), reference, atol=1e-9)


def test_a_drafts_block_without_writer_is_refused(tmp_path):
    (tmp_path / "bad.yml").write_text(
        "blocks:\n- family: flat_no\n  style: typed\n  drafts: [不行。]\n", encoding="utf-8"
    )
    with pytest.raises(DraftsError):
        load_drafts(tmp_path)


def test_the_split_written_apart_meets_the_targets(checker):
    split = load_split()
    assert sum(1 for d in split if d.families) >= 100 and sum(1 for d in split if not d.families) >= 100
    result = score(checker, split, FAMILIES)
    assert result["overall"]["recall"] >= TARGETS["recall"]
    assert result["overall"]["precision"] >= TARGETS["precision"]
    assert min(f["recall"] for f in result["families"].values()) >= TARGETS["family_recall"]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not on this machine")
def test_every_taboo_phrase_of_the_seeds_is_flagged(checker):
    phrases = seed_phrases()
    assert len(phrases) >= 7
    assert [p for p in phrases if not checker.check(p)] == []


# ---------------------------------------------------------------- the agent endpoint and the KB lint


class _Request(SimpleNamespace):
    pass


def test_the_agent_endpoint_keeps_its_shape_with_the_family_added(kb):
    from deescalate.channels.assist import AssistInput

    channel = AssistInput("secret", kb)
    request = _Request(
        headers={"Authorization": "Bearer secret"}, json={"sender": "case-1", "text": "就几十块钱，至于这么较真吗？"}
    )
    answer = json.loads(asyncio.run(channel._check_agent_draft(request)).body)
    assert set(answer) == {"case_id", "taboo", "recorded"} and answer["recorded"] is False
    hit = answer["taboo"][0]
    assert hit["family"] == "belittling" and hit["id"] == "belittling"
    assert hit["phrase"] and hit["why"] and hit["rewrite"]


def test_every_customer_facing_line_of_the_knowledge_base_passes(kb):
    assert kb_check.taboo_violations(kb) == []


def test_the_lint_fails_on_a_planted_taboo_line(kb_copy: Path, capsys):
    path = kb_copy / "causes" / "fees_and_charges.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    domain = next(iter(data["domains"]))
    data["domains"][domain]["commitments"].append("这个费用是系统自动扣的，我们也改不了，您找别人问吧。")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert kb_check.main([str(kb_copy)]) == 1
    message = capsys.readouterr().err
    assert "fees_and_charges.yml" in message and "commitments" in message
    assert load_kb(kb_copy)  # the KB itself still loads: only the lint refuses it
