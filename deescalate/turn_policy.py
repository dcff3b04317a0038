"""A dialogue policy for rules of one shape: a customer intent, then one action, then listen.

config.yml:

    policies:
      - name: deescalate.turn_policy.TurnRulePolicy

The product has one rule (data/rules.yml): every customer turn runs
action_assist, then the bot listens. Rasa's RulePolicy would follow it too,
but it builds the states of the whole conversation on every prediction, two
predictions a turn, so a turn costs more the longer the call. This policy
learns the same rule from data/rules.yml at training time (which intent
leads to which action) and predicts from the tracker's latest events only:

- after a listen, for the latest customer message: Rasa's default action
  for the intents `restart`, `back` and `session_start` (as RulePolicy
  does), else the action the rules give the intent;
- after that action: listen;
- anything else: no prediction (all zeros), on which Rasa listens, as it
  does when no rule of RulePolicy applies.

Training refuses rules of any other shape (conditions, slots, forms, several
actions after one message), so that a rule it cannot follow fails the
training instead of being ignored.
"""

import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction, SupportedData
from rasa.core.policies.rule_policy import DEFAULT_ACTION_MAPPINGS, InvalidRule
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, RULE_SNIPPET_ACTION_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

RULES_FILE = "turn_rules.json"
# Events a rule of our shape may hold besides the intent and the action.
_RULE_MARKERS = {ACTION_LISTEN_NAME, RULE_SNIPPET_ACTION_NAME}


def rule_pairs(tracker: DialogueStateTracker) -> Dict[str, str]:
    """intent -> action from one rule tracker; InvalidRule when the rule has another shape."""
    pairs: Dict[str, str] = {}
    intent: Optional[str] = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if intent is not None:
                raise InvalidRule(f"rule '{tracker.sender_id}': intent '{intent}' is not followed by an action")
            intent = event.intent_name
            if not intent:
                raise InvalidRule(f"rule '{tracker.sender_id}': a user step without an intent (text or entities)")
        elif isinstance(event, ActionExecuted):
            name = event.action_name or event.action_text
            if name in _RULE_MARKERS:
                continue
            if intent is None:
                raise InvalidRule(f"rule '{tracker.sender_id}': action '{name}' does not follow a user intent")
            pairs[intent] = name
            intent = None
        else:
            raise InvalidRule(
                f"rule '{tracker.sender_id}': a {event.type_name} step "
                "(only an intent followed by one action is followed)"
            )
    if intent is not None:
        raise InvalidRule(f"rule '{tracker.sender_id}': intent '{intent}' is not followed by an action")
    return pairs


def learn_rules(trackers: List[TrackerWithCachedStates]) -> Dict[str, str]:
    """intent -> action from the rule trackers; InvalidRule on contradicting rules."""
    rules: Dict[str, str] = {}
    for tracker in trackers:
        if not tracker.is_rule_tracker:
            continue
        for intent, action in rule_pairs(tracker).items():
            if rules.setdefault(intent, action) != action:
                raise InvalidRule(f"intent '{intent}' leads to both '{rules[intent]}' and '{action}'")
    return rules


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class TurnRulePolicy(Policy):
    """Follows rules `intent -> action -> listen`, looking only at the latest turn."""

    @staticmethod
    def supported_data() -> SupportedData:
        return SupportedData.RULE_DATA

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 6}  # RulePolicy's priority, which this policy stands in for

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        rules: Optional[Dict[str, str]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, **kwargs)
        self.rules: Dict[str, str] = dict(rules or {})
        self.rule_actions = frozenset(self.rules.values())

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        rules = learn_rules(training_trackers)
        unknown = sorted(action for action in set(rules.values()) if action not in domain.action_names_or_texts)
        if unknown:
            raise InvalidRule(f"rules name actions the domain does not have: {unknown}")
        self.rules, self.rule_actions = rules, frozenset(rules.values())
        with self._model_storage.write_to(self._resource) as path:
            (path / RULES_FILE).write_text(json.dumps(rules, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        logger.debug("%s learnt %d intents", self.__class__.__name__, len(rules))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TurnRulePolicy":
        with model_storage.read_from(resource) as path:
            rules = json.loads((path / RULES_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, execution_context, rules=rules)

    def next_action(self, tracker: DialogueStateTracker) -> Optional[str]:
        """The action the rules give for the tracker's latest turn, or None.

        Reads the tracker's latest action and latest message only, never its events."""
        latest = tracker.latest_action_name
        if latest == ACTION_LISTEN_NAME:
            intent = (tracker.latest_message.intent or {}).get(INTENT_NAME_KEY) if tracker.latest_message else None
            return (DEFAULT_ACTION_MAPPINGS.get(intent) or self.rules.get(intent)) if intent else None
        if latest in self.rule_actions:
            return ACTION_LISTEN_NAME
        return None

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = self.next_action(tracker)
        if action is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
