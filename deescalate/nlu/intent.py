"""Intent classification by the n-gram classifier (see ngram_classifier.py).

Sets Rasa's `intent` and `intent_ranking` like any intent classifier, so the
FallbackClassifier and policies work unchanged.
"""

from typing import List, Optional, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from deescalate.nlu.ngram_classifier import NgramClassifier

RANKING_LENGTH = 10


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class NgramIntentClassifier(NgramClassifier):
    """Trainable Rasa component that predicts the intent."""

    def label_of(self, message: Message) -> Optional[str]:
        return message.get(INTENT)

    def write(self, message: Message, ranking: List[Tuple[str, float]]) -> None:
        name, confidence = ranking[0]
        message.set(INTENT, {"name": name, "confidence": confidence}, add_to_output=True)
        message.set(
            INTENT_RANKING_KEY, [{"name": n, "confidence": c} for n, c in ranking[:RANKING_LENGTH]], add_to_output=True
        )
