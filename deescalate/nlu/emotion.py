"""Emotion per utterance: calm, confused, anxious, angry or furious.

Learns from the `emotion` each training example carries in its metadata and
adds `"emotion": {"name", "confidence"}` to the parse output.
"""
from typing import List, Optional, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import METADATA, METADATA_EXAMPLE
from rasa.shared.nlu.training_data.message import Message

from deescalate.contract import EMOTIONS
from deescalate.nlu.ngram_classifier import NgramClassifier

EMOTION = "emotion"


def example_emotion(message: Message) -> Optional[str]:
    """The emotion label a training example carries in its metadata, if any."""
    metadata = message.get(METADATA) or {}
    example = metadata.get(METADATA_EXAMPLE) or {}
    emotion = example.get(EMOTION) if isinstance(example, dict) else None
    return emotion if emotion in EMOTIONS else None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class EmotionClassifier(NgramClassifier):
    """Trainable Rasa component that labels each message with an emotion."""

    def label_of(self, message: Message) -> Optional[str]:
        return example_emotion(message)

    def write(self, message: Message, ranking: List[Tuple[str, float]]) -> None:
        name, confidence = ranking[0]
        message.set(EMOTION, {"name": name, "confidence": confidence}, add_to_output=True)
