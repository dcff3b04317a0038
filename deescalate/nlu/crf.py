"""Rasa's CRF entity extractor, loaded from its trained models instead of trained again.

Rasa 3.6's `CRFEntityExtractor` stores its training data in the model and
trains every CRF again each time the model is loaded. On our data that is
most of a minute of start-up per Rasa instance, a peak of about 240 MiB, and
about 90 MiB that the process keeps afterwards. This subclass stores each
trained CRF's crfsuite model (a small binary file) and the tag order, and
loading opens those in memory. Training, features and prediction are Rasa's
own, so the entities found are the same.

jieba keeps lexicon phrases whole (打12378, 去人民银行, 全部退回来), so an
annotation of the core words (12378, 人民银行, 退回来) can fall inside a
token. Rasa tags such a token "no entity" and warns: the CRF would learn that
these threats and demands are nothing. Before training, an annotation of a
kind listed in `align_to_tokens` (kinds with a canonical value) is widened to
the tokens it falls in, when the training data's synonyms give the wider text
the same value.
"""

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Text

import pycrfsuite
import rasa.shared.utils.io
import sklearn_crfsuite
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

ORDER_FILE = "crf_order.json"


def model_file(tag_name: str) -> str:
    return f"crf_{tag_name}.crfsuite"


def loaded_crf(model: bytes) -> sklearn_crfsuite.CRF:
    """A CRF whose tagger is the given crfsuite model, held in memory (no file stays open)."""
    tagger = pycrfsuite.Tagger()
    tagger.open_inmemory(model)
    crf = sklearn_crfsuite.CRF()
    crf.model_data = model  # crfsuite reads the model where it lies, uncopied: the bytes live as long as the CRF
    crf._tagger = tagger  # what the `tagger_` property would have opened from the training file
    return crf


def aligned_to_tokens(
    entity: Dict[str, Any], text: str, tokens: Iterable[Any], synonyms: Dict[str, str]
) -> Dict[str, Any]:
    """The entity widened to the whole tokens its characters fall in, when the wider text means the same.

    Only when the training data's synonyms give the wider text the entity's
    own canonical value (打12378 → regulator, like 12378): otherwise the CRF
    would learn spans whose value no synonym maps (报警告, 赔不赔), and the
    annotation is left as it is.
    """
    start, end = entity["start"], entity["end"]
    inside = [t for t in tokens if t.start < end and t.end > start]
    if not inside:
        return entity
    wider_start, wider_end = min(start, inside[0].start), max(end, inside[-1].end)
    wider = text[wider_start:wider_end]
    same_value = synonyms.get(wider.lower(), synonyms.get(wider)) == entity.get("value")
    if (wider_start, wider_end) == (start, end) or not same_value:
        return entity
    return {**entity, "start": wider_start, "end": wider_end}


def align_annotations(message: Message, kinds: Iterable[str], synonyms: Dict[str, str]) -> None:
    """Widen the message's annotated entities of the given kinds to token boundaries (see aligned_to_tokens)."""
    kinds = set(kinds)
    entities = message.get(ENTITIES) or []
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    text = message.get(TEXT) or ""
    if kinds and entities and tokens:
        message.set(
            ENTITIES,
            [aligned_to_tokens(e, text, tokens, synonyms) if e.get("entity") in kinds else e for e in entities],
        )


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class StoredCRFEntityExtractor(CRFEntityExtractor):
    """CRFEntityExtractor that persists its trained CRFs and loads them as they are."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**CRFEntityExtractor.get_default_config(), "align_to_tokens": []}

    def train(self, training_data: TrainingData) -> Resource:
        for message in training_data.entity_examples:
            align_annotations(
                message, self.component_config.get("align_to_tokens") or [], training_data.entity_synonyms
            )
        return super().train(training_data)

    def persist(self, dataset: List[List[CRFToken]]) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            rasa.shared.utils.io.dump_obj_as_json_to_file(model_dir / ORDER_FILE, self.crf_order)
            for tag_name, crf in self.entity_taggers.items():
                (model_dir / model_file(tag_name)).write_bytes(Path(crf.modelfile.name).read_bytes())

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "StoredCRFEntityExtractor":
        try:
            with model_storage.read_from(resource) as model_dir:
                crf_order = rasa.shared.utils.io.read_json_file(model_dir / ORDER_FILE)
                taggers = OrderedDict(
                    (tag_name, loaded_crf((model_dir / model_file(tag_name)).read_bytes())) for tag_name in crf_order
                )
        except ValueError:
            logger.warning("No trained %s in the model storage (resource %s).", cls.__name__, resource.name)
            return cls(config, model_storage, resource)
        extractor = cls(config, model_storage, resource, taggers)
        extractor.crf_order = crf_order
        return extractor
