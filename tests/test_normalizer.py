import pytest

from deescalate.nlu.normalizer import normalize_text, to_halfwidth, to_simplified


def test_traditional_becomes_simplified():
    assert normalize_text("我在櫃檯買的明明是理財，怎麼變成保險了？") == "我在柜台买的明明是理财,怎么变成保险了?"


def test_fullwidth_ascii_and_ideographic_space_become_halfwidth():
    assert to_halfwidth("ＡＴＭ吞了我２０００元！！　ＰＩＮ") == "ATM吞了我2000元!! PIN"


def test_length_is_preserved_so_entity_spans_stay_valid():
    samples = ["銀行卡被凍結了", "乾隆年間的頭髮", "我要去銀保監會投訴！！", "😡😡退錢", ""]
    for text in samples:
        assert len(normalize_text(text)) == len(text)


def test_simplified_and_emoji_pass_through_unchanged():
    assert to_simplified("退保只拿回一半😡") == "退保只拿回一半😡"


def test_training_entity_values_are_normalised_with_their_text():
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from deescalate.nlu.normalizer import ChineseNormalizer

    message = Message(
        data={
            "text": "我的保單",
            "intent": "provide_info",
            "entities": [
                {"start": 2, "end": 4, "value": "保單", "entity": "product"},
                {"start": 0, "end": 1, "value": 12000, "entity": "amount"},
            ],
        }
    )
    data = ChineseNormalizer.create({}, None, None, None).process_training_data(TrainingData([message]))
    example = data.training_examples[0]
    assert example.get("text") == "我的保单"
    assert [e["value"] for e in example.get("entities")] == ["保单", 12000]


def test_a_leading_slash_never_reaches_rasa_as_a_command():
    from deescalate.textnorm import not_a_command

    assert not_a_command("/restart") == "／restart"
    assert not_a_command("//@某人：转发") == "／/@某人：转发"
    assert not_a_command("我的卡/存折都被吞了") == "我的卡/存折都被吞了"
    # The normaliser maps full-width ASCII to half-width, but not a leading slash back into a command.
    assert normalize_text("／restart") == "／restart"
    assert normalize_text("/greet") == "／greet"
    assert len(normalize_text("/請幫我")) == len("/請幫我")


@pytest.mark.parametrize(
    "spoken, read",
    [
        ("再不处理我就打幺二三七八", "再不处理我就打12378"),
        ("我已经打了一二三一五", "我已经打了12315"),
        ("逼急了我就打幺幺零", "逼急了我就打110"),
        ("二零二三年三月开的卡", "2023年三月开的卡"),
        ("一九九八年买的保单", "1998年买的保单"),
        ("尾号幺三五七那张卡", "尾号1357那张卡"),
    ],
)
def test_numbers_read_out_digit_by_digit_become_digits(spoken, read):
    assert normalize_text(spoken) == read


@pytest.mark.parametrize("words", ["来了七八个人", "钱被扣得七七八八了", "一二三四都数不清", "三四五个网点都跑遍了"])
def test_counts_and_idioms_made_of_digit_characters_stay_words(words):
    assert normalize_text(words) == words


def test_the_masker_and_the_nlu_read_spoken_digits_with_one_table():
    from deescalate.digits import SPOKEN_DIGITS
    from deescalate.privacy_rules import PrivacySettings

    assert PrivacySettings.from_yaml().spoken_digits == SPOKEN_DIGITS
