"""A long message that reads calm is read phrase by phrase (deescalate/nlu/emotion.py)."""

import numpy as np
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from deescalate.nlu.clauses import PHRASE_END, SENTENCE_END, clause_spans, span_pieces, window_spans
from deescalate.nlu.emotion import EMOTION, EmotionClassifier, upset_phrase
from deescalate.nlu.ngram_classifier import NgramModel

CLASSES = ["angry", "anxious", "calm", "confused"]
TEXTS = {
    "calm": [
        "上个月办了一张卡",
        "每月按时还款",
        "今天去网点问了一下",
        "账单日是每月五号",
        "我在家里查了余额",
        "客服给了回复",
    ],
    "angry": ["气死我了", "简直是明抢", "太欺负人了", "真是气得发抖", "这也太黑了吧", "实在忍无可忍"],
    "anxious": ["我好害怕", "急得睡不着觉", "心里慌得很", "担心得要命", "怕得手发抖", "整夜睡不着"],
}


def characters(text):
    return [Token(ch, i) for i, ch in enumerate(text)]


def classifier(**settings):
    texts = [t for group in TEXTS.values() for t in group]
    labels = [label for label, group in TEXTS.items() for _ in group]
    config = {**EmotionClassifier.get_default_config(), "calibration_folds": 3, **settings}
    model = NgramModel(config).fit(texts, [list(t) for t in texts], labels)
    return EmotionClassifier(config, None, None, model)


def emotion_of(text, **settings):
    message = Message(data={TEXT: text, TOKENS_NAMES[TEXT]: characters(text)})
    classifier(**settings).process([message])
    return message.get(EMOTION)["name"]


def test_phrases_are_cut_at_commas_and_spaces_sentences_only_at_sentence_ends():
    text = "上个月办了卡，每月按时还款 客服给了回复。好"
    assert [text[a:b] for a, b in clause_spans(text, 4, PHRASE_END)] == ["上个月办了卡", "每月按时还款", "客服给了回复"]
    assert [text[a:b] for a, b in clause_spans(text, 4, SENTENCE_END)] == ["上个月办了卡，每月按时还款 客服给了回复"]


def test_a_piece_keeps_only_the_tokens_inside_it():
    text = "办卡，还款"
    pieces = span_pieces(text, characters(text), clause_spans(text, 2, PHRASE_END))
    assert pieces == [("办卡", ["办", "卡"]), ("还款", ["还", "款"])]


def test_the_upset_emotion_most_phrases_name_wins_and_calm_phrases_count_for_nothing():
    phrases = np.array(
        [
            [0.7, 0.1, 0.2, 0.0],  # angry
            [0.1, 0.8, 0.1, 0.0],  # anxious, surer
            [0.6, 0.2, 0.2, 0.0],  # angry
            [0.0, 0.0, 1.0, 0.0],  # calm
        ]
    )
    assert upset_phrase(CLASSES, phrases, 0.5) == ("angry", 0.7)
    assert upset_phrase(CLASSES, phrases[[1, 3]], 0.5) == ("anxious", 0.8)


def test_unsure_phrases_and_confusion_leave_the_message_calm():
    phrases = np.array([[0.45, 0.1, 0.45, 0.0], [0.1, 0.0, 0.2, 0.7]])
    assert upset_phrase(CLASSES, phrases, 0.5) is None


def test_a_long_calm_narrative_with_one_angry_phrase_reads_angry():
    text = "上个月办了一张卡，每月按时还款，账单日是每月五号，今天去网点问了一下，客服给了回复，真是气得发抖"
    assert len(text) >= EmotionClassifier.get_default_config()["phrase_reading_chars"]
    assert emotion_of(text, phrase_reading_chars=len(text) + 1) == "calm"
    assert emotion_of(text) == "angry"


def test_a_long_calm_narrative_stays_calm():
    text = "上个月办了一张卡，每月按时还款，账单日是每月五号，今天去网点问了一下，客服给了回复，我在家里查了余额"
    assert emotion_of(text) == "calm"


def test_a_short_message_is_not_read_phrase_by_phrase():
    text = "每月按时还款，账单日是每月五号，客服给了回复，心里慌"
    assert len(text) < EmotionClassifier.get_default_config()["phrase_reading_chars"]
    assert emotion_of(text) == "calm"


def test_a_text_without_marks_is_cut_into_overlapping_windows():
    text = "一二三四五六七八九十甲乙丙丁戊己"
    assert window_spans(text, 8) == [(0, 8), (4, 12), (8, 16)]  # the last window ends the text
    assert window_spans(text + "庚", 8)[-1] == (12, 17)
    assert window_spans(text, 16) == [] and window_spans(text, 0) == []


def test_a_long_unpunctuated_narrative_is_read_window_by_window():
    """Speech-to-text writes no commas: the angry words still show in their window."""
    text = "上个月办了一张卡每月按时还款账单日是每月五号今天去网点问了一下客服给了回复真是气得发抖"
    assert len(text) >= EmotionClassifier.get_default_config()["phrase_reading_chars"]
    assert emotion_of(text, phrase_window_chars=0) == "calm"
    assert emotion_of(text) == "angry"
    calm = "上个月办了一张卡每月按时还款账单日是每月五号今天去网点问了一下客服给了回复我在家里查了余额"
    assert emotion_of(calm) == "calm"
