"""The floor's custom action: a fixed text and no events, so that a turn of
the trivial-action floor bot costs Rasa's round trip to an action server and
nothing else. Served by `python -m rasa_sdk --actions actions` from this folder."""

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionFloor(Action):
    def name(self) -> Text:
        return "action_floor"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text="收到，我们马上为您处理。")
        return []
