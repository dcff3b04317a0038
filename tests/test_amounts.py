import pytest

from deescalate.nlu.amounts import find_amounts, parse_amount


@pytest.mark.parametrize(
    "text, value",
    [
        ("两万块", 20000),
        ("5千", 5000),
        ("一百二十万", 1200000),
        ("3000元", 3000),
        ("两千五", 2500),
        ("1万2", 12000),
        ("1.5w", 15000),
        ("1,200元", 1200),
        ("五百多块", 500),
        ("八万六", 86000),
        ("10万", 100000),
        ("两百块钱", 200),
    ],
)
def test_parse_amount(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "打12378投诉",
        "坐2号线",
        "等了三个工作日",
        "十几分钟",
        "排了一百多人",
        "第二个方案",
        "退费一直没到",
        "赔一半也行",
        "金额一下子少了",
        "交一次就够",
    ],
)
def test_numbers_that_are_not_money_are_ignored(text):
    assert find_amounts(text) == []


def test_find_amounts_gives_spans_and_values():
    text = "交了两万块保费，退保只给5千"
    found = find_amounts(text)
    assert [(text[e["start"] : e["end"]], e["value"]) for e in found] == [("两万块", 20000), ("5千", 5000)]


def test_parse_amount_rejects_non_numbers():
    assert parse_amount("块钱") is None
    assert parse_amount("") is None


@pytest.mark.parametrize(
    "text, value",
    [
        ("年费照扣四百八", 480),
        ("要二十五工本费", 25),
        ("说我欠你们六百五", 650),
        ("扣了200", 200),
        ("莫名其妙多了一笔980的扣款", 980),
        ("总额一共两千", 2000),
        ("亏一半就是五万", 50000),
    ],
)
def test_bare_numbers_after_a_money_word_are_amounts(text, value):
    assert [e["value"] for e in find_amounts(text)] == [value]


@pytest.mark.parametrize("text", ["保单号是P2020000456", "卡号尾号1234", "订单TS2024000001"])
def test_digits_inside_an_id_are_not_amounts(text):
    assert find_amounts(text) == []
