"""The SVM scores of a trained n-gram model, computed from its arrays alone.

scikit-learn's `TfidfVectorizer.transform` and a sparse product cost about
2.5 ms a message per classifier (input checks, sparse matrix building,
`hstack`), three classifiers a turn; most of that is overhead for one short
text. `NgramScorer` computes the same scores directly: the text's character
n-grams exactly as the vectorizer cuts them (lower case, runs of white space
as one space), the word n-grams of its tokens, sublinear TF times IDF, an L2
norm per kind, the word part weighted, times the SVM weights, plus the
intercept (`tests/test_ngram_scorer.py` holds the scores equal to
scikit-learn's).

The vocabularies of the intent and emotion classifiers are the same (both
learn from every training example), and the cause classifier's is a subset.
Rather than a dictionary of about 137,000 n-grams per classifier, a process
keeps one `Vocabulary` per kind (character, word) that gives every n-gram any
loaded model knows one id; each model keeps its IDF and weights in arrays
indexed by those ids, an IDF of 0 marking an n-gram outside its own
vocabulary (a trained IDF is at least 1). Weights are kept as float32 (the
scores are summed in float64): half the memory, and probabilities that
differ from float64 weights by less than 1e-6.

A vocabulary only grows: loading another model into the same process (a new
model replacing the running one) adds the n-grams it does not share.
"""

import math
import re
from collections import Counter
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's vectorizers


class Vocabulary:
    """One id per n-gram, for every model of the process; ids never change."""

    def __init__(self) -> None:
        self.ids: Dict[str, int] = {}

    def add(self, terms: Sequence[str]) -> np.ndarray:
        """The ids of `terms`, in their order; new terms get new ids."""
        ids = self.ids
        return np.fromiter((ids.setdefault(term, len(ids)) for term in terms), dtype=np.int64, count=len(terms))

    def __len__(self) -> int:
        return len(self.ids)


VOCABULARIES = {"char": Vocabulary(), "word": Vocabulary()}


def char_ngrams(text: str, max_n: int) -> List[str]:
    """Character 1..max_n-grams of `text` as TfidfVectorizer(analyzer="char", lowercase=True) cuts them."""
    text = _WHITE_SPACES.sub(" ", text.lower())
    return [text[i : i + n] for n in range(1, max_n + 1) for i in range(len(text) - n + 1)]


def word_ngrams(tokens: List[str]) -> List[str]:
    """Word unigrams and bigrams of a token list (the analyzer of the word vectorizer)."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


class _Part:
    """One kind's IDF and weights, indexed by the ids of its shared vocabulary."""

    def __init__(self, vocabulary: Vocabulary, terms: Sequence[str], idf: np.ndarray, weights: np.ndarray) -> None:
        ids = vocabulary.add(terms)
        self.vocabulary = vocabulary
        self.idf = np.zeros(len(vocabulary))
        self.idf[ids] = idf
        self.weights = np.zeros((len(vocabulary), weights.shape[1]), dtype=np.float32)
        self.weights[ids] = weights

    def score(self, grams: Iterable[str]) -> np.ndarray:
        """The L2-normalised sublinear TF-IDF row of `grams` times the weights."""
        counts = Counter(grams)
        get, size = self.vocabulary.ids.get, len(self.idf)
        ids = np.fromiter((get(gram, size) for gram in counts), dtype=np.int64, count=len(counts))
        known = ids < size
        ids = ids[known]
        idf = self.idf[ids]
        inside = idf > 0
        ids, idf = ids[inside], idf[inside]
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))[known][inside]
        row = (1.0 + np.log(tf)) * idf
        norm = math.sqrt(float(row @ row))
        if not norm:
            return np.zeros(self.weights.shape[1])
        return (row / norm) @ self.weights[ids].astype(np.float64)


class NgramScorer:
    """SVM scores (texts × classes) of character and word n-gram TF-IDF features."""

    def __init__(
        self,
        max_char_ngram: int,
        word_weight: float,
        char: Tuple[Sequence[str], np.ndarray],
        word: Tuple[Sequence[str], np.ndarray],
        coef: np.ndarray,
        intercept: np.ndarray,
    ) -> None:
        """`char` and `word` are each (terms in column order, IDF); `coef` is (classes × char and
        word columns), as the SVM learned it on the two vectorizers' stacked features."""
        self.max_char_ngram = max_char_ngram
        self.word_weight = word_weight
        n_char = len(char[0])
        self.char = _Part(VOCABULARIES["char"], char[0], char[1], coef[:, :n_char].T)
        self.word = _Part(VOCABULARIES["word"], word[0], word[1], coef[:, n_char:].T)
        self.intercept = np.asarray(intercept, dtype=np.float64)

    def scores(self, texts: List[str], tokens: List[List[str]]) -> np.ndarray:
        rows = [
            self.char.score(char_ngrams(text, self.max_char_ngram))
            + self.word_weight * self.word.score(word_ngrams(words))
            for text, words in zip(texts, tokens)
        ]
        if not rows:
            return np.zeros((0, len(self.intercept)))
        return np.vstack(rows) + self.intercept
