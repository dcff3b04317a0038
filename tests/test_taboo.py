"""The taboo checker on a labelled set of agent drafts, and the KB's own lines."""
import pytest
import yaml

from deescalate.assist.taboo import TabooChecker
from deescalate.tools.build import ROOT

DRAFTS = yaml.safe_load((ROOT / "tests" / "data" / "taboo_drafts.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def checker(kb):
    return TabooChecker(kb.taboo)


def test_draft_set_is_large_and_balanced():
    flagged = [d for d in DRAFTS if d["taboo"]]
    assert len(DRAFTS) >= 60
    assert 0.4 <= len(flagged) / len(DRAFTS) <= 0.6


def test_precision_and_recall_on_the_draft_set(checker):
    tp = fp = fn = 0
    for draft in DRAFTS:
        found = bool(checker.check(draft["text"]))
        tp += found and draft["taboo"]
        fp += found and not draft["taboo"]
        fn += (not found) and draft["taboo"]
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"taboo precision {precision:.3f} recall {recall:.3f} on {len(DRAFTS)} drafts")
    assert precision >= 0.9 and recall >= 0.9


def test_commitment_that_mentions_rules_is_fine(checker):
    assert checker.check("按照规定，我们三个工作日内给您答复") == []


def test_finding_names_phrase_reason_rewrite_and_span(checker):
    text = "您好。公司规定就是这样，我也没办法。"
    found = checker.check(text)
    assert found
    hit = found[0]
    assert hit["why"] and hit["rewrite"] and hit["phrase"]
    assert text[hit["start"]:hit["end"]] == hit["matched"]


def _kb_lines(kb):
    for cause in kb.causes.values():
        for entry in cause["domains"].values():
            yield from entry["restate"]
            yield from entry["explanations"]["plain"] + entry["explanations"]["precise"]
            yield from entry["questions"] + entry["commitments"]
            yield from (c["offer"] for c in entry["choices"])
    for emotion in kb.empathy["emotions"].values():
        yield from emotion["lines"]
    for situation in kb.empathy["situations"].values():
        yield from situation["lines"]
    for stage in kb.stages.values():
        yield from stage["lines"]
    for handling in kb.escalation["escalation"].values():
        yield from handling["lines"]
    for lines in kb.voice.values():
        yield from lines


def test_no_suggestion_in_the_knowledge_base_is_itself_taboo(kb, checker):
    offending = [(line, [f["id"] for f in checker.check(line)]) for line in _kb_lines(kb) if checker.check(line)]
    assert offending == []
