"""A linear classifier over character and word n-grams, as Rasa components.

At a hundred-odd examples per label, a class-balanced linear SVM over TF-IDF
character n-grams (1-2, punctuation such as ！！ and ？？ included) and word
n-grams (1-2, from the jieba tokens, weighted 0.7) generalises better than a
neural classifier or a logistic regression. The settings were chosen by
cross-validation on the training data alone (`make nlu-cv`), holding out
one data file at a time, so that a model is judged on wordings from a writer
it has not seen; `make eval` then confirms them on the held-out split. The SVM's scores become probabilities by Platt scaling
(one sigmoid per label, fitted on cross-validated scores, then normalised),
which the FallbackClassifier's threshold reads as confidence.

`NgramModel` does the learning and persistence; the Rasa components' subclasses
say where the label comes from and where the prediction goes. Models are saved as JSON and
arrays, not pickles. A model predicts through `NgramScorer` (ngram_scorer.py): the
same scores as the vectorizers and the SVM, from compact arrays and vocabularies
shared by the classifiers of a process, without scikit-learn's per-call overhead.
"""

import json
import logging
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from deescalate.nlu.ngram_scorer import NgramScorer, word_ngrams

logger = logging.getLogger(__name__)

_META_FILE = "ngram_model.json"
_ARRAYS_FILE = "ngram_arrays.npz"


def token_features(token_texts: Iterable[str]) -> List[str]:
    """Token texts as the word n-grams see them: lower case, no whitespace tokens."""
    return [text.lower() for text in token_texts if text.strip()]


def message_tokens(message: Message) -> List[str]:
    return token_features(token.text for token in message.get(TOKENS_NAMES[TEXT]) or [])


def probabilities(scores: np.ndarray, sigmoid_a: np.ndarray, sigmoid_b: np.ndarray) -> np.ndarray:
    """Class probabilities of SVM scores (texts × classes; one column for two classes)."""
    if scores.shape[1] == 1:  # two classes: one score, for the second class
        second = expit(-(sigmoid_a * scores + sigmoid_b))
        return np.hstack([1 - second, second])
    return calibrated_probabilities(scores, sigmoid_a, sigmoid_b)


def calibrated_probabilities(scores: np.ndarray, sigmoid_a: np.ndarray, sigmoid_b: np.ndarray) -> np.ndarray:
    """Per-label Platt sigmoids of the SVM scores, normalised to sum to one per row.

    The same arithmetic as scikit-learn's CalibratedClassifierCV.predict_proba,
    written out so that a saved model needs only arrays to predict.
    """
    probabilities = expit(-(sigmoid_a * scores + sigmoid_b))
    totals = probabilities.sum(axis=1, keepdims=True)
    uniform = np.full_like(probabilities, 1.0 / probabilities.shape[1])
    return np.divide(probabilities, totals, out=uniform, where=totals != 0)


class LinearModel:
    """The arrays a trained classifier predicts with: SVM weights and one sigmoid per label."""

    ARRAYS = ("coef", "intercept", "sigmoid_a", "sigmoid_b")

    def __init__(
        self, classes: List[str], coef: np.ndarray, intercept: np.ndarray, sigmoid_a: np.ndarray, sigmoid_b: np.ndarray
    ) -> None:
        self.classes = classes
        self.coef, self.intercept = coef, intercept
        self.sigmoid_a, self.sigmoid_b = sigmoid_a, sigmoid_b

    @classmethod
    def fit(cls, features: Any, labels: Any, C: float, folds: int) -> "LinearModel":
        """A class-balanced LinearSVC, Platt-scaled on `folds`-fold cross-validated scores."""
        labels = np.asarray(labels)
        smallest = min(np.sum(labels == label) for label in set(labels))
        svm = LinearSVC(C=C, class_weight="balanced", random_state=0)
        if min(folds, smallest) < 2:
            logger.warning("A label has a single example: probabilities are not calibrated.")
            svm.fit(features, labels)
            ones = np.ones(len(svm.intercept_))
            return cls([str(c) for c in svm.classes_], svm.coef_, svm.intercept_, -ones, 0 * ones)
        calibrated = CalibratedClassifierCV(svm, cv=min(folds, smallest), method="sigmoid", ensemble=False)
        calibrated.fit(features, labels)
        fitted = calibrated.calibrated_classifiers_[0]
        return cls(
            [str(c) for c in calibrated.classes_],
            fitted.base_estimator.coef_,
            fitted.base_estimator.intercept_,
            np.array([c.a_ for c in fitted.calibrators]),
            np.array([c.b_ for c in fitted.calibrators]),
        )

    def predict_proba(self, features: Any) -> np.ndarray:
        scores = np.asarray(features @ self.coef.T) + self.intercept
        return probabilities(scores, self.sigmoid_a, self.sigmoid_b)


