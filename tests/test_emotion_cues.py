"""The written-emotion cues (deescalate/nlu/emotion_cues.yml) applied to a classifier ranking."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from deescalate.nlu.emotion import count_cues, has_own_threat, is_threat, load_cues, with_written_cues

CUES = load_cues()


def ranking(**scores):
    return sorted(scores.items(), key=lambda item: -item[1])


def best(text, threat=False, **scores):
    return with_written_cues(ranking(**scores), text, CUES, threat=threat)[0][0]


def test_every_family_names_an_emotion_of_the_contract_and_guesses_it_may_change():
    emotions = {"calm", "confused", "anxious", "angry", "furious"}
    for name, family in CUES["families"].items():
        assert family["emotion"] in emotions, name
        assert set(family["from"]) <= emotions, name
        assert family["emotion"] not in family["from"], name


@pytest.mark.parametrize(
    "text, family",
    [
        ("没经过我同意就私自开通了会员", "accusation"),
        ("要求退还多收的利息并赔礼道歉", "demand"),
        ("凭什么让我承担这个费用", "rhetoric"),
        ("到现在还没到账！！", "punctuation"),
        ("你们这种公司就是流氓", "insult"),
        ("三天内不退钱否则我就向银保监投诉", "conditional_threat"),
        ("失业半年了实在还不起，压力太大", "worry"),
    ],
)
def test_cue_families_find_their_wordings(text, family):
    assert count_cues(text, CUES)[family] >= 1


@pytest.mark.parametrize(
    "text, family",
    [
        ("有人盗用我的卡在外地刷了三笔", "accusation"),  # theft
        ("绑了一堆乱七八糟的增值业务", "accusation"),  # contempt for what was sold
        ("在没有任何通知的情况下就停了我的卡", "accusation"),  # done behind the customer's back
        ("事先没收到任何短信通知就扣了款", "accusation"),
        ("催收把我欠款的事泄露给了我的同事", "accusation"),  # the customer's data given away
        ("账单上有两笔不明扣费", "accusation"),  # a charge nobody explained
        ("请监管部门严惩这种放贷机构", "demand"),  # punishment
        ("希望对这个业务员依法处罚", "demand"),
        ("必须向我书面道歉", "demand"),  # an apology, a demand of the contract
        ("把多扣的年费给我退回来", "demand"),  # an imperative demand, not a formal one
        ("不用密码也能扣钱 那还设密码干什么", "rhetoric"),  # sarcasm
        ("没人通知我！扣款也没短信！客服也不管！", "punctuation"),  # exclamation after exclamation
        ("我都急哭了，这是我下个月的房租", "worry"),
        ("卡里的钱一下子全没了 吓死我了", "worry"),  # fear
        ("公司效益不好 工资一直没发 这期实在还不上", "worry"),
        ("手上没有钱了 利息又这么高", "worry"),
        ("这么高的利息我真的承受不起", "worry"),
    ],
)
def test_cue_families_find_how_real_written_complaints_put_it(text, family):
    assert count_cues(text, CUES)[family] >= 1


@pytest.mark.parametrize(
    "text",
    [
        "请问这张卡的年费是多少",
        "到现在还没有通知我审核结果，想问一下进度",  # a status question, nothing done behind a back
        "能不能帮我查一下这笔还款",
        "你好！我想办一张储蓄卡！",  # two exclamations are a greeting, not a tirade
        "上周多扣的钱已经退回来了",  # money returned is a report, not a demand
        "账单上还出来一笔费用 是什么",  # 还 as "also"
        "ATM没吐出来钱 卡也没退",
        "经理已经给我道歉了",  # an apology received
    ],
)
def test_calm_questions_carry_no_new_cue(text):
    counts = count_cues(text, CUES)
    assert not any(counts[f] for f in ("accusation", "demand", "rhetoric", "punctuation", "worry")), counts


def test_a_collector_who_intimidates_is_accused_not_feared():
    """恐吓人 holds 吓人, but it names what the collector does: an accusation, no worry."""
    counts = count_cues("催收员天天打电话恐吓人", CUES)
    assert counts["accusation"] >= 1 and counts["worry"] == 0


def test_a_calm_guess_with_accusation_and_demand_becomes_angry():
    text = "我根本不知情，你们私自扣费，要求全额退还"
    assert best(text, calm=0.6, angry=0.35, anxious=0.05) == "angry"


def test_a_plain_factual_report_stays_calm():
    assert best("借款一万分十二期，每期还九百元", calm=0.6, angry=0.35, anxious=0.05) == "calm"


def test_worry_about_money_and_family_turns_an_angry_guess_anxious():
    text = "没有收入了，家里上有老下有小，真的还不上，很怕上征信"
    assert best(text, angry=0.55, anxious=0.35, calm=0.1) == "anxious"


def test_an_insult_is_fury_whatever_the_words_around_it_read_like():
    assert best("这家公司就是流氓", angry=0.5, furious=0.4, calm=0.1) == "furious"
    # A short post of pure name-calling the classifier reads as calm is still fury.
    assert best("再见吧你们 操你大爷", calm=0.9, angry=0.05, furious=0.05) == "furious"


def test_profanity_that_intensifies_fear_leaves_worry_alone():
    assert best("半夜有人砸门 他妈的吓死我了", anxious=0.7, angry=0.2, furious=0.1) == "anxious"


@pytest.mark.parametrize(
    "text",
    [
        "厂里停工三个月了手头紧得很，这个月的分期实在凑不齐",
        "公司一直拖欠工资，房租都成问题了，求你们给条活路",
        "我现在没有收入来源，希望能理解一下我的难处",
    ],
)
def test_hardship_in_the_customers_own_words_turns_an_angry_guess_anxious(text):
    assert count_cues(text, CUES)["worry"] >= 1
    assert best(text, angry=0.55, anxious=0.35, calm=0.1) == "anxious"


def test_the_customers_own_threat_turns_anger_into_fury():
    text = "利息太高，要求降低"
    assert best(text, angry=0.6, furious=0.2, calm=0.2) != "furious"
    assert best(text, threat=True, angry=0.6, furious=0.2, calm=0.2) == "furious"


def test_a_threat_does_not_make_worry_furious():
    assert best("我很着急", threat=True, anxious=0.7, angry=0.2, furious=0.1) == "anxious"


def test_scores_stay_a_distribution():
    out = with_written_cues(ranking(calm=0.5, angry=0.4, anxious=0.1), "私自扣费！！", CUES, threat=True)
    assert abs(sum(score for _, score in out) - 1.0) < 1e-3
    assert [score for _, score in out] == sorted((score for _, score in out), reverse=True)


def test_an_empty_ranking_is_returned_as_it_is():
    assert with_written_cues([], "私自扣费", CUES) == []


def test_a_family_with_its_own_boost_weighs_each_cue_by_it():
    import re

    cues = {
        "boost": 0.1,
        "max_cues": 2,
        "families": {
            "worry": {"emotion": "anxious", "from": ["calm"], "boost": 0.3, "pattern": re.compile("担心")},
            "accusation": {"emotion": "angry", "from": ["calm"], "pattern": re.compile("骗")},
        },
    }
    ranking = [("calm", 0.5), ("anxious", 0.3), ("angry", 0.2)]
    scores = dict(with_written_cues(ranking, "担心担心担心，是不是骗人", cues))
    # anxious: 0.3 + 0.3 x 2 (three cues, at most two count); angry: 0.2 + 0.1 x 1
    total = 0.5 + 0.9 + 0.3
    assert scores == {"anxious": round(0.9 / total, 4), "calm": round(0.5 / total, 4), "angry": round(0.3 / total, 4)}


def test_name_calling_makes_fury_however_sure_the_classifier_is_of_anger():
    assert best("你们银行真是流氓，乱开业务", angry=0.85, furious=0.05, calm=0.1) == "furious"
    assert best("什么垃圾软件，还了钱也借不出来", angry=0.85, furious=0.05, calm=0.1) == "furious"


def test_an_insult_the_customer_reports_is_not_the_customers_fury():
    text = "催收在电话里骂我不要脸，要求处理这个催收员"
    assert count_cues(text, CUES)["insult"] == 0
    for reported in ("那个业务员当着别人面骂我是混蛋", "客服竟然说我们是流氓", "他骂我是个无耻的老赖"):
        assert count_cues(reported, CUES)["insult"] == 0, reported
    assert count_cues("你们就是个流氓公司", CUES)["insult"] == 1
    assert best(text, angry=0.85, furious=0.05, calm=0.1) == "angry"


def test_a_mother_is_no_insult():
    for calm in ("我是替他妈妈来问那张卡的", "你妈妈的保单号是多少", "群里其他妈妈也买了这个保险"):
        assert count_cues(calm, CUES)["insult"] == 0, calm
        assert best(calm, calm=0.9, angry=0.05, furious=0.05) == "calm"
    assert count_cues("真他妈的离谱", CUES)["insult"] == 1


def test_likening_the_company_to_criminals_leans_towards_fury_without_deciding_it():
    assert count_cues("你们催收跟黑社会一样", CUES)["likening"] == 1
    assert best("你们催收跟黑社会一样", angry=0.85, furious=0.05, calm=0.1) == "angry"
    assert best("你们催收跟黑社会一样", angry=0.5, furious=0.4, calm=0.1) == "furious"


def escalation(text, mention, value="legal"):
    start = text.index(mention)
    return {"entity": "escalation", "value": value, "start": start, "end": start + len(mention)}


@pytest.mark.parametrize(
    "text, mention, value",
    [
        ("再不退钱我就找律师起诉你们", "律师", "legal"),
        ("你们不处理我明天就去报警", "报警", "police"),
        ("我要向金融监管局投诉", "金融监管局", "regulator"),
        ("我已经活不下去了", "活不下去", "self_harm_or_violence"),
    ],
)
def test_a_step_the_customer_threatens_is_a_threat(text, mention, value):
    assert is_threat(text, escalation(text, mention, value), CUES["threat"])


@pytest.mark.parametrize(
    "text, mention, value",
    [
        ("利息太高，我已经咨询过律师了，要求结清", "律师", "legal"),
        ("我问了律师事务所，他们让我来这里反映", "律师事务所", "legal"),
        ("这件事已在消协投诉过，一直没有结果", "消协", "consumer_association"),
        ("我打过12378，说让我先找银行", "12378", "regulator"),
    ],
)
def test_a_step_already_taken_or_asked_about_is_no_threat(text, mention, value):
    assert not is_threat(text, escalation(text, mention, value), CUES["threat"])


def test_only_the_customers_threat_turns_a_message_furious():
    taken = Message(data={"text": "我已经咨询过律师了，要求结清", "entities": []})
    taken.set("entities", [escalation(taken.get("text"), "律师")])
    threat = Message(data={"text": "不退钱我就请律师起诉", "entities": []})
    threat.set("entities", [escalation(threat.get("text"), "律师")])
    assert not has_own_threat(taken, CUES["threat"])
    assert has_own_threat(threat, CUES["threat"])
    assert not has_own_threat(Message(data={"text": "利息太高"}), CUES["threat"])


@pytest.mark.parametrize(
    "text",
    ["不过我一定会起诉你们", "实在不得已只能起诉你们", "谈不拢就通过起诉解决", "利息超过上限我就起诉你们"],
)
def test_words_that_only_look_like_a_taken_step_keep_the_threat(text):
    assert is_threat(text, escalation(text, "起诉"), CUES["threat"])
