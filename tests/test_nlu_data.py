"""The training data keeps the layout the model, the cross-validation and the reviewers rely on."""

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml

from deescalate.contract import EMOTIONS, ENTITIES, INTENTS
from deescalate.tools.build import ROOT

DATA = ROOT / "data" / "nlu"
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\]\{(?P<json>[^}]*)\}")


def intent_blocks() -> Iterator[Tuple[Path, Dict[str, Any]]]:
    for path in sorted(DATA.rglob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if "intent" in block:
                yield path, block


BLOCKS: List[Tuple[Path, Dict[str, Any]]] = list(intent_blocks())


def test_the_data_has_intent_blocks():
    assert len(BLOCKS) > 100


@pytest.mark.parametrize("path,block", BLOCKS, ids=lambda v: v.name if isinstance(v, Path) else v.get("intent"))
def test_every_block_is_a_contract_intent_with_its_writer_and_emotions(path, block):
    assert block["intent"] in INTENTS, f"{path.name}: {block['intent']} is not in the contract"
    assert (block.get("metadata") or {}).get("writer"), f"{path.name}: {block['intent']} names no writer"
    for example in block["examples"]:
        emotion = (example.get("metadata") or {}).get("emotion")
        assert emotion in EMOTIONS, f"{path.name}: {example['text'][:30]!r} has emotion {emotion!r}"


@pytest.mark.parametrize("path,block", BLOCKS, ids=lambda v: v.name if isinstance(v, Path) else v.get("intent"))
def test_annotations_name_contract_entities_and_amounts_are_money(path, block):
    for example in block["examples"]:
        text = example["text"]
        for match in ANNOTATION.finditer(text):
            entity = yaml.safe_load(match.group(0)[match.group(0).index("{") :])["entity"]
            assert entity in ENTITIES, f"{path.name}: unknown entity {entity!r}"
            after = text[match.end() : match.end() + 1]
            if entity == "amount":
                assert after != "%", f"{path.name}: a percentage annotated as money in {text[:40]!r}"
