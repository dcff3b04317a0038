"""The meaning half of the taboo check: one linear classifier per taboo family.

Each family gets a logistic regression over character 1–3-grams (TF-IDF) of the
normalised draft, trained from the drafts in data/drafts/: the family's own
drafts are the positives; every other draft (other families and the fair
look-alikes that reuse the same words) are the negatives. Character n-grams
need no word segmentation and see 改不了, 您自己, 保本 whatever surrounds them.

The model is trained from the repository's text when a checker is built; with
about 650 drafts this takes a fraction of a second, so nothing is stored and
nothing is downloaded. Models are kept per process, keyed by a hash of the
drafts and the family ids, so every checker built from the same inputs shares one.
"""

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from deescalate.textnorm import normalize_text

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ROOT = Path(__file__).resolve().parent.parent.parent
DRAFTS_DIR = ROOT / "data" / "drafts"
# Chosen by cross-validation on the training drafts (docs/taboo.md), never on the test split.
REGULARISATION = 10.0
THRESHOLD = 0.5
OTHER_FAMILY_WEIGHT = 0.1
ANY_THRESHOLD = 0.5
ANY_FAMILY = "(any)"
NGRAMS = (1, 3)
_WHITE_SPACE = re.compile(r"\s\s+")


@dataclass(frozen=True)
class Draft:
    text: str
    families: Tuple[str, ...]  # empty: an acceptable draft
    writer: str
    style: str


class DraftsError(ValueError):
    """A drafts file that cannot be used, with where the fault is."""


def _block_drafts(block: Dict, where: str) -> Iterable[Draft]:
    family = block.get("family")
    if bool(family) == bool(block.get("fair_for")):
        raise DraftsError(f"{where}: a block has exactly one of `family` and `fair_for`")
    if not block.get("writer") or block.get("style") not in ("spoken", "typed"):
        raise DraftsError(f"{where}: a block needs a `writer` and a `style` (spoken or typed)")
    for item in block.get("drafts") or []:
        text, also = (item, []) if isinstance(item, str) else (item.get("text"), item.get("also") or [])
        if not isinstance(text, str) or not text.strip():
            raise DraftsError(f"{where}: a draft without text")
        families = tuple([family, *also]) if family else ()
        yield Draft(text=text.strip(), families=families, writer=block["writer"], style=block["style"])


def load_drafts(folder: Path = DRAFTS_DIR) -> List[Draft]:
    """Every training draft in the YAML files of `folder`, with its writer and style."""
    drafts: List[Draft] = []
    for path in sorted(Path(folder).glob("*.yml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for index, block in enumerate(data.get("blocks") or []):
            drafts.extend(_block_drafts(block, f"{path.name}: blocks[{index}]"))
    if not drafts:
        raise DraftsError(f"no training drafts in {folder}")
    return drafts


def drafts_digest(folder: Path = DRAFTS_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(folder).glob("*.yml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class FamilyModel:
    """Probabilities that a text belongs to each family, one binary classifier each."""

    def __init__(
        self,
        families: Sequence[str],
        drafts: Sequence[Draft],
        regularisation: float = REGULARISATION,
        threshold: float = THRESHOLD,
    ) -> None:
        self.families = list(families)
        self.threshold = threshold
        texts = [normalize_text(d.text) for d in drafts]
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=NGRAMS, sublinear_tf=True)
        matrix = self.vectorizer.fit_transform(texts)
        # The binary classifiers' weights side by side: one sparse product scores every family.
        # The last column reads taboo or not, whatever the family: it learns from every taboo draft.
        self.weights = np.zeros((matrix.shape[1], len(self.families) + 1))
        self.bias = np.full(len(self.families) + 1, -50.0)  # a family without drafts: patterns only
        for column, family in enumerate([*self.families, ANY_FAMILY]):
            labels = np.array([bool(d.families) if family == ANY_FAMILY else family in d.families for d in drafts])
            if labels.all() or not labels.any():
                continue
            # Another family's draft is a weak negative: it often shares this family's cues.
            weights = np.array(
                [1.0 if family in (ANY_FAMILY, *d.families) or not d.families else OTHER_FAMILY_WEIGHT for d in drafts]
            )
            model = LogisticRegression(C=regularisation, class_weight="balanced", solver="liblinear")
            model.fit(matrix, labels, sample_weight=weights)
            self.weights[:, column] = model.coef_[0]
            self.bias[column] = model.intercept_[0]

        self._vocabulary: Dict[str, int] = self.vectorizer.vocabulary_
        self._idf: np.ndarray = self.vectorizer.idf_

    def _row(self, text: str) -> Tuple[List[int], np.ndarray]:
        """The TF-IDF row of one text as the vectorizer computes it (lower case, runs of
        white space as one space, sublinear counts, L2 norm), without its per-call overhead:
        a draft is checked while the agent types."""
        text = _WHITE_SPACE.sub(" ", text.lower())
        low, high = NGRAMS
        counts = Counter(text[i : i + n] for n in range(low, high + 1) for i in range(len(text) - n + 1))
        columns, values = [], []
        for gram, count in counts.items():
            column = self._vocabulary.get(gram)
            if column is not None:
                columns.append(column)
                values.append((1.0 + math.log(count)) * self._idf[column])
        row = np.array(values)
        norm = math.sqrt(float(row @ row)) if len(values) else 0.0
        return columns, (row / norm if norm else row)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """A (texts × families + 1) array of probabilities, the last column for any family;
        texts are normalised already."""
        logits = np.empty((len(texts), self.weights.shape[1]))
        for index, text in enumerate(texts):
            columns, row = self._row(text)
            logits[index] = (row @ self.weights[columns] if columns else 0.0) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))


_MODELS: Dict[Tuple[str, Tuple[str, ...]], FamilyModel] = {}


def trained_model(families: Sequence[str], folder: Path = DRAFTS_DIR) -> FamilyModel:
    """The model for these families trained on `folder`, trained once per process."""
    key = (f"{Path(folder).resolve()}:{drafts_digest(folder)}", tuple(families))
    if key not in _MODELS:
        _MODELS[key] = FamilyModel(families, load_drafts(folder))
    return _MODELS[key]
