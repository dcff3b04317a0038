"""Rasa NLU components for Chinese complaints."""

# Registers the jieba tokenizer with spaCy before Rasa's SpacyNLP loads the
# pipeline that names it.
from deescalate.nlu import spacy_tokenizer  # noqa: F401
