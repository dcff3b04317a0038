"""The NLU pipeline's normalisation step (the functions live in deescalate/textnorm.py).

Traditional characters become Simplified (OpenCC), full-width ASCII becomes
half-width, spoken digits become digits and a misheard regulator's name becomes
the name. Each maps one character to one character, so entity spans annotated
on the original training text stay valid after normalisation.
"""

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from deescalate.nlu.base import StatelessComponent
from deescalate.textnorm import normalize_text, to_halfwidth, to_simplified

__all__ = ["ChineseNormalizer", "normalize_text", "to_halfwidth", "to_simplified"]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class ChineseNormalizer(StatelessComponent):
    """Rewrites each message's text into normalised, Simplified Chinese."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Texts and annotated entity values alike: an annotation written in
        Traditional characters would otherwise teach a synonym from the
        Simplified text back to the Traditional value (保单 → 保單)."""
        self.process(training_data.training_examples)
        for message in training_data.training_examples:
            for entity in message.get(ENTITIES) or []:
                if isinstance(entity.get("value"), str):
                    entity["value"] = normalize_text(entity["value"])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text:
                message.set(TEXT, normalize_text(text))
        return messages
