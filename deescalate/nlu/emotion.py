"""Emotion per utterance: calm, confused, anxious, angry or furious.

Learns from the `emotion` each training example carries in its metadata and
adds `"emotion": {"name", "confidence"}` to the parse output. The classifier
learns mostly from spoken turns; written complaints show their emotion in
other ways (emotion_cues.yml): accusation, legalistic demands, sarcasm and
repeated punctuation are anger, worry about money, credit or family is
anxiety, insults and conditional threats are fury. The customer's own
escalation threat, found by the entity extractors that run before this
component, turns anger into fury. A long message that still reads calm is
read phrase by phrase: one phrase the model is sure is upset (an accusation
or a fear between two commas) makes the message upset, since a written
complaint's calm narrative otherwise drowns the one place its feeling shows.
A message without commas (speech-to-text writes none) is read in overlapping
windows of about a spoken phrase's length instead.
"""

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import ENTITIES, METADATA, METADATA_EXAMPLE, TEXT
from rasa.shared.nlu.training_data.message import Message

from deescalate.contract import EMOTIONS, UPSET
from deescalate.nlu.clauses import PHRASE_END, clause_spans, span_pieces, window_spans
from deescalate.nlu.ngram_classifier import NgramClassifier

EMOTION = "emotion"
CUES_FILE = Path(__file__).resolve().parent / "emotion_cues.yml"


def load_cues(path: Path = CUES_FILE) -> Dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    families = {name: {**family, "pattern": re.compile(family["pattern"])} for name, family in data["families"].items()}
    threat = dict(data.get("threat") or {})
    for key in ("taken_before", "taken_after"):
        if key in threat:
            threat[key] = re.compile(threat[key])
    return {**data, "families": families, "threat": threat}


def count_cues(text: str, cues: Dict[str, Any]) -> Dict[str, int]:
    """How many times each cue family occurs in `text`."""
    return {name: len(family["pattern"].findall(text)) for name, family in cues["families"].items()}


def with_written_cues(
    ranking: List[Tuple[str, float]], text: str, cues: Dict[str, Any], threat: bool = False
) -> List[Tuple[str, float]]:
    """The ranking after the written cues and the customer's own threat.

    Each family whose `from` names the classifier's best guess adds its
    `boost` (else the file's) per cue to its emotion, at most `max_cues` cues
    per family; a threat adds the `threat` boost. Scores are then renormalised.
    """
    if not ranking:
        return ranking
    guess = ranking[0][0]
    bonus: Dict[str, float] = {}
    for name, count in count_cues(text, cues).items():
        family = cues["families"][name]
        if count and guess in family["from"]:
            boost = float(family.get("boost", cues["boost"])) * min(count, cues["max_cues"])
            bonus[family["emotion"]] = bonus.get(family["emotion"], 0.0) + boost
    rule = cues.get("threat") or {}
    if threat and rule and guess in rule["from"]:
        bonus[rule["emotion"]] = bonus.get(rule["emotion"], 0.0) + rule["boost"]
    if not bonus:
        return ranking
    scores = {name: score + bonus.get(name, 0.0) for name, score in ranking}
    total = sum(scores.values()) or 1.0
    return sorted(((n, round(s / total, 4)) for n, s in scores.items()), key=lambda item: -item[1])


def upset_phrase(classes: Sequence[str], phrases: np.ndarray, min_confidence: float) -> Optional[Tuple[str, float]]:
    """The upset emotion that phrases name with at least `min_confidence`, if any.

    The emotion most phrases name wins, ties going to the surest phrase; the
    confidence is that of its surest phrase."""
    found: Dict[str, List[float]] = {}
    for row in phrases:
        index = int(np.argmax(row))
        if classes[index] in UPSET and row[index] >= min_confidence:
            found.setdefault(classes[index], []).append(float(row[index]))
    if not found:
        return None
    name = max(found, key=lambda n: (len(found[n]), max(found[n])))
    return name, round(max(found[name]), 4)


def is_threat(text: str, entity: Dict[str, Any], rule: Dict[str, Any]) -> bool:
    """Whether an escalation mention threatens, rather than tells of a step already taken or asked about."""
    start, end = entity.get("start"), entity.get("end")
    if entity.get("value") in rule.get("always", ()) or start is None or end is None:
        return True
    before = text[max(0, start - int(rule.get("taken_chars", 8))) : start]
    taken_before, taken_after = rule.get("taken_before"), rule.get("taken_after")
    return not (
        (taken_before is not None and taken_before.search(before))
        or (taken_after is not None and taken_after.match(text[end : end + 3]))
    )


def has_own_threat(message: Message, rule: Optional[Dict[str, Any]] = None) -> bool:
    """Whether the extractors kept an escalation entity that is the customer's own threat."""
    text = message.get(TEXT) or ""
    return any(
        entity.get("entity") == "escalation" and is_threat(text, entity, rule or {})
        for entity in message.get(ENTITIES) or []
    )


def example_emotion(message: Message) -> Optional[str]:
    """The emotion label a training example carries in its metadata, if any."""
    metadata = message.get(METADATA) or {}
    example = metadata.get(METADATA_EXAMPLE) or {}
    emotion = example.get(EMOTION) if isinstance(example, dict) else None
    return emotion if emotion in EMOTIONS else None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class EmotionClassifier(NgramClassifier):
    """Trainable Rasa component that labels each message with an emotion."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **NgramClassifier.get_default_config(),
            "phrase_reading_chars": 40,
            "min_phrase_chars": 4,
            "phrase_confidence": 0.5,
            "phrase_window_chars": 16,
        }

    def label_of(self, message: Message) -> Optional[str]:
        return example_emotion(message)

    _cues: Optional[Dict[str, Any]] = None

    def write(self, message: Message, ranking: List[Tuple[str, float]]) -> None:
        if EmotionClassifier._cues is None:
            EmotionClassifier._cues = load_cues()
        text = message.get(TEXT) or ""
        cues = EmotionClassifier._cues
        ranking = with_written_cues(ranking, text, cues, threat=has_own_threat(message, cues.get("threat")))
        name, confidence = ranking[0]
        message.set(EMOTION, {"name": name, "confidence": confidence}, add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        messages = super().process(messages)
        for message in messages:
            self._read_phrases(message)
        return messages

    def _read_phrases(self, message: Message) -> None:
        """A long message read calm takes the upset emotion its phrases are sure of."""
        settings = {**self.get_default_config(), **self._config}  # a model trained before these settings
        text = message.get(TEXT) or ""
        emotion = message.get(EMOTION) or {}
        if self._model is None or emotion.get("name") != "calm" or len(text) < settings["phrase_reading_chars"]:
            return
        spans = clause_spans(text, int(settings["min_phrase_chars"]), PHRASE_END)
        if len(spans) < 2:  # no marks to cut at, as in speech-to-text: overlapping windows instead
            spans = window_spans(text, int(settings["phrase_window_chars"]))
        if len(spans) < 2:
            return
        pieces = span_pieces(text, message.get(TOKENS_NAMES[TEXT]) or [], spans)
        rows = self._model.predict_proba([p[0] for p in pieces], [p[1] for p in pieces])
        found = upset_phrase(self._model.classes, rows, float(settings["phrase_confidence"]))
        if found:
            message.set(EMOTION, {"name": found[0], "confidence": found[1]}, add_to_output=True)
