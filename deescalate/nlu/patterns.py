"""Entities found by character-level patterns (deescalate/nlu/entity_patterns.yml).

Token-based matching misses threats phrased in many ways ("我们几十户一起来",
"带着二十多个人过来"); these patterns run on the normalised text directly and
give the canonical value, so they do not depend on how jieba cut the words.
An escalation mention from any extractor is then kept only when it reads as the
customer's own threat (`not_own_threat` in the same file).
"""

import re
from pathlib import Path
from typing import Any, Dict, List, Text, Tuple

import yaml
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from deescalate.nlu.base import StatelessComponent

PATTERNS_FILE = Path(__file__).resolve().parent / "entity_patterns.yml"


NOT_OWN_THREAT = "not_own_threat"
_CLAUSE_BREAK = re.compile(r"[,，。!！?？;；、\n]")
_DIGIT = re.compile(r"\d")
CLAUSE_CHARS = 12  # config.yml's `clause_chars`: how far either side of a mention its clause reaches


def _load(path: Path) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_patterns(path: Path = PATTERNS_FILE) -> List[Dict[str, Any]]:
    return [
        {"entity": entity, "value": value, "regex": re.compile(pattern)}
        for entity, values in _load(path).items()
        if entity != NOT_OWN_THREAT
        for value, patterns in values.items()
        for pattern in patterns
    ]


def load_threat_filter(path: Path = PATTERNS_FILE) -> Dict[str, "re.Pattern[str]"]:
    return {name: re.compile(pattern) for name, pattern in (_load(path).get(NOT_OWN_THREAT) or {}).items()}


def clause_around(text: str, start: int, end: int, most: int = CLAUSE_CHARS) -> Tuple[str, str]:
    """The text of the clause before and after a mention: cut at punctuation, at most `most` characters a side.

    Speech-to-text writes no punctuation, and a typed complaint may have none:
    without the bound the "clause" is the whole message, and a collector's
    threat told in one place would disown the customer's own in another.
    """
    left = _CLAUSE_BREAK.split(text[:start])[-1][-most:] if most > 0 else ""
    right = _CLAUSE_BREAK.split(text[end:])[0][:most]
    return left, right


def is_own_threat(
    text: str, entity: Dict[str, Any], rules: Dict[str, "re.Pattern[str]"], clause_chars: int = CLAUSE_CHARS
) -> bool:
    """False when the words around an escalation mention say it is not the customer's own threat.

    A step someone stops the customer from taking (不让我报警) is the customer's own.

    Someone else acts (a collector threatens to expose, a court freezes or
    sues), the customer is the object (曝光我, 把我告到法院), an authority or a
    court is quoted (银监会规定, 依照最高人民法院的司法解释), a
    platform is where something was bought, 报案 is an insurance claim, the
    police came to an accident, or the customer pleads with a court.
    """
    start, end = int(entity.get("start") or 0), int(entity.get("end") or 0)
    if not rules or end <= start:
        return True
    mention = text[start:end]
    left, right = clause_around(text, start, end, clause_chars)
    if (start > 0 and _DIGIT.match(text[start - 1])) or _DIGIT.match(text[end : end + 1]):
        if mention.isdigit():
            return False  # 110 inside a longer number
    if rules["obstructed_before"].search(left):
        return True
    clause = left + mention + right
    if rules["others_act"].search(clause) or rules["others_say"].search(left):
        return False
    if rules["object_after"].search(right) or rules["actor_before"].search(left):
        return False
    if "法院" in mention and (court_acts(text, start, mention, right, rules) or rules["plea_before"].search(left)):
        return False
    if entity.get("value") == "police" and rules["accident"].search(clause):
        return False
    cites_authority = entity.get("value") in ("regulator", "consumer_association") or "法院" in mention
    if cites_authority and (rules["citing_after"].search(right) or rules["citing_before"].search(left)):
        return False
    if rules["platforms"].fullmatch(mention) and not rules["posting"].search(clause):
        return False
    if (
        rules["claim_report"].search(mention)
        and rules["claim_words"].search(text)
        and not rules["police_words"].search(clause)
    ):
        return False
    return True


def court_acts(text: str, start: int, mention: str, right: str, rules: Dict[str, "re.Pattern[str]"]) -> bool:
    """Whether the court named in a mention is the one acting (法院起诉了, 法院判了), not where the customer goes.

    Read from the court's own name on, since a mention may run past it (法院起诉).
    """
    court = mention.index("法院")
    return bool(
        rules["court_acts_after"].search(mention[court + 2 :] + right)
        and not rules["to_court_before"].search(text[: start + court])
    )


def find_pattern_entities(text: str, patterns: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    found = []
    for pattern in patterns:
        for match in pattern["regex"].finditer(text):
            found.append(
                {"entity": pattern["entity"], "value": pattern["value"], "start": match.start(), "end": match.end()}
            )
    return found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class PatternEntityExtractor(StatelessComponent, EntityExtractorMixin):
    """Adds entities whose patterns match, unless an extractor already found that value."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"clause_chars": CLAUSE_CHARS}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self.patterns = load_patterns()
        self.threat_filter = load_threat_filter()
        self.clause_chars = int({**self.get_default_config(), **config}["clause_chars"])

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            existing = message.get(ENTITIES, [])
            known = {(e.get("entity"), e.get("value")) for e in existing}
            found = [e for e in find_pattern_entities(text, self.patterns) if (e["entity"], e["value"]) not in known]
            unique = list({(e["entity"], e["value"]): e for e in found}.values())
            entities = existing + self.add_extractor_name(unique)
            kept = [
                e
                for e in entities
                if e.get("entity") != "escalation" or is_own_threat(text, e, self.threat_filter, self.clause_chars)
            ]
            message.set(ENTITIES, kept, add_to_output=True)
        return messages
