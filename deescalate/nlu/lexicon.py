"""Reads the entity lexicon (Rasa NLU YAML) that feeds jieba and the EntityRuler.

`data/nlu/lexicon.yml` is ordinary Rasa training data: synonym blocks map each
escalation wording to its canonical value (used by EntitySynonymMapper), and
lookup tables list products and domain terms (used by RegexFeaturizer). The
same file is the one source for the spaCy pipeline built by `spacy_pipeline`.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import yaml

from deescalate.contract import ESCALATIONS


@dataclass
class Lexicon:
    escalation: Dict[str, List[str]] = field(default_factory=dict)
    lookups: Dict[str, List[str]] = field(default_factory=dict)

    annotated_escalations: List[str] = field(default_factory=list)

    def entity_patterns(self) -> List[Dict[str, str]]:
        """EntityRuler patterns: escalation wordings and product names.

        Escalation wordings annotated in the training data are matched too;
        EntitySynonymMapper maps them to their annotated canonical value.
        """
        patterns = [
            {"label": "escalation", "pattern": term.lower(), "id": value}
            for value, terms in self.escalation.items()
            for term in terms
        ]
        patterns += [{"label": "escalation", "pattern": term.lower()} for term in self.annotated_escalations]
        patterns += [{"label": "product", "pattern": term.lower()} for term in self.lookups.get("product", [])]
        return patterns

    def user_words(self) -> List[str]:
        words = [term for terms in self.escalation.values() for term in terms]
        for terms in self.lookups.values():
            words.extend(terms)
        return sorted(set(words))


_ANNOTATION = re.compile(r"\[([^\[\]]+)\](\([^)]*\)|\{[^}]*\})")


def annotated_phrases(paths: Iterable[Path], entity: Optional[str] = None) -> List[str]:
    """Entity texts annotated in the NLU training files (of one entity, if given).

    Given to jieba as user words so that annotated spans fall on token
    boundaries; otherwise the entity extractor cannot learn entities that
    jieba would cut in the middle (我带|几十个人 for 带几十个人来堵门).
    """
    phrases = set()
    for path in paths:
        for match in _ANNOTATION.finditer(Path(path).read_text(encoding="utf-8")):
            if entity is None or f'"{entity}"' in match.group(2) or f"({entity})" in match.group(2):
                phrases.add(match.group(1).strip())
    return sorted(p for p in phrases if p)


def _examples(block: Dict) -> List[str]:
    text = block.get("examples") or ""
    return [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("- ")]


def load_lexicon(path: Path) -> Lexicon:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    lexicon = Lexicon()
    for block in data.get("nlu", []):
        if block.get("synonym") in ESCALATIONS:
            lexicon.escalation.setdefault(block["synonym"], []).extend(_examples(block))
        elif "lookup" in block:
            lexicon.lookups.setdefault(block["lookup"], []).extend(_examples(block))
    return lexicon
