"""The CRF entity extractor loads its trained CRFs instead of training them again, and finds the same entities."""

import copy
from pathlib import Path
from typing import List

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from deescalate.nlu import crf as crf_module
from deescalate.nlu.crf import StoredCRFEntityExtractor

# Rasa's whitespace tokenizer keeps a Chinese sentence whole, so the component is exercised on romanised words.
SENTENCES = [
    ("wo yao quane tuikuan", "quane tuikuan", "full_refund"),
    ("qing gei wo quane tuikuan", "quane tuikuan", "full_refund"),
    ("wo yaoqiu peichang sunshi", "peichang", "compensation"),
    ("nimen bixu peichang wo", "peichang", "compensation"),
    ("jiao nimen jingli chulai", "jingli", "escalate_to_manager"),
    ("wo zhao nimen jingli", "jingli", "escalate_to_manager"),
]


def annotated(text: str, words: str, value: str) -> Message:
    start = text.index(words)
    entity = {"start": start, "end": start + len(words), "value": value, "entity": "demand"}
    return Message(data={"text": text, "intent": "demand_compensation", "entities": [entity]})


def tokenized(messages: List[Message]) -> None:
    """Whitespace tokens, and one sequence feature per token (the CRF trains only on featurised examples)."""
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    for message in messages:
        tokenizer.process([message])
        count = len(message.get(TOKENS_NAMES[TEXT]))
        message.add_features(Features(scipy.sparse.coo_matrix(np.ones((count, 1))), "sequence", TEXT, "test"))


CONTEXT = ExecutionContext(GraphSchema({}), "test")


def trained(tmp_path: Path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("crf")
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**StoredCRFEntityExtractor.get_default_config(), "L1_c": 0.0, "L2_c": 0.001}
    data = TrainingData([annotated(*s) for s in SENTENCES * 3])
    tokenized(data.training_examples)
    extractor = StoredCRFEntityExtractor.create(config, storage, resource, context)
    extractor.train(data)
    return extractor, config, storage, resource, context


def entities_of(extractor: CRFEntityExtractor, text: str):
    message = Message(data={"text": text})
    tokenized([message])
    extractor.process([message])
    return [(e["entity"], e["value"], e["start"], e["end"]) for e in message.get("entities", [])]


def test_a_loaded_extractor_finds_what_the_trained_one_found_without_training(tmp_path, monkeypatch):
    extractor, config, storage, resource, context = trained(tmp_path)
    texts = ["wo yao quane tuikuan", "jiao nimen jingli lai", "nimen peichang wo de sunshi", "jintian tianqi bucuo"]
    expected = [entities_of(extractor, t) for t in texts]
    assert expected[0] and expected[1]  # the CRF learned something to compare

    def no_training(*args, **kwargs):
        raise AssertionError("the stored extractor must not train when it loads")

    monkeypatch.setattr(StoredCRFEntityExtractor, "train_model", no_training)
    loaded = StoredCRFEntityExtractor.load(copy.deepcopy(config), storage, resource, context)
    assert [entities_of(loaded, t) for t in texts] == expected


def test_the_model_keeps_the_crfsuite_files_not_the_training_data(tmp_path):
    _, _, storage, resource, _ = trained(tmp_path)
    with storage.read_from(resource) as model_dir:
        names = sorted(p.name for p in model_dir.iterdir())
    assert crf_module.ORDER_FILE in names and "crf_dataset.json" not in names
    assert any(name.endswith(".crfsuite") for name in names)


def test_a_model_without_the_component_loads_an_empty_extractor(tmp_path):
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    config = StoredCRFEntityExtractor.get_default_config()
    loaded = StoredCRFEntityExtractor.load(config, storage, Resource("missing"), context)
    assert entities_of(loaded, "wo yao quane tuikuan") == []


# ---------------------------------------------------------------- annotations inside a token

from rasa.nlu.tokenizers.tokenizer import Token  # noqa: E402

from deescalate.nlu.crf import align_annotations, aligned_to_tokens  # noqa: E402

THREAT = "我就打12378投诉"
THREAT_TOKENS = [Token("我", 0), Token("就", 1), Token("打12378", 2), Token("投诉", 8)]


def regulator(start: int, end: int) -> dict:
    return {"entity": "escalation", "value": "regulator", "start": start, "end": end}


def test_an_annotation_inside_a_token_is_widened_to_it_when_the_wider_words_mean_the_same():
    synonyms = {"12378": "regulator", "打12378": "regulator"}
    assert aligned_to_tokens(regulator(3, 8), THREAT, THREAT_TOKENS, synonyms) == regulator(2, 8)


def test_an_annotation_is_left_as_it_is_when_no_synonym_gives_the_wider_words_its_value():
    assert aligned_to_tokens(regulator(3, 8), THREAT, THREAT_TOKENS, {"12378": "regulator"}) == regulator(3, 8)
    other = {"打12378": "consumer_association"}
    assert aligned_to_tokens(regulator(3, 8), THREAT, THREAT_TOKENS, other) == regulator(3, 8)


def test_an_aligned_annotation_and_other_kinds_are_left_alone():
    amount = {"entity": "amount", "value": "12378", "start": 3, "end": 8}
    message = Message(data={"text": THREAT, "entities": [regulator(2, 8), amount]})
    message.set(TOKENS_NAMES[TEXT], THREAT_TOKENS)
    align_annotations(message, ["escalation"], {"打12378": "regulator", "12378": "amount"})
    assert message.get("entities") == [regulator(2, 8), amount]


def test_training_widens_the_kinds_the_config_names(tmp_path):
    texts = ["wo da12378 tousu nimen", "wo jiu da12378", "mingtian da12378 tousu"]
    messages = []
    for text in texts:
        start = text.index("12378")
        entity = {"entity": "escalation", "value": "regulator", "start": start, "end": start + 5}
        messages.append(Message(data={"text": text, "intent": "fees_and_charges", "entities": [entity]}))
    data = TrainingData(messages * 2, entity_synonyms={"12378": "regulator", "da12378": "regulator"})
    tokenized(data.training_examples)
    config = {**StoredCRFEntityExtractor.get_default_config(), "align_to_tokens": ["escalation"]}
    extractor = StoredCRFEntityExtractor.create(config, LocalModelStorage(tmp_path), Resource("crf"), CONTEXT)
    extractor.train(data)
    assert [m.get(TEXT)[e["start"] : e["end"]] for m in messages for e in m.get("entities")] == ["da12378"] * 3
    # the CRF gives the span's words; EntitySynonymMapper then maps da12378 to regulator
    assert ("escalation", "da12378") in {(e, v) for e, v, _, _ in entities_of(extractor, "wo yao da12378")}
