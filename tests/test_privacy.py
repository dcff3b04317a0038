"""Masking of personal data (deescalate/privacy.py, privacy.yml).

Property tests generate phone numbers, resident IDs with valid check digits,
Luhn-valid card numbers, e-mail addresses and landlines in many notations
and surroundings, and prove that the masked text is exactly the surroundings
with a placeholder in place of the secret; amounts, dates and ordinary text
come through unchanged.
"""

import datetime as dt
import logging

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deescalate.privacy import Masker, install_log_masking
from tests.conftest import examples

MASKER = Masker()
EXAMPLES = settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])

PROVINCES = [
    11,
    12,
    13,
    14,
    15,
    21,
    22,
    23,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    41,
    42,
    43,
    44,
    45,
    46,
    50,
    51,
    52,
    53,
    54,
    61,
    62,
    63,
    64,
    65,
]
SPOKEN = {
    "0": "零〇",
    "1": "一幺",
    "2": "二",
    "3": "三",
    "4": "四",
    "5": "五",
    "6": "六",
    "7": "七",
    "8": "八",
    "9": "九",
}
DIGIT_CHARS = set("0123456789０１２３４５６７８９零〇○一幺二三四五六七八九两")


# ---------------------------------------------------------------- independent checks


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2, written out independently of the code under test."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    remainder = sum(int(d) * w for d, w in zip(first17, weights)) % 11
    return "10X98765432"[remainder]


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


def is_valid_id(digits: str) -> bool:
    if len(digits) != 18 or int(digits[:2]) not in PROVINCES + [71, 81, 82, 83, 91]:
        return False
    try:
        born = dt.date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    return born.year >= 1900 and born <= dt.date.today() and id_check_digit(digits[:17]) == digits[17]


# ---------------------------------------------------------------- notations


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def digit_groups(draw, digits: str, groupings):
    """`digits` split into groups, each written in ASCII, full-width or spoken digits."""
    sizes = draw(st.sampled_from(groupings))
    groups, start = [], 0
    for size in sizes:
        if start < len(digits):
            groups.append(digits[start : start + size])
        start += size
    if start < len(digits):
        groups.append(digits[start:])
    separator = draw(st.sampled_from(["", " ", "-", " - ", "\u3000", "－"]))
    written = []
    for group in groups:
        style = draw(st.sampled_from(["ascii", "ascii", "wide", "spoken"]))
        if style == "wide":
            group = full_width(group)
        elif style == "spoken":
            group = "".join(draw(st.sampled_from(list(SPOKEN[c]))) if c in SPOKEN else c for c in group)
        written.append(group)
    if separator == "" and draw(st.booleans()) and all(c in "零〇一幺二三四五六七八九" for g in written for c in g):
        separator = "，"  # speech-to-text commas between spoken groups
    return separator.join(written)


mobile_digits = st.builds(
    lambda second, rest: "1" + str(second) + rest, st.integers(3, 9), st.text("0123456789", min_size=9, max_size=9)
)


@st.composite
def mobiles(draw):
    digits = draw(mobile_digits)
    written = draw(digit_groups(digits, [(11,), (3, 4, 4), (3, 8), (3, 3, 5), (4, 3, 4)]))
    prefix = draw(
        st.sampled_from(["", "", "+86", "+86 ", "+86-", "86 ", "0086 ", "(+86)", "（+86）", "(86) ", "＋８６ "])
    )
    return prefix + written, digits


@st.composite
def resident_ids(draw):
    born = draw(st.dates(dt.date(1920, 1, 1), dt.date(2015, 12, 31)))
    first17 = (
        str(draw(st.sampled_from(PROVINCES)))
        + draw(st.text("0123456789", min_size=4, max_size=4))
        + born.strftime("%Y%m%d")
        + draw(st.text("0123456789", min_size=3, max_size=3))
    )
    digits = first17 + id_check_digit(first17)
    written = draw(digit_groups(digits, [(18,), (6, 8, 4), (6, 4, 4, 4)]))
    if draw(st.booleans()):
        written = written.replace("X", "x")
    return written, digits


