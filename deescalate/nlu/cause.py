"""What the complaint is about, separate from what the customer does in a turn.

Rasa's `intent` is the dialogue act of a turn (provide_info, ask_status, ...)
or a cause; a long written complaint full of dates and amounts is both a
narrative and, say, a fee complaint. This component learns the cause alone,
from the training examples whose intent is a cause, and gives every message

    "cause": {"name": ..., "confidence": ..., "ranking": [{"name", "confidence"}, ...],
              "secondary": {"name", "confidence"} | null}

beside the intent. A long text is also read clause by clause (split at
sentence ends): the best cause of a clause other than the primary one, when
it is confident there, is the secondary cause (else the runner-up of the whole
text when it is close). The primary cause is the whole text's: averaging the
clause scores into it was measured on real complaints and lost a little
(docs/nlu.md), since a cause is often named across clauses ("扣了...", "...年费").
"""

from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from deescalate.contract import CAUSES
from deescalate.nlu.clauses import clause_spans, span_pieces
from deescalate.nlu.ngram_classifier import NgramClassifier, token_features

CAUSE = "cause"
RANKING_LENGTH = 5


def secondary_cause(
    primary: str, classes: List[str], clauses: np.ndarray, ranking: List[Tuple[str, float]], min_confidence: float
) -> Optional[Dict[str, Any]]:
    """Another clause's confident cause, else the runner-up when it is close enough."""
    best: Optional[Tuple[str, float]] = None
    for row in clauses:
        index = int(np.argmax(row))
        if classes[index] != primary and row[index] >= min_confidence and (best is None or row[index] > best[1]):
            best = (classes[index], float(row[index]))
    if best is None and len(ranking) > 1 and ranking[1][1] >= min_confidence:
        best = ranking[1]
    return {"name": best[0], "confidence": round(best[1], 4)} if best else None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class CauseClassifier(NgramClassifier):
    """Trainable Rasa component that gives every message a cause distribution."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **NgramClassifier.get_default_config(),
            "min_clause_chars": 6,
            "secondary_confidence": 0.4,
        }

    def label_of(self, message: Message) -> Optional[str]:
        intent = message.get(INTENT)
        return intent if intent in CAUSES else None

    def write(self, message: Message, ranking: List[Tuple[str, float]]) -> None:
        self._write(message, ranking, None)

    def _write(self, message: Message, ranking: List[Tuple[str, float]], secondary: Optional[Dict[str, Any]]) -> None:
        name, confidence = ranking[0]
        message.set(
            CAUSE,
            {
                "name": name,
                "confidence": confidence,
                "ranking": [{"name": n, "confidence": c} for n, c in ranking[:RANKING_LENGTH]],
                "secondary": secondary,
            },
            add_to_output=True,
        )

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None or not messages:
            return messages
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        if self._model is None:
            return
        text = message.get(TEXT) or ""
        tokens = message.get(TOKENS_NAMES[TEXT]) or []
        spans = clause_spans(text, int(self._config["min_clause_chars"]))
        pieces = [(text, token_features(t.text for t in tokens))]
        if len(spans) >= 2:
            pieces += span_pieces(text, tokens, spans)
        probabilities = self._model.predict_proba([p[0] for p in pieces], [p[1] for p in pieces])
        classes = self._model.classes
        row = probabilities[0]
        order = np.argsort(row)[::-1]
        ranking = [(classes[i], round(float(row[i]), 4)) for i in order]
        secondary = secondary_cause(
            ranking[0][0], classes, probabilities[1:], ranking, float(self._config["secondary_confidence"])
        )
        self._write(message, ranking, secondary)
