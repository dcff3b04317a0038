"""Rasa's CRF entity extractor, loaded from its trained models instead of trained again.

Rasa 3.6's `CRFEntityExtractor` stores its training data in the model and
trains every CRF again each time the model is loaded. On our data that is
most of a minute of start-up per Rasa instance, a peak of about 240 MiB, and
about 90 MiB that the process keeps afterwards. This subclass stores each
trained CRF's crfsuite model (a small binary file) and the tag order, and
loading opens those in memory. Training, features and prediction are Rasa's
own, so the entities found are the same.
"""

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Text

import pycrfsuite
import rasa.shared.utils.io
import sklearn_crfsuite
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor, CRFToken

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


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class StoredCRFEntityExtractor(CRFEntityExtractor):
    """CRFEntityExtractor that persists its trained CRFs and loads them as they are."""

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