@st.composite
def old_resident_ids(draw):
    born = draw(st.dates(dt.date(1920, 1, 1), dt.date(1999, 12, 31)))
    digits = (
        str(draw(st.sampled_from(PROVINCES)))
        + draw(st.text("0123456789", min_size=4, max_size=4))
        + born.strftime("%y%m%d")
        + draw(st.text("0123456789", min_size=3, max_size=3))
    )
    return draw(digit_groups(digits, [(15,), (6, 6, 3)])), digits


@st.composite
def bank_cards(draw):
    length = draw(st.integers(16, 19))
    start = draw(st.sampled_from(["62", "4", "5", "3", "60"]))
    body = start + draw(st.text("0123456789", min_size=length - 1 - len(start), max_size=length - 1 - len(start)))
    digits = body + luhn_check_digit(body)
    written = draw(digit_groups(digits, [(length,), (4, 4, 4, 4, 4), (6, length - 6)]))
    return written, digits


@st.composite
def landlines(draw):
    area = draw(st.sampled_from(["010", "020", "021", "0571", "0755", "0731"]))
    number = str(draw(st.integers(2, 8))) + draw(st.text("0123456789", min_size=6, max_size=7))
    form = draw(st.sampled_from(["{a}-{n}", "{a}{n}", "({a}){n}", "（{a}）{n}", "{a} {n}", "({a}) {h}-{t}"]))
    written = form.format(a=area, n=number, h=number[:-4], t=number[-4:])
    if draw(st.booleans()):
        written = full_width(written)
    return written, area + number


@st.composite
def emails(draw):
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    local = draw(st.text(alnum, min_size=1, max_size=3)) + draw(st.text(alnum + "._-", max_size=12))
    local = local.rstrip("._-") or "a"
    domain = draw(
        st.sampled_from(["qq.com", "163.com", "126.com", "gmail.com", "icbc.com.cn", "mail.example.org", "sina.cn"])
    )
    at = draw(st.sampled_from(["@", "@", "＠"]))
    address = f"{local}{at}{domain}"
    if draw(st.booleans()):
        address = address.upper() if draw(st.booleans()) else address.capitalize()
    return address


# ---------------------------------------------------------------- surroundings

PHRASES = [
    "你好",
    "我要投诉",
    "柜员当时跟我说这是存款",
    "保险根本没有用",
    "到现在还没有人回电话",
    "我在网点排了很久的队",
    "ATM 机把我的卡吞了",
    "APP 上查不到",
    "我是 VIP 客户",
    "麻烦你们尽快处理",
    "我母亲年纪大了不懂这些",
    "地铁又晚点了",
    "你们经理在哪里",
    "理赔被拒了",
    "催收电话打到我单位",
    "请记一下",
    "谢谢",
    "我的联系方式",
    "微信同号",
    "打12378投诉",
    "客服热线95588一直占线",
    "坐2号线",
    "三个工作日",
    "等了四十分钟",
]
AMOUNTS = st.one_of(
    st.integers(1, 10**7).map(lambda n: f"{n}元"),
    st.integers(1, 10**6).map(lambda n: f"{n}块"),
    st.integers(1, 10**5).map(lambda n: f"{n:,}元"),
    st.sampled_from(["两万块", "一万二千元", "五千块钱", "1万2", "3.5万元", "一百二十万", "1.5w", "两千五"]),
)
DATES = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).flatmap(
    lambda d: st.sampled_from(
        [
            f"{d.year}年{d.month}月{d.day}日",
            f"{d:%Y-%m-%d}",
            f"{d.year}/{d.month}/{d.day}",
            f"{d.month}月{d.day}号",
            f"{d:%Y.%m.%d}",
            f"{d:%Y%m%d}",
        ]
    )
)
TIMES = st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
CJK = st.text(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5).filter(lambda c: c not in DIGIT_CHARS),
    min_size=1,
    max_size=8,
)
# A boundary ends or starts the text next to a secret: never a digit.
BOUNDARY = st.one_of(st.sampled_from(PHRASES[:19]), CJK, AMOUNTS, DATES.filter(lambda d: d.endswith(("日", "号"))))
FRAGMENT = st.one_of(st.sampled_from(PHRASES), CJK, AMOUNTS, DATES, TIMES)
JOINERS = st.sampled_from(["，", "。", "、", "的", "了", "是", "：", "！", "？", "\n"])


