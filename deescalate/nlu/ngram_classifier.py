"""A linear classifier over character and word n-grams, as Rasa components.

At a few dozen examples per label, a class-balanced logistic regression over
TF-IDF character n-grams (1-3, punctuation such as ！！ and ？？ included) and
word n-grams (1-2, from the jieba tokens) generalises better on our held-out
split than a neural classifier; `make eval` is where that is measured. The
base class does the learning and persistence; subclasses say where the label
comes from and where the prediction goes. Models are saved as JSON and
arrays, not pickles.
"""
import json
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

_META_FILE = "ngram_model.json"
_ARRAYS_FILE = "ngram_arrays.npz"


def word_ngrams(tokens: List[str]) -> List[str]:
    """Word unigrams and bigrams of a token list (the analyzer of the word vectorizer)."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def message_tokens(message: Message) -> List[str]:
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    return [token.text.lower() for token in tokens if token.text.strip()]


class NgramClassifier(GraphComponent):
    """Learns label(message) from n-grams; subclasses define label_of and write."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_char_ngram": 3, "C": 20.0}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._char: Optional[TfidfVectorizer] = None
        self._word: Optional[TfidfVectorizer] = None
        self._classifier: Optional[LogisticRegression] = None

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "NgramClassifier":
        return cls(config, model_storage, resource)

    # What subclasses provide -------------------------------------------------
    def label_of(self, message: Message) -> Optional[str]:
        raise NotImplementedError

    def write(self, message: Message, ranking: List[Tuple[str, float]]) -> None:
        raise NotImplementedError

    # Learning and predicting --------------------------------------------------
    def _vectorizers(self) -> Tuple[TfidfVectorizer, TfidfVectorizer]:
        char = TfidfVectorizer(analyzer="char", ngram_range=(1, self._config["max_char_ngram"]),
                               sublinear_tf=True, lowercase=True)
        word = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True)
        return char, word

    def _features(self, messages: List[Message], fit: bool = False):  # noqa: ANN201
        texts = [(m.get(TEXT) or "").lower() for m in messages]
        tokens = [message_tokens(m) for m in messages]
        if fit:
            return hstack([self._char.fit_transform(texts), self._word.fit_transform(tokens)]).tocsr()
        return hstack([self._char.transform(texts), self._word.transform(tokens)]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and self.label_of(m)]
        labels = [self.label_of(m) for m in examples]
        if len(set(labels)) < 2:
            logger.warning("%s: fewer than two labels in the data; not trained.", type(self).__name__)
            return self._resource
        self._char, self._word = self._vectorizers()
        self._classifier = LogisticRegression(C=self._config["C"], class_weight="balanced", max_iter=5000)
        self._classifier.fit(self._features(examples, fit=True), labels)
        self.persist()
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self._classifier is None or not messages:
            return messages
        probabilities = self._classifier.predict_proba(self._features(messages))
        classes = [str(c) for c in self._classifier.classes_]
        for message, row in zip(messages, probabilities):
            order = np.argsort(row)[::-1]
            self.write(message, [(classes[i], round(float(row[i]), 4)) for i in order])
        return messages

    # Persistence -----------------------------------------------------------------
    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            meta = {"char_vocabulary": {k: int(v) for k, v in self._char.vocabulary_.items()},
                    "word_vocabulary": {k: int(v) for k, v in self._word.vocabulary_.items()},
                    "classes": [str(c) for c in self._classifier.classes_]}
            (directory / _META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            np.savez(directory / _ARRAYS_FILE, char_idf=self._char.idf_, word_idf=self._word.idf_,
                     coef=self._classifier.coef_, intercept=self._classifier.intercept_)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "NgramClassifier":
        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
                arrays = dict(np.load(directory / _ARRAYS_FILE))
        except (ValueError, FileNotFoundError):
            logger.warning("%s: no trained model found; it will not predict.", cls.__name__)
            return component
        component._char, component._word = component._vectorizers()
        component._char.vocabulary_, component._char.idf_ = meta["char_vocabulary"], arrays["char_idf"]
        component._word.vocabulary_, component._word.idf_ = meta["word_vocabulary"], arrays["word_idf"]
        classifier = LogisticRegression()
        classifier.classes_ = np.array(meta["classes"])
        classifier.coef_, classifier.intercept_ = arrays["coef"], arrays["intercept"]
        component._classifier = classifier
        return component
