"""The custom action that answers every customer turn with suggestions.

The knowledge base is loaded and schema-checked once, when the action server
imports this module: a broken scripts_kb/ edit stops start-up with the file
and key at fault instead of failing mid-call.
"""

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from deescalate.assist.engine import AssistEngine
from deescalate.assist.state import AssistSettings, CaseState
from deescalate.assist.voice import customer_messages, needs_handoff
from deescalate.kb import KB_DIR, load_kb
from deescalate.learning.figures import FiguresCache
from deescalate.learning.settings import LearningSettings

logger = logging.getLogger(__name__)

LEARNING = LearningSettings.from_yaml()
# The per-line figures come from the case database (DATABASE_URL) in the background
# (deescalate/learning/figures.py); without them suggestions rank by fit alone.
FIGURES = FiguresCache(LEARNING.ranking)
ENGINE = AssistEngine(load_kb(KB_DIR), AssistSettings.from_yaml(), figures=FIGURES.current, ranking=LEARNING.ranking)
CUSTOMER_CHANNELS = set(ENGINE.settings.customer_channels)
logger.info("Knowledge base loaded from %s: %s", KB_DIR, ENGINE.kb.size())


class ActionAssist(Action):
    """Analyses the latest customer turn and suggests what to say next."""

    def name(self) -> Text:
        return "action_assist"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        state = CaseState.from_slots(tracker.slots)
        result = ENGINE.turn(state, tracker.latest_message or {}, tracker.sender_id)
        dispatcher.utter_message(json_message={"assist": result.payload()})
        # Only changed slots: every event travels with the tracker on each later turn.
        events = [SlotSet(name, value) for name, value in result.slots().items() if tracker.slots.get(name) != value]
        if tracker.get_latest_input_channel() in CUSTOMER_CHANNELS:
            handoff = needs_handoff(result) or bool(tracker.get_slot("handoff"))
            for message in customer_messages(result, ENGINE.kb, handoff):
                dispatcher.utter_message(**message)
            events.append(SlotSet("handoff", handoff))
        return events