@st.composite
def ordinary_text(draw, max_fragments: int = 6):
    fragments = draw(st.lists(FRAGMENT, min_size=1, max_size=max_fragments))
    return "".join(f + draw(JOINERS) for f in fragments[:-1]) + fragments[-1]


@st.composite
def surroundings(draw):
    before = draw(st.one_of(st.just(""), ordinary_text(3).map(lambda t: t + draw(JOINERS))))
    before += draw(BOUNDARY)
    after = draw(BOUNDARY) + draw(st.one_of(st.just(""), ordinary_text(3).map(lambda t: draw(JOINERS) + t)))
    left = draw(st.sampled_from(["", " ", "：", "是", "，"]))
    right = draw(st.sampled_from(["", " ", "，", "。"]))
    # A digit written right against a number makes it another number
    # ("13800138000" + "1元" is twelve digits): nobody could say where it ends
    # (numbers are also written in space-separated groups, and an e-mail's
    # local part takes any ASCII letter or digit before it).
    assume(left.strip() or not joins_a_number(before[-1:]))
    assume(right.strip() or not joins_a_number(after[:1]))
    return before + left, right + after


def joins_a_number(character: str) -> bool:
    """Could this character continue a number or an address written next to it?"""
    return bool(character) and (
        character.isdigit()
        or (character.isascii() and character.isalnum())
        or any(character in spoken for spoken in SPOKEN.values())
        or character in MASKER.settings.spoken_units + MASKER.settings.spoken_units_after
    )


def assert_masked(secret_text: str, placeholder, around) -> None:
    before, after = around
    text = before + secret_text + after
    masked = MASKER.mask(text)
    placeholders = placeholder if isinstance(placeholder, tuple) else (placeholder,)
    assert masked in {before + p + after for p in placeholders}, (text, masked)
    assert MASKER.mask(masked) == masked  # idempotent: placeholders are never masked again


# ---------------------------------------------------------------- properties


@EXAMPLES
@given(mobiles(), surroundings())
def test_mobile_numbers_never_survive(mobile, around):
    written, digits = mobile
    assert_masked(written, f"【手机号****{digits[-4:]}】", around)


@EXAMPLES
@given(resident_ids(), surroundings())
def test_resident_ids_with_check_digit_never_survive(resident_id, around):
    written, _ = resident_id
    assert_masked(written, "【身份证号】", around)


@EXAMPLES
@given(old_resident_ids(), surroundings())
def test_fifteen_digit_resident_ids_never_survive(resident_id, around):
    written, _ = resident_id
    assert_masked(written, "【身份证号】", around)


@EXAMPLES
@given(bank_cards(), surroundings())
def test_luhn_valid_card_numbers_never_survive(card, around):
    written, digits = card
    expected = f"【银行卡****{digits[-4:]}】"
    # An 18-digit number that is both Luhn-valid and a valid resident ID is masked as an ID.
    assert_masked(written, (expected, "【身份证号】") if is_valid_id(digits) else expected, around)


@EXAMPLES
@given(landlines(), surroundings())
def test_landlines_never_survive(landline, around):
    written, digits = landline
    assert_masked(written, f"【座机号****{digits[-4:]}】", around)


@EXAMPLES
@given(emails(), surroundings())
def test_email_addresses_never_survive(address, around):
    assert_masked(address, "【邮箱】", around)


@EXAMPLES
@given(ordinary_text(8))
def test_amounts_dates_and_ordinary_text_survive(text):
    assert MASKER.mask(text) == text


