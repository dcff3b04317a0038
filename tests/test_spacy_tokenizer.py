"""The jieba tokenizer segments a text the same way however often its pipeline is loaded."""

import jieba
import spacy

import deescalate.nlu.spacy_tokenizer  # noqa: F401  (registers the tokenizer)
from deescalate.tools.build import build_spacy


def test_loading_the_pipeline_again_leaves_jiebas_dictionary_and_the_tokens_as_they_were():
    text = "再不给我解冻我就打监管电话投诉你们，还要去法院起诉"
    first = spacy.load(build_spacy())
    tokens = [t.text for t in first.make_doc(text)]
    user_words = list(first.tokenizer.user_words)
    frequencies = {word: jieba.dt.FREQ.get(word) for word in user_words}
    total = jieba.dt.total

    for _ in range(3):
        again = spacy.load(build_spacy())
        assert [t.text for t in again.make_doc(text)] == tokens

    assert jieba.dt.total == total
    assert {word: jieba.dt.FREQ.get(word) for word in user_words} == frequencies
    assert list(again.tokenizer.user_words) == user_words


def test_the_domain_words_are_single_tokens():
    nlp = spacy.load(build_spacy())
    tokens = [t.text for t in nlp.make_doc("我想退保，犹豫期过了吗")]
    assert "退保" in tokens and "犹豫期" in tokens
