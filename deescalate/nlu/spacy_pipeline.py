"""Builds the blank Chinese spaCy pipeline that Rasa's SpacyNLP loads.

    python -m deescalate.nlu.spacy_pipeline data/nlu/lexicon.yml build/spacy_zh

The pipeline is `spacy.blank("zh")` with the jieba tokenizer carrying our
domain words and an EntityRuler of escalation threats and products. It is
built from YAML on every machine; no spaCy model is downloaded.
"""
import argparse
import shutil
from pathlib import Path

import spacy
from spacy.language import Language

from deescalate.nlu.lexicon import Lexicon, load_lexicon
from deescalate.nlu.spacy_tokenizer import TOKENIZER_NAME


def build_pipeline(lexicon: Lexicon) -> Language:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_NAME}}})
    nlp.tokenizer.add_words(lexicon.user_words())
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(lexicon.entity_patterns())
    nlp.meta["name"] = "deescalate_zh"
    nlp.meta["description"] = "Blank Chinese pipeline with jieba and complaint entity patterns"
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lexicon", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    nlp = build_pipeline(load_lexicon(args.lexicon))
    if args.output.exists():
        shutil.rmtree(args.output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(args.output)
    print(f"spaCy pipeline with {len(nlp.get_pipe('entity_ruler').patterns)} patterns -> {args.output}")


if __name__ == "__main__":
    main()