class NgramModel:
    """TF-IDF character and word n-grams feeding a LinearModel; no Rasa types.

    `config` holds max_char_ngram, word_weight, C and calibration_folds (the
    component's config). Used by the Rasa components below and by the
    cross-validation in deescalate/tools/nlu_cv.py, so both measure the same model.
    Fitting keeps the vectorizers and the LinearModel (to save them); a loaded model
    keeps only what predicting needs: the scorer and the calibration.
    """

    def __init__(self, config: Dict[Text, Any]) -> None:
        self.config = config
        self.char = TfidfVectorizer(
            analyzer="char", ngram_range=(1, config["max_char_ngram"]), sublinear_tf=True, lowercase=True
        )
        self.word = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True)
        self.linear: Optional[LinearModel] = None
        self._predictor: Optional[Tuple[List[str], NgramScorer, np.ndarray, np.ndarray]] = None

    def features(self, texts: List[str], tokens: List[List[str]], fit: bool = False):  # noqa: ANN201
        weight = self.config["word_weight"]
        if fit:
            return hstack([self.char.fit_transform(texts), weight * self.word.fit_transform(tokens)]).tocsr()
        return hstack([self.char.transform(texts), weight * self.word.transform(tokens)]).tocsr()

    def fit(self, texts: List[str], tokens: List[List[str]], labels: List[str]) -> "NgramModel":
        self.linear = LinearModel.fit(
            self.features(texts, tokens, fit=True), labels, C=self.config["C"], folds=self.config["calibration_folds"]
        )
        self._predict_with(
            self.linear, _terms(self.char.vocabulary_), self.char.idf_, _terms(self.word.vocabulary_), self.word.idf_
        )
        return self

    def _predict_with(
        self, linear: LinearModel, char_terms: List[str], char_idf: Any, word_terms: List[str], word_idf: Any
    ) -> None:
        scorer = NgramScorer(
            self.config["max_char_ngram"],
            self.config["word_weight"],
            (char_terms, char_idf),
            (word_terms, word_idf),
            linear.coef,
            linear.intercept,
        )
        self._predictor = (linear.classes, scorer, linear.sigmoid_a, linear.sigmoid_b)

    @property
    def predictor(self) -> Tuple[List[str], NgramScorer, np.ndarray, np.ndarray]:
        if self._predictor is None:
            raise RuntimeError("the n-gram model is used before it was fitted or loaded")
        return self._predictor

    @property
    def classes(self) -> List[str]:
        return self.predictor[0]

    def predict_proba(self, texts: List[str], tokens: List[List[str]]) -> np.ndarray:
        _classes, scorer, sigmoid_a, sigmoid_b = self.predictor
        return probabilities(scorer.scores(texts, tokens), sigmoid_a, sigmoid_b)

    def save(self, directory: Path) -> None:
        """Saves a model fitted in this process (a loaded one keeps no vectorizers)."""
        if self.linear is None:
            raise RuntimeError("only a fitted n-gram model can be saved")
        meta = {
            "char_terms": _terms(self.char.vocabulary_),
            "word_terms": _terms(self.word.vocabulary_),
            "classes": self.linear.classes,
        }
        (directory / _META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez(
            directory / _ARRAYS_FILE,
            char_idf=self.char.idf_,
            word_idf=self.word.idf_,
            **{name: getattr(self.linear, name) for name in LinearModel.ARRAYS},
        )

    @classmethod
    def load(cls, config: Dict[Text, Any], directory: Path) -> "NgramModel":
        """Raises FileNotFoundError or KeyError when the folder holds no model of this shape.

        Reads the vocabularies as term lists in column order, or, from models saved
        before, as term -> column dictionaries."""
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        arrays = dict(np.load(directory / _ARRAYS_FILE))
        char_terms = meta["char_terms"] if "char_terms" in meta else _terms(meta["char_vocabulary"])
        word_terms = meta["word_terms"] if "word_terms" in meta else _terms(meta["word_vocabulary"])
        model = cls(config)
        linear = LinearModel(meta["classes"], *(arrays[name] for name in LinearModel.ARRAYS))
        model._predict_with(linear, char_terms, arrays["char_idf"], word_terms, arrays["word_idf"])
        return model


def _terms(vocabulary: Dict[str, Any]) -> List[str]:
    """A vectorizer's vocabulary (term -> column) as its terms in column order."""
    return sorted(vocabulary, key=lambda term: int(vocabulary[term]))


class NgramClassifier(GraphComponent):
    """Learns label(message) from n-grams; subclasses define label_of and write."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_char_ngram": 2, "word_weight": 0.7, "C": 1.0, "calibration_folds": 5}

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[NgramModel] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "NgramClassifier":
        return cls(config, model_storage, resource)

    # What subclasses provide -------------------------------------------------
    def label_of(self, message: Message) -> Optional[str]:
        raise NotImplementedError

    def write(self, message: Message, ranking: List[Tuple[str, float]]) -> None:
        raise NotImplementedError

    # Learning and predicting --------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and self.label_of(m)]
        labels = [str(self.label_of(m)) for m in examples]
        if len(set(labels)) < 2:
            logger.warning("%s: fewer than two labels in the data; not trained.", type(self).__name__)
            return self._resource
        self._model = NgramModel(self._config).fit(
            [m.get(TEXT) for m in examples], [message_tokens(m) for m in examples], labels
        )
        with self._model_storage.write_to(self._resource) as directory:
            self._model.save(directory)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None or not messages:
            return messages
        probabilities = self._model.predict_proba(
            [m.get(TEXT) or "" for m in messages], [message_tokens(m) for m in messages]
        )
        classes = self._model.classes
        for message, row in zip(messages, probabilities):
            order = np.argsort(row)[::-1]
            self.write(message, [(classes[i], round(float(row[i]), 4)) for i in order])
        return messages

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "NgramClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                model = NgramModel.load(config, directory)
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("%s: no trained model found; it will not predict.", cls.__name__)
            model = None
        return cls(config, model_storage, resource, model)
