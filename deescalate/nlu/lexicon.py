"""Reads the entity lexicon (Rasa NLU YAML) that feeds jieba and the EntityRuler.

`data/nlu/lexicon.yml` is ordinary Rasa training data: synonym blocks map each
escalation wording to its canonical value (used by EntitySynonymMapper), and
lookup tables list products and domain terms (used by RegexFeaturizer). The
same file is the one source for the spaCy pipeline built by `spacy_pipeline`.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List

import yaml

from deescalate.contract import ESCALATIONS


@dataclass
class Lexicon:
    escalation: Dict[str, List[str]] = field(default_factory=dict)
    lookups: Dict[str, List[str]] = field(default_factory=dict)

    def entity_patterns(self) -> List[Dict[str, str]]:
        """EntityRuler patterns: escalation wordings and product names."""
        patterns = [
            {"label": "escalation", "pattern": term.lower(), "id": value}
            for value, terms in self.escalation.items()
            for term in terms
        ]
        patterns += [
            {"label": "product", "pattern": term.lower()}
            for term in self.lookups.get("product", [])
        ]
        return patterns

    def user_words(self) -> List[str]:
        words = [term for terms in self.escalation.values() for term in terms]
        for terms in self.lookups.values():
            words.extend(terms)
        return sorted(set(words))


_ANNOTATION = re.compile(r"\[([^\[\]]+)\][({]")


def annotated_phrases(paths: Iterable[Path]) -> List[str]:
    """Every entity text annotated in the NLU training files.

    Given to jieba as user words so that annotated spans fall on token
    boundaries; otherwise DIET cannot learn entities that jieba would cut
    in the middle (我带|几十个人 for 带几十个人来堵门).
    """
    phrases = set()
    for path in paths:
        phrases.update(m.group(1).strip() for m in _ANNOTATION.finditer(Path(path).read_text(encoding="utf-8")))
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
