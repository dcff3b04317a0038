"""Emotion classifier: calm, confused, anxious, angry or furious per utterance.

Learns from the `emotion` each training example carries in its metadata and
adds `"emotion": {"name", "confidence"}` to the parse output. Features are
character n-grams of the normalised text (punctuation such as ！！ and ？？
included), classified by a class-balanced logistic regression. The model is
persisted as plain JSON and arrays, not as a pickle.
"""
import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import METADATA, METADATA_EXAMPLE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from deescalate.contract import EMOTIONS

logger = logging.getLogger(__name__)

EMOTION = "emotion"
_MODEL_FILE = "emotion_model.json"
_ARRAYS_FILE = "emotion_arrays.npz"


def example_emotion(message: Message) -> Optional[str]:
    """The emotion label a training example carries in its metadata, if any."""
    metadata = message.get(METADATA) or {}
    example = metadata.get(METADATA_EXAMPLE) or {}
    emotion = example.get(EMOTION) if isinstance(example, dict) else None
    return emotion if emotion in EMOTIONS else None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class EmotionClassifier(GraphComponent):
    """Trainable Rasa component that labels each message with an emotion."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"min_ngram": 1, "max_ngram": 3, "C": 4.0, "default_emotion": "calm"}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectorizer: Optional[TfidfVectorizer] = None,
        classifier: Optional[LogisticRegression] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizer = vectorizer
        self._classifier = classifier

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EmotionClassifier":
        return cls(config, model_storage, resource)

    def _new_vectorizer(self) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char",
            ngram_range=(self._config["min_ngram"], self._config["max_ngram"]),
            sublinear_tf=True,
            lowercase=True,
        )

    def train(self, training_data: TrainingData) -> Resource:
        labelled = [
            (message.get(TEXT), example_emotion(message))
            for message in training_data.intent_examples
        ]
        labelled = [(text, label) for text, label in labelled if text and label]
        if len({label for _, label in labelled}) < 2:
            logger.warning("EmotionClassifier: fewer than two emotions in the data; not trained.")
            return self._resource
        texts, labels = zip(*labelled)
        self._vectorizer = self._new_vectorizer()
        features = self._vectorizer.fit_transform(texts)
        self._classifier = LogisticRegression(
            C=self._config["C"], class_weight="balanced", max_iter=3000
        )
        self._classifier.fit(features, labels)
        self.persist()
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(EMOTION, self.predict(message.get(TEXT) or ""), add_to_output=True)
        return messages

    def predict(self, text: str) -> Dict[str, Any]:
        if not text.strip() or self._classifier is None:
            return {"name": self._config["default_emotion"], "confidence": 0.0}
        probabilities = self._classifier.predict_proba(self._vectorizer.transform([text]))[0]
        best = int(np.argmax(probabilities))
        return {
            "name": str(self._classifier.classes_[best]),
            "confidence": round(float(probabilities[best]), 4),
        }

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            meta = {
                "vocabulary": {term: int(i) for term, i in self._vectorizer.vocabulary_.items()},
                "classes": [str(c) for c in self._classifier.classes_],
            }
            (directory / _MODEL_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            np.savez(
                directory / _ARRAYS_FILE,
                idf=self._vectorizer.idf_,
                coef=self._classifier.coef_,
                intercept=self._classifier.intercept_,
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "EmotionClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / _MODEL_FILE).read_text(encoding="utf-8"))
                arrays = np.load(directory / _ARRAYS_FILE)
                idf, coef, intercept = arrays["idf"], arrays["coef"], arrays["intercept"]
        except (ValueError, FileNotFoundError):
            logger.warning("EmotionClassifier: no trained model found; every message is 'calm'.")
            return cls(config, model_storage, resource)
        component = cls(config, model_storage, resource)
        vectorizer = component._new_vectorizer()
        vectorizer.vocabulary_ = meta["vocabulary"]
        vectorizer.idf_ = idf
        classifier = LogisticRegression()
        classifier.classes_ = np.array(meta["classes"])
        classifier.coef_ = coef
        classifier.intercept_ = intercept
        component._vectorizer = vectorizer
        component._classifier = classifier
        return component
