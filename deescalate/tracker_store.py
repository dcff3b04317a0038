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
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError

from deescalate.cases import CaseSettings, Conversation, default_settings, update_case
from deescalate.db.migrate import upgrade
from deescalate.db.models import Case
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


@dataclass
class StoredCase:
    """The stored events of one conversation, read once and kept deserialised."""

    last_id: int = 0
    rows: List[Tuple[float, str, Event]] = field(default_factory=list)  # timestamp, type, event
    dicts: List[Dict[str, Any]] = field(default_factory=list)          # the same, as stored

    def add(self, rows: List[Any]) -> None:
        for row in rows:
            self.add_one(row.id, row.timestamp, row.type_name, json.loads(row.data))

    def add_one(self, row_id: int, timestamp: float, type_name: str, data: Dict[str, Any]) -> None:
        event = Event.from_parameters(data)
        if event is not None:
            self.rows.append((timestamp, type_name, event))
            self.dicts.append(data)
        self.last_id = max(self.last_id, row_id)

    def session_events(self) -> List[Event]:
        """Events of the latest session, chosen the way SQLTrackerStore's query chooses them."""
        starts = [stamp for stamp, kind, _ in self.rows if kind == SessionStarted.type_name]
        if not starts:
            return [event for _, _, event in self.rows]
        start = max(starts)
        return [event for stamp, _, event in self.rows if stamp >= start]


class MaskingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that stores masked events and keeps case records."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        masker: Optional[Masker] = None,
        case_settings: Optional[CaseSettings] = None,
        cache_size: int = 512,
        **kwargs: Any,
    ) -> None:
        self.masker = masker or default_masker()
        self.cache_size = int(cache_size)
        self._cases: "OrderedDict[str, StoredCase]" = OrderedDict()
        install_log_masking(self.masker)
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
        self.case_settings = case_settings or default_settings()
        upgrade(self.engine.url.render_as_string(hide_password=False))

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The tracker of the latest session, reading only the events stored since the last turn.

        Rasa's SQLTrackerStore reads and deserialises every event of the case
        on every turn, so a turn costs more the longer the call. Here the
        deserialised events of recent cases are kept (least recently used go
        first); each turn reads only rows with a higher id, and the count of
        stored rows tells when another process deleted some (`make purge`),
        in which case the case is read again from the start.
        """
        with self.session_scope() as session:
            stored = self._cases.pop(sender_id, None) or StoredCase()
            count = (session.query(func.count(self.SQLEvent.id))
                     .filter(self.SQLEvent.sender_id == sender_id).scalar()) or 0
            if count < len(stored.rows):
                stored = StoredCase()
            stored.add(self._rows_after(session, sender_id, stored.last_id))
            if count != len(stored.rows):
                stored = StoredCase()
                stored.add(self._rows_after(session, sender_id, 0))
        if not stored.rows or not self.domain:
            return None
        self._remember(sender_id, stored)
        return DialogueStateTracker.from_events(sender_id, stored.session_events(), self.domain.slots)

    def _rows_after(self, session: Any, sender_id: Text, last_id: int) -> List[Any]:
        event = self.SQLEvent
        return (session.query(event.id, event.timestamp, event.type_name, event.data)
                .filter(event.sender_id == sender_id, event.id > last_id)
                .order_by(event.id).all())

    def _remember(self, sender_id: Text, stored: StoredCase) -> None:
        self._cases[sender_id] = stored
        while len(self._cases) > self.cache_size:
            self._cases.popitem(last=False)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the events Rasa has not stored yet, masked; then update the case."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            masked = [(event, mask_event(event.as_dict(), self.masker))
                      for event in self._additional_events(session, tracker)]
            rows = [self.SQLEvent(
                sender_id=tracker.sender_id,
                type_name=event.type_name,
                timestamp=data.get("timestamp"),
                intent_name=(data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
                action_name=data.get("name"),
                data=json.dumps(data),
            ) for event, data in masked]
            session.add_all(rows)
            session.flush()              # the row ids, for the kept copy of the case
            written = [(row.id, row.timestamp, row.type_name, data) for row, (_, data) in zip(rows, masked)]
            session.commit()
        if written:
            stored = self._cases.get(tracker.sender_id)
            for row in written:
                if stored is not None:
                    stored.add_one(*row)
            self._update_case(tracker, len(written), stored)

    def _update_case(self, tracker: DialogueStateTracker, new_count: int,
                     stored: Optional[StoredCase] = None) -> None:
        """Upsert the case record; a failure is logged and never loses the events.

        The events come from the kept copy of the case when there is one, so
        that a long call is not serialised again on every turn."""
        conversation = Conversation(
            case_id=tracker.sender_id,
            events=stored.dicts if stored is not None else [event.as_dict() for event in tracker.events],
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

    def case_row(self, case_id: Text) -> Optional[Case]:
        """The stored case row, detached from its session; None when there is none or it cannot be read."""
        with self.session_scope() as session:
            try:
                case = session.get(Case, case_id)
            except SQLAlchemyError as error:
                logger.error("Case record %s not read: %s", case_id, type(error).__name__)
                return None
            if case is not None:
                session.expunge(case)
            return case

    async def _stream_new_events(self, event_broker: EventBroker, new_events: List[Event],
                                 sender_id: Text) -> None:
        """Publish new events to the broker, masked like the stored ones."""
        for event in new_events:
            event_broker.publish({"sender_id": sender_id, **mask_event(event.as_dict(), self.masker)})
