import pytest

from deescalate.nlu.patterns import find_pattern_entities, load_patterns

PATTERNS = load_patterns()


def values(text, entity):
    return {e["value"] for e in find_pattern_entities(text, PATTERNS) if e["entity"] == entity}


@pytest.mark.parametrize(
    "text, value",
    [
        ("我们几十户一起来找你们要说法", "mass_incident"),
        ("我带着一起被骗的二十多个人过来", "mass_incident"),
        ("明天就拉横幅", "mass_incident"),
        ("我不想活了", "self_harm_or_violence"),
        ("我现在就打110", "police"),
        ("否则找律师", "legal"),
        ("发到网上让大家看看", "media"),
    ],
)
def test_phrasal_threats_get_their_canonical_value(text, value):
    assert value in values(text, "escalation")


@pytest.mark.parametrize(
    "text, value",
    [
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
        ("你们经理呢 叫他来跟我说", "escalate_to_manager"),
        ("车延误了害我迟到扣了全勤奖谁来赔", "compensation"),
        ("我就问一句这钱到底退不退", "full_refund"),
    ],
)
def test_demand_phrases(text, value):
    assert value in values(text, "demand")


@pytest.mark.parametrize(
    "text",
    [
        "理赔什么时候到账",
        "我的卡早就注销了",
        "请问工作日几点开门",
        "退保只给我一半",
        "我不想退保",
        "问一下退保能退多少",
    ],
)
def test_harmless_sentences_carry_no_demand(text):
    assert values(text, "demand") == set()


# ---------------------------------------------------------------- whose threat it is

from deescalate.nlu.patterns import is_own_threat, load_threat_filter  # noqa: E402

THREAT_FILTER = load_threat_filter()


def own_threats(text):
    return {
        e["value"]
        for e in find_pattern_entities(text, PATTERNS)
        if e["entity"] == "escalation" and is_own_threat(text, e, THREAT_FILTER)
    }


@pytest.mark.parametrize(
    "text, value",
    [
        ("这周末我们几个受骗的组团去你们总部讨说法", "mass_incident"),
        ("我已经拉了个维权群，到时候大家一起上门", "mass_incident"),
        ("后天我叫上全小区的人一块过来", "mass_incident"),
        ("我们楼里十几户都让你们坑了 下礼拜我们一块儿去你们支行", "mass_incident"),
        ("约好了下周大家一起去总行讨个说法", "mass_incident"),
        ("不给解决我就把录音传到B站上", "media"),
        ("我会把这事拍成视频发到快手", "media"),
        ("再拖下去我就拿着菜刀上门", "self_harm_or_violence"),
        ("逼急了我就砸了你们的柜台", "self_harm_or_violence"),
        ("我明天就去交通委反映", "regulator"),
        ("我现在就打12328", "regulator"),
        ("不处理我就去地方金融监管局投诉", "regulator"),
        ("实在不行我就申请法律援助", "legal"),
        ("你们要是不退钱我就去银保监会投诉", "regulator"),
        ("年费不退的话我只好向银监会反映", "regulator"),
        ("这个利率我已经问过律师了，属于违规", "legal"),
        ("我咨询了律师他们说这笔服务费可以要回来", "legal"),
        ("协商不了那就只能通过法律程序解决了", "legal"),
        ("我已经去法院起诉了，下周开庭", "legal"),
        ("不退钱我们就法院见", "legal"),
        ("这件事我已经在网上发了帖子 下面好多人留言", "media"),
    ],
)
def test_paraphrased_threats_of_the_customer_are_caught(text, value):
    assert value in own_threats(text)


@pytest.mark.parametrize(
    "text",
    [
        "这个小家电是我刷抖音看到广告下单的",
        "我和我爱人明天一起去网点把卡销了",
        "我是看到有人在网上发帖说能退才来问的",
        "二十多家网点都去问过了没人说得清",
        "催收员威胁说要把我欠钱的事曝光到网上",
        "他们发律师函给我家人",
        "平台已经起诉我了，我想协商还款",
        "法院冻结了我的工资卡",
        "人民银行规定了贷款利率上限",
        "车险出险后我打客服报案，到现在没人来定损",
        "对方全责，当时报警后交警开了事故认定书",
        "恳请法院考虑我的实际困难，先解冻工资卡",
        "他们说要起诉我全家",
        "没想到法院起诉了，传票寄到了老家",
        "后来法院判了我连本带息还清",
        "他们直接把我告到了法院",
        "依照最高人民法院对民间借贷利率的司法解释，这个利率早就超标了",
        "根据银保监会的文件这种费用不能收",
    ],
)
def test_what_others_did_or_a_purchase_channel_is_no_threat_of_the_customer(text):
    assert own_threats(text) == set()


def test_a_number_inside_a_longer_number_is_no_police_call():
    def mention(text):
        start = text.index("110")
        return {"entity": "escalation", "value": "police", "start": start, "end": start + 3}

    assert not is_own_threat("上个月还款1108元", mention("上个月还款1108元"), THREAT_FILTER)
    assert is_own_threat("再不退我就打110", mention("再不退我就打110"), THREAT_FILTER)


@pytest.mark.parametrize(
    "text, value",
    [
        ("催收员天天打电话威胁我说要去单位找我领导我实在受不了了你们再不管我就打银保监的电话投诉", "regulator"),
        ("他们恐吓我家里人好几回了我跟你说要是今天还不给我处理我明天就去派出所报警", "police"),
        ("你们的人声称逾期就上门我现在明确告诉你们我会把这些录音全部发到抖音上", "media"),
    ],
)
def test_in_unpunctuated_speech_another_partys_act_far_away_leaves_the_customers_threat(text, value):
    """Speech-to-text gives no clause boundary: the words that disown a threat must sit near it."""
    assert value in own_threats(text)


@pytest.mark.parametrize(
    "text, value",
    [
        ("催收的在电话里威胁我不让我报警说报了也没用", "police"),
        ("他们恐吓我不许我去银保监会投诉", "regulator"),
        ("对方在微信里吓唬我还威胁我 不让我再去打监管电话", "regulator"),
    ],
)
def test_a_step_someone_stops_the_customer_from_taking_is_the_customers_own(text, value):
    """Speech-to-text joins the other party's threat and the customer's step into one clause."""
    assert value in own_threats(text)


def test_in_unpunctuated_speech_another_partys_threat_near_the_mention_is_still_theirs():
    assert own_threats("催收员打电话威胁说要去银保监会告我骗贷") == set()
    assert own_threats("他们扬言要把我的照片发到抖音上") == set()


@pytest.mark.parametrize(
    "spoken, value",
    [
        ("你们再拖着不办我就打幺二三七八", "regulator"),
        ("再这样我就打幺幺零了", "police"),
        ("我要打一二三一五", "consumer_association"),
    ],
)
def test_a_number_speech_to_text_spells_out_is_the_same_threat(spoken, value):
    """The NLU normalises 幺二三七八 to 12378 before any extractor reads it."""
    from deescalate.textnorm import normalize_text

    assert value in own_threats(normalize_text(spoken))
