"""Cutting a long text into clauses or phrases, with the tokens of each.

The cause classifier reads a long complaint sentence by sentence (a cause is
often named across a sentence's phrases); the emotion classifier reads it
phrase by phrase (a feeling shows in a few words between two commas), or,
when the text has no commas at all, window by window. Both
score the pieces with the model that scored the whole text, using the whole
text's tokens that fall inside each piece.
"""

import re
from typing import Iterable, List, Pattern, Tuple

from rasa.nlu.tokenizers.tokenizer import Token

from deescalate.nlu.ngram_classifier import token_features

SENTENCE_END = re.compile(r"[。！？!?；;\n]+")
PHRASE_END = re.compile(r"[，。！？；,.!?;\s]+")


def clause_spans(text: str, min_chars: int, boundary: Pattern[str] = SENTENCE_END) -> List[Tuple[int, int]]:
    """Character spans of the pieces of `text` between `boundary` marks, each of at least `min_chars`."""
    spans, start = [], 0
    for match in boundary.finditer(text + "\n"):
        if len(text[start : match.start()].strip()) >= min_chars:
            spans.append((start, match.start()))
        start = match.end()
    return spans


def window_spans(text: str, width: int) -> List[Tuple[int, int]]:
    """Overlapping spans of `width` characters, each starting half a width after the last.

    For text with no marks to cut at (speech-to-text writes none): a window
    about a spoken phrase long stands in for the phrase.
    """
    if width <= 0 or len(text) <= width:
        return []
    step = max(1, width // 2)
    return [(start, min(start + width, len(text))) for start in range(0, len(text) - step, step)]


def span_pieces(text: str, tokens: Iterable[Token], spans: List[Tuple[int, int]]) -> List[Tuple[str, List[str]]]:
    """Each span's text with the token features of the tokens inside it."""
    tokens = list(tokens)
    return [(text[a:b], token_features(t.text for t in tokens if t.start >= a and t.end <= b)) for a, b in spans]
