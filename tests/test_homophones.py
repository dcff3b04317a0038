"""A regulator's name misheard by a sound-alike character is read as the name."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deescalate.homophones import read_table, slips_of
from deescalate.textnorm import normalize_text


@pytest.mark.parametrize(
    "heard, meant",
    [
        ("我要去银保间投诉你们", "我要去银保监投诉你们"),
        ("再不处理我就打到保监惠", "再不处理我就打到保监会"),
        ("我明天就去找消保为", "我明天就去找消保委"),
        ("已經向銀保間反映過了", "已经向银保监反映过了"),  # Traditional, then the slip
        ("我去金融检管局告你们", "我去金融监管局告你们"),  # the longer name, not 金融 + 监管局
        ("投诉到人民银杭去", "投诉到人民银行去"),
    ],
)
def test_a_one_character_slip_of_a_regulators_name_reads_as_the_name(heard, meant):
    assert normalize_text(heard) == meant


@pytest.mark.parametrize(
    "words",
    [
        "社区的保健会销专门骗老人买东西",  # 保健会 sounds like 保监会 but is a sales meeting
        "在网点买的平安银保健康险",  # 银保 + 健康险, not 银保监
        "因保间的两个字都不对",  # two slips are no longer the name
        "银保监会已经受理了",  # the name itself is left as it is
    ],
)
def test_everyday_words_that_sound_like_a_name_stay_as_written(words):
    assert normalize_text(words) == words


@given(st.text(alphabet=st.sampled_from(list("银保监间会惠消委为局居金融检管人民行杭的我去找 ，")), max_size=40))
def test_reading_slips_keeps_every_character_where_it_was(text):
    """Entity spans found in the normalised text must be the same spans in the customer's text."""
    assert len(normalize_text(text)) == len(text)


def test_a_speech_to_text_slip_carries_the_threat_to_the_pattern_extractor():
    from tests.test_patterns import own_threats

    assert "regulator" in own_threats(normalize_text("你们再拖着不退钱我就去银保间投诉"))


def test_every_slip_has_one_character_changed_and_the_same_length():
    for name, sound_alikes in read_table()["names"].items():
        for slip in slips_of(name, sound_alikes):
            assert len(slip) == len(name)
            assert sum(a != b for a, b in zip(slip, name)) == 1


def test_a_table_without_names_is_refused(tmp_path: Path):
    broken = tmp_path / "homophones.yml"
    broken.write_text("values: [regulator]\nmin_chars: 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="names"):
        read_table(broken)


def test_the_table_is_made_from_the_current_lexicon():
    """A regulator's name added to data/nlu/lexicon.yml needs `make homophones`."""
    from deescalate.tools.homophones import main

    assert main(["--check"]) == 0


def test_the_tool_leaves_out_sound_alikes_that_make_an_everyday_word():
    from deescalate.tools.homophones import WordTest, sound_alikes, syllable_index

    index, is_word = syllable_index(), WordTest()
    per_char = sound_alikes("保监会", index, is_word)
    assert "间" in per_char[1] and "健" not in per_char[1]  # 保健 is a word, 保间 is not
    assert len(per_char) == 3
