"""A spaCy Chinese tokenizer (jieba) that carries the project's own words.

spaCy's ChineseTokenizer with the jieba segmenter uses jieba's global
dictionary. This subclass saves our domain words inside the spaCy pipeline
folder and adds them to jieba whenever the pipeline is loaded, so Rasa's
SpacyNLP, the EntityRuler and training all segment 退保, 犹豫期, 银保监会… as one
token. Importing this module registers the tokenizer with spaCy.

jieba gives a word added without a frequency one more than it already has,
so adding the words again on every load of a pipeline (training loads it
twice, a server that reloads its model again) would shift the segmentation
of the same text from load to load. Each word is therefore given to jieba
once per process.
"""

import json
from pathlib import Path
from typing import Callable, Iterable, List, Set, Union

import jieba
from spacy.lang.zh import ChineseTokenizer, Segmenter
from spacy.language import Language
from spacy.util import registry
from spacy.vocab import Vocab

TOKENIZER_NAME = "deescalate.JiebaTokenizer.v1"
_WORDS_FILE = "user_words.json"

jieba.setLogLevel(60)

_GIVEN_TO_JIEBA: Set[str] = set()


def give_to_jieba(word: str) -> None:
    """Add a word to jieba's global dictionary unless this process already has."""
    if word not in _GIVEN_TO_JIEBA:
        jieba.add_word(word)
        _GIVEN_TO_JIEBA.add(word)


class JiebaUserWordsTokenizer(ChineseTokenizer):
    """ChineseTokenizer(segmenter=jieba) plus a persisted list of user words."""

    def __init__(self, vocab: Vocab, words: Iterable[str] = ()) -> None:
        super().__init__(vocab, segmenter=Segmenter.jieba)
        self.user_words: List[str] = []
        self.add_words(words)

    def add_words(self, words: Iterable[str]) -> None:
        for word in words:
            for form in dict.fromkeys((word, word.lower())):
                if form and form not in self.user_words:
                    give_to_jieba(form)
                    self.user_words.append(form)

    def to_disk(self, path: Union[str, Path], **kwargs) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / _WORDS_FILE).write_text(json.dumps(self.user_words, ensure_ascii=False, indent=0), encoding="utf-8")

    def from_disk(self, path: Union[str, Path], **kwargs) -> "JiebaUserWordsTokenizer":
        words_file = Path(path) / _WORDS_FILE
        if words_file.exists():
            self.add_words(json.loads(words_file.read_text(encoding="utf-8")))
        return self


@registry.tokenizers(TOKENIZER_NAME)
def create_tokenizer() -> Callable[[Language], JiebaUserWordsTokenizer]:
    def factory(nlp: Language) -> JiebaUserWordsTokenizer:
        return JiebaUserWordsTokenizer(nlp.vocab)

    return factory
