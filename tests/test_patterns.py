import pytest

from deescalate.nlu.patterns import find_pattern_entities, load_patterns

PATTERNS = load_patterns()


def values(text, entity):
    return {e["value"] for e in find_pattern_entities(text, PATTERNS) if e["entity"] == entity}


@pytest.mark.parametrize("text, value", [
    ("我们几十户一起来找你们要说法", "mass_incident"),
    ("我带着一起被骗的二十多个人过来", "mass_incident"),
    ("明天就拉横幅", "mass_incident"),
    ("我不想活了", "self_harm_or_violence"),
    ("我现在就打110", "police"),
    ("否则找律师", "legal"),
    ("发到网上让大家看看", "media"),
])
def test_phrasal_threats_get_their_canonical_value(text, value):
    assert value in values(text, "escalation")


@pytest.mark.parametrize("text, value", [
    ("叫你们负责人出来", "escalate_to_manager"),
    ("必须处理那个催收员", "staff_discipline"),
    ("我要求公开道歉", "apology"),
    ("这个损失你们来承担", "compensation"),
    ("不全部退还我就找消协", "full_refund"),
    ("你们立刻处理", "expedite"),
    ("那就注销吧", "cancel_product"),
    ("我要退保", "cancel_product"),
    ("干脆把这张卡注销了", "cancel_product"),
    ("帮我把保单解约", "cancel_product"),
    ("你们必须给个说法", "explanation"),
])
def test_demand_phrases(text, value):
    assert value in values(text, "demand")


@pytest.mark.parametrize("text", ["理赔什么时候到账", "我的卡早就注销了", "请问工作日几点开门",
                                  "退保只给我一半", "我不想退保", "问一下退保能退多少"])
def test_harmless_sentences_carry_no_demand(text):
    assert values(text, "demand") == set()
