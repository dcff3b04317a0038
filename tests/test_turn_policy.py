"""TurnRulePolicy: the rule of data/rules.yml, predicted as RulePolicy predicts it, from the latest turn only."""

from collections import deque
from pathlib import Path
from typing import List

import pytest
from rasa.core.policies.rule_policy import InvalidRule, RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from deescalate.tools.build import ROOT
from deescalate.turn_policy import TurnRulePolicy

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def rule_trackers(rules_yaml: Path, domain: Domain = DOMAIN):
    steps = YAMLStoryReader(domain).read_from_file(str(rules_yaml))
    return TrainingDataGenerator(StoryGraph(steps), domain, remove_duplicates=True, augmentation_factor=0).generate()


def trained(policy_class, tmp_path: Path, name: str, trackers, **config):
    (tmp_path / "storage").mkdir(exist_ok=True)
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource(name)
    context = ExecutionContext(GraphSchema({}), "test")
    policy = policy_class.create({**policy_class.get_default_config(), **config}, storage, resource, context)
    policy.train(trackers, DOMAIN)
    return policy_class.load({**policy_class.get_default_config(), **config}, storage, resource, context)


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("policies")
    trackers = rule_trackers(ROOT / "data" / "rules.yml")
    ours = trained(TurnRulePolicy, tmp, "turn", trackers)
    theirs = trained(RulePolicy, tmp, "rule", trackers, core_fallback_threshold=0.3, enable_fallback_prediction=False)
    return ours, theirs


def turn(text: str, intent: str) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.9})


def predicted(policy, tracker: DialogueStateTracker) -> str:
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    if max(prediction.probabilities) == 0:
        return "(none)"
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


def conversation() -> List[Event]:
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        turn("我要投诉", "mis_selling"),
        ActionExecuted("action_assist"),
        BotUttered(data={"custom": {"assist": {}}}),
        SlotSet("cause", "mis_selling"),
        ActionExecuted("action_listen"),
        turn("转人工", "request_human"),
        ActionExecuted("action_assist"),
        ActionExecuted("action_listen"),
        turn("看不懂", "nlu_fallback"),
        ActionExecuted("action_assist"),
        ActionExecuted("action_listen"),
        turn("/restart", "restart"),
        ActionExecuted("action_restart"),
        ActionExecuted("action_listen"),
        turn("/session_start", "session_start"),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        turn("/back", "back"),
        ActionExecuted("action_back"),
        ActionExecuted("action_listen"),
        turn("谢谢", "thank"),
        ActionExecuted("action_assist"),
        ActionExecuted("action_listen"),
    ]


def test_the_rule_is_learnt_from_the_data(policies):
    ours, _ = policies
    intents = set(DOMAIN.intents) - {"restart", "back", "session_start"}
    assert set(ours.rules) == intents | {"nlu_fallback"}
    assert set(ours.rules.values()) == {"action_assist"}


def test_every_step_is_predicted_as_rule_policy_predicts_it(policies):
    ours, theirs = policies
    tracker = DialogueStateTracker("case", DOMAIN.slots)
    compared = []
    for event in conversation():
        compared.append((predicted(ours, tracker), predicted(theirs, tracker)))
        tracker.update(event)
    assert [o for o, _ in compared] == [t for _, t in compared]
    assert {o for o, _ in compared} >= {
        "action_assist",
        "action_listen",
        "action_restart",
        "action_session_start",
        "action_back",
    }


class LatestOnly(deque):
    """Events that refuse to be read past the latest few: a policy that re-reads the case fails."""

    reads = 0

    def __iter__(self):
        raise AssertionError("the whole conversation was read")

    def __getitem__(self, index):
        LatestOnly.reads += 1
        if index < 0:
            index += len(self)
        assert index >= len(self) - 4, "an old event was read"
        return deque.__getitem__(self, index)


@pytest.mark.parametrize("last", ["user", "action_assist"])
def test_a_prediction_reads_the_latest_turn_only(policies, last):
    ours, _ = policies
    tracker = DialogueStateTracker("case-long", DOMAIN.slots)
    for index in range(500):
        for event in (
            ActionExecuted("action_listen"),
            turn(f"第{index}句", "provide_info"),
            ActionExecuted("action_assist"),
            SlotSet("turns", float(index)),
        ):
            tracker.update(event)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(turn("最后一句", "ask_status"))
    if last == "action_assist":
        tracker.update(ActionExecuted("action_assist"))
    tracker.events = LatestOnly(tracker.events)
    LatestOnly.reads = 0
    assert predicted(ours, tracker) == ("action_assist" if last == "user" else "action_listen")
    assert LatestOnly.reads == 0  # the tracker's latest action and message are enough


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text('version: "3.1"\nrules:\n' + text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "rule",
    [
        "- rule: two actions\n  steps:\n  - intent: greet\n  - action: action_assist\n  - action: action_assist\n",
        "- rule: a slot condition\n  condition:\n  - slot_was_set:\n    - cause: mis_selling\n"
        "  steps:\n  - intent: greet\n  - action: action_assist\n",
    ],
)
def test_a_rule_of_another_shape_fails_the_training(tmp_path, rule):
    with pytest.raises(InvalidRule):
        trained(TurnRulePolicy, tmp_path, "turn", rule_trackers(write_rules(tmp_path, rule)))


def test_contradicting_rules_fail_the_training(tmp_path):
    rules = (
        "- rule: a\n  steps:\n  - intent: greet\n  - action: action_assist\n"
        "- rule: b\n  steps:\n  - intent: greet\n  - action: action_listen\n"
    )
    with pytest.raises(InvalidRule):
        trained(TurnRulePolicy, tmp_path, "turn", rule_trackers(write_rules(tmp_path, rules)))