@EXAMPLES
@given(
    st.lists(st.one_of(mobiles(), resident_ids(), bank_cards()), min_size=1, max_size=4),
    st.lists(BOUNDARY, min_size=5, max_size=5),
)
def test_several_secrets_in_one_text_all_go_and_words_keep_their_place(secrets, words):
    parts, word_spans = [], []
    position = 0
    for (written, _), word in zip(secrets, words):
        word_spans.append((position, position + len(word), word))
        parts.extend([word, "，", written, "，"])
        position += len(word) + 1 + len(written) + 1
    word_spans.append((position, position + len(words[-1]), words[-1]))
    parts.append(words[-1])
    text = "".join(parts)
    result = MASKER.mask_with_spans(text)
    assert len(result.findings) == len(secrets)
    for written, _digits in secrets:
        assert written not in result.text
    for start, end, word in word_spans:  # offsets move with the masking (entity spans stay right)
        new_start, new_end = result.span(start, end)
        assert result.text[new_start:new_end] == word


# ---------------------------------------------------------------- examples


@pytest.mark.parametrize(
    "text, expected",
    [
        ("我的电话是13812345678，快回电", "我的电话是【手机号****5678】，快回电"),
        ("打 +86 138 1234 5678 找我", "打 【手机号****5678】 找我"),
        ("手机一三八一二三四五六七八", "手机【手机号****5678】"),
        ("幺三八，幺二三四，五六七八", "【手机号****5678】"),
        ("１３８１２３４５６７８", "【手机号****5678】"),
        ("座机010-87654321转分机", "座机【座机号****4321】转分机"),
        ("身份证号码：11010519491231002X", "身份证号码：【身份证号】"),
        ("老身份证110105491231002也行", "老身份证【身份证号】也行"),
        ("卡号 6222 0202 0000 1234 567，扣了两万块", "卡号 【银行卡****4567】，扣了两万块"),
        ("邮箱是 zhang_san88@163.com 。", "邮箱是 【邮箱】 。"),
        ("保单号是P20230018，去年三月办的", "保单号是【保单号】，去年三月办的"),
        ("保单号码：GZ-2019-8865301", "保单号码：【保单号】"),
        ("账号 6217 0000 1111 2222 3", "账号 【账号****2223】"),
    ],
)
def test_typical_utterances(text, expected):
    assert MASKER.mask(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "我借了两万块，月供3000元，2024-03-15扣的款",
        "打12378投诉，或者95588、400-820-8820",
        "一共20000元，分12期，每期1666.67元",
        "保单号是多少我忘了",
        "账户里少了20000元",
        "我2019年买的，一共交了5年，每年1万2",
        "订单 1234567890123456 扣款失败",  # 16 digits, not Luhn-valid, no card keyword
        "编号110105194912310021",  # 18 digits with a wrong check digit and no ID keyword
    ],
)
def test_numbers_that_are_not_personal_data_are_kept(text):
    assert MASKER.mask(text) == text


def test_an_id_with_a_wrong_check_digit_is_still_masked_after_the_word_id():
    assert MASKER.mask("身份证110105194912310021") == "身份证【身份证号】"


def test_numbers_that_look_like_personal_data_are_recognised_as_values():
    assert MASKER.is_personal_number(13812345678)
    assert MASKER.is_personal_number(13812345678.0)
    assert not MASKER.is_personal_number(20000)
    assert not MASKER.is_personal_number(True)
    assert MASKER.mask_value(
        {"amount": 13812345678, "intent": {"name": "provide_info"}, "value": "电话13812345678"}
    ) == {"amount": None, "intent": {"name": "provide_info"}, "value": "电话【手机号****5678】"}


def test_log_records_are_masked_when_they_are_created():
    install_log_masking(MASKER)
    seen = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("deescalate.test_privacy")
    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("Received user message '%s'", "我的卡号6222020200001234567丢了")
        logger.info("plain line with %d yuan", 20000)
    finally:
        logger.removeHandler(handler)
    assert seen == ["Received user message '我的卡号【银行卡****4567】丢了'", "plain line with 20000 yuan"]


def test_spoken_digits_with_units_are_an_amount_not_part_of_a_number():
    text = "身份证142336 19740407 二零八四，一万二千元"
    result = MASKER.mask_with_spans(text)
    assert result.text == "身份证【身份证号】，一万二千元"
    assert MASKER.mask("电话一三八，零零一三，八零零零") == "电话【手机号****8000】"
