"""Builds the blank Chinese spaCy pipeline that Rasa's SpacyNLP loads.

`python -m deescalate.tools.build spacy` (run by make) saves it to build/spacy_zh.
The pipeline is `spacy.blank("zh")` with the jieba tokenizer carrying our
domain words and an EntityRuler of escalation threats and products. It is
built from YAML on every machine; no spaCy model is downloaded.
"""

from typing import Any

import spacy
from spacy.language import Language

from deescalate.nlu.lexicon import Lexicon
from deescalate.nlu.spacy_tokenizer import TOKENIZER_NAME


def build_pipeline(lexicon: Lexicon) -> Language:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_NAME}}})
    tokenizer: Any = nlp.tokenizer  # our jieba tokenizer (spacy_tokenizer.py)
    tokenizer.add_words(lexicon.user_words())
    ruler: Any = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(lexicon.entity_patterns())
    nlp.meta["name"] = "deescalate_zh"
    nlp.meta["description"] = "Blank Chinese pipeline with jieba and complaint entity patterns"
    return nlp
