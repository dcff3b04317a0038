"""Rasa's SQL tracker store with personal data masked before it is written.

endpoints.yml:

    tracker_store:
      type: deescalate.tracker_store.MaskingSQLTrackerStore
      dialect: ${DATABASE_DIALECT}
      url: ${DATABASE_URL}

Rasa builds custom tracker stores with `host=url` and the other keys as
keyword arguments, exactly as it builds its own SQLTrackerStore. The NLU and
the custom action have already worked on the raw words in memory; `save`
writes the new events with the text of customer and agent turns, entity
values, slot values and the assist answer masked (deescalate/privacy.py),
then brings the case record up to date (deescalate/cases.py). Events sent to
an event broker are masked the same way, and every log record of the
process is masked when it is created.
"""
import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.exc import SQLAlchemyError

from deescalate.cases import CaseSettings, Conversation, default_settings, update_case
from deescalate.db.migrate import upgrade
from deescalate.privacy import Masker, default_masker, install_log_masking

logger = logging.getLogger(__name__)

# Events whose data can hold what a person said or typed.
_TEXT_EVENTS = {"user", "bot", "slot", "entities", "action"}


def mask_event(data: Dict[str, Any], masker: Masker) -> Dict[str, Any]:
    """A copy of one serialised event with its personal data masked.

    Entity offsets are moved to the masked text so they still point at their
    words (an entity inside a masked number covers its placeholder).
    """
    if data.get("event") not in _TEXT_EVENTS:
        return data
    masked = masker.mask_value(data)
    parse = data.get("parse_data")
    if isinstance(parse, dict) and isinstance(parse.get("text"), str):
        spans = masker.mask_with_spans(parse["text"])
        entities = masked["parse_data"].get("entities") or []
        for original, entity in zip(parse.get("entities") or [], entities):
            if isinstance(original.get("start"), int) and isinstance(original.get("end"), int):
                entity["start"], entity["end"] = spans.span(original["start"], original["end"])
    return masked


class MaskingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that stores masked events and keeps case records."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        masker: Optional[Masker] = None,
        case_settings: Optional[CaseSettings] = None,
        **kwargs: Any,
    ) -> None:
        self.masker = masker or default_masker()
        install_log_masking(self.masker)
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
        self.case_settings = case_settings or default_settings()
        upgrade(self.engine.url.render_as_string(hide_password=False))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the events Rasa has not stored yet, masked; then update the case."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            new_events: List[Event] = list(self._additional_events(session, tracker))
            for event in new_events:
                data = mask_event(event.as_dict(), self.masker)
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=(data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                ))
            session.commit()
        if new_events:
            self._update_case(tracker, len(new_events))

    def _update_case(self, tracker: DialogueStateTracker, new_count: int) -> None:
        """Upsert the case record; a failure is logged and never loses the events."""
        conversation = Conversation(
            case_id=tracker.sender_id,
            events=[event.as_dict() for event in tracker.events],
            new_count=new_count,
            slots=self.masker.mask_value(tracker.current_slot_values()),
        )
        with self.session_scope() as session:
            try:
                update_case(session, conversation, settings=self.case_settings)
                session.commit()
            except SQLAlchemyError as error:
                session.rollback()
                logger.error("Case record %s not updated: %s", tracker.sender_id, type(error).__name__)

    async def _stream_new_events(self, event_broker: EventBroker, new_events: List[Event],
                                 sender_id: Text) -> None:
        """Publish new events to the broker, masked like the stored ones."""
        for event in new_events:
            event_broker.publish({"sender_id": sender_id, **mask_event(event.as_dict(), self.masker)})
