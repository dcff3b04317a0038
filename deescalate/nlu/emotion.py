"""Emotion per utterance: calm, confused, anxious, angry or furious.

Learns from the `emotion` each training example carries in its metadata and
adds `"emotion": {"name", "confidence"}` to the parse output. Written anger
is often measured in tone: accusation, legalistic demands, sarcasm, repeated
punctuation and conditional threats (emotion_cues.yml) move a calm or
confused guess toward angry.
"""

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import METADATA, METADATA_EXAMPLE, TEXT
from rasa.shared.nlu.training_data.message import Message

from deescalate.contract import EMOTIONS
from deescalate.nlu.ngram_classifier import NgramClassifier

EMOTION = "emotion"
CUES_FILE = Path(__file__).resolve().parent / "emotion_cues.yml"
_MILD = ("calm", "confused")


def load_cues(path: Path = CUES_FILE) -> Dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {**data, "cues": {name: re.compile(pattern) for name, pattern in data["cues"].items()}}


def count_cues(text: str, cues: Dict[str, Any]) -> Dict[str, int]:
    """How many times each family of written-anger cues occurs in `text`."""
    return {name: len(pattern.findall(text)) for name, pattern in cues["cues"].items()}


def with_written_cues(ranking: List[Tuple[str, float]], text: str, cues: Dict[str, Any]) -> List[Tuple[str, float]]:
    """The ranking after written-anger cues: a calm or confused guess with enough cues leans to angry."""
    if not ranking or ranking[0][0] not in _MILD:
        return ranking
    found = sum(count_cues(text, cues).values())
    if found < cues["min_cues"]:
        return ranking
    bonus = cues["boost"] * min(found, cues["max_cues"])
    scores = {name: score + (bonus if name == "angry" else 0.0) for name, score in ranking}
    total = sum(scores.values()) or 1.0
    return sorted(((n, round(s / total, 4)) for n, s in scores.items()), key=lambda item: -item[1])


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

    _cues: Optional[Dict[str, Any]] = None

    def write(self, message: Message, ranking: List[Tuple[str, float]]) -> None:
        if EmotionClassifier._cues is None:
            EmotionClassifier._cues = load_cues()
        ranking = with_written_cues(ranking, message.get(TEXT) or "", EmotionClassifier._cues)
        name, confidence = ranking[0]
        message.set(EMOTION, {"name": name, "confidence": confidence}, add_to_output=True)
