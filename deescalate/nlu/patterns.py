"""Entities found by character-level patterns (deescalate/nlu/entity_patterns.yml).

Token-based matching misses threats phrased in many ways ("我们几十户一起来",
"带着二十多个人过来"); these patterns run on the normalised text directly and
give the canonical value, so they do not depend on how jieba cut the words.
"""
import re
from pathlib import Path
from typing import Any, Dict, List, Text

import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from deescalate.nlu.base import StatelessComponent

PATTERNS_FILE = Path(__file__).resolve().parent / "entity_patterns.yml"


def load_patterns(path: Path = PATTERNS_FILE) -> List[Dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [{"entity": entity, "value": value, "regex": re.compile(pattern)}
            for entity, values in data.items()
            for value, patterns in values.items()
            for pattern in patterns]


def find_pattern_entities(text: str, patterns: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    found = []
    for pattern in patterns:
        for match in pattern["regex"].finditer(text):
            found.append({"entity": pattern["entity"], "value": pattern["value"],
                          "start": match.start(), "end": match.end()})
    return found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class PatternEntityExtractor(StatelessComponent, EntityExtractorMixin):
    """Adds entities whose patterns match, unless an extractor already found that value."""

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self.patterns = load_patterns()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            existing = message.get(ENTITIES, [])
            known = {(e.get("entity"), e.get("value")) for e in existing}
            found = [e for e in find_pattern_entities(message.get(TEXT) or "", self.patterns)
                     if (e["entity"], e["value"]) not in known]
            unique = list({(e["entity"], e["value"]): e for e in found}.values())
            message.set(ENTITIES, existing + self.add_extractor_name(unique), add_to_output=True)
        return messages
