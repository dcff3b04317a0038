"""Text normalisation that keeps character offsets intact.

Traditional characters become Simplified (OpenCC) and full-width ASCII becomes
half-width. Both map one character to one character, so entity spans annotated
on the original training text stay valid after normalisation.
"""
from typing import List

from opencc import OpenCC
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from deescalate.nlu.base import StatelessComponent

_T2S = OpenCC("t2s")
_FULLWIDTH_OFFSET = 0xFEE0
_IDEOGRAPHIC_SPACE = "\u3000"


def to_halfwidth(text: str) -> str:
    """Map full-width ASCII (！ＡＴＭ１２３) and the ideographic space to ASCII."""
    out = []
    for char in text:
        code = ord(char)
        if char == _IDEOGRAPHIC_SPACE:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - _FULLWIDTH_OFFSET))
        else:
            out.append(char)
    return "".join(out)


def to_simplified(text: str) -> str:
    """Convert Traditional to Simplified Chinese without changing the length.

    OpenCC converts whole phrases, which is more accurate; in the rare case a
    phrase changes length, fall back to character-by-character conversion.
    """
    converted = _T2S.convert(text)
    if len(converted) == len(text):
        return converted
    return "".join(_T2S.convert(char) if len(_T2S.convert(char)) == 1 else char for char in text)


def normalize_text(text: str) -> str:
    """The normalisation every utterance goes through before tokenising."""
    return to_simplified(to_halfwidth(text))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
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
