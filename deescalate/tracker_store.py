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

Rasa is given the conversation without the assist answers (they stay in the
stored rows), and a save writes the new events without counting the stored
ones in the database: see docs/performance.md.
"""

import itertools
import json
import logging
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Set, Text, Tuple

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from deescalate.cases import CaseSettings, Conversation, default_settings, update_case
from deescalate.db.migrate import upgrade
from deescalate.db.models import Case
from deescalate.db.session import sqlite_tracker_engine
from deescalate.privacy import Masker, default_masker, install_log_masking
from deescalate.rasa_seams import install as install_rasa_seams
from deescalate.stored_case import DEFAULT_TAIL, StoredCase, lean_event  # noqa: F401 (lean_event: part of this module's API)

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


# The number of a tracker's events that are stored, set on trackers this store
# gives out and saves (Rasa builds every tracker of a turn through the store).
STORED_COUNT = "deescalate_stored_events"


class MaskingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that stores masked events and keeps case records."""

    engine: Engine  # Rasa's store makes it; on SQLite it is replaced (sqlite_tracker_engine)

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        masker: Optional[Masker] = None,
        case_settings: Optional[CaseSettings] = None,
        cache_size: int = 512,
        tail_events: int = DEFAULT_TAIL,
        **kwargs: Any,
    ) -> None:
        self.masker = masker or default_masker()
        self.cache_size = int(cache_size)
        self.tail_events = int(tail_events)
        self._cases: "OrderedDict[str, StoredCase]" = OrderedDict()
        self._recount: Set[str] = set()  # cases whose row missed a save's turns
        install_log_masking(self.masker)
        install_rasa_seams()  # built with the agent, before any turn: deescalate/rasa_seams.py
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self.engine.dispose()
            self.engine = sqlite_tracker_engine(self.engine.url)
            self.sessionmaker = sessionmaker(bind=self.engine)
        self.case_settings = case_settings or default_settings()
        upgrade(self.engine.url.render_as_string(hide_password=False))

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The tracker of the latest session, reading only the events stored since the last turn.

        Rasa's SQLTrackerStore reads, deserialises and replays every event of
        the case on every turn, so a turn costs more the longer the call.
        Here recent cases are kept (least recently used go first); each turn
        reads only rows with a higher id, and the count of stored rows tells
        when another process deleted some (`make purge`), in which case the
        case is read again from the start. The tracker holds the session's
        state and its latest events (deescalate/stored_case.py); bot events
        come without the assist answer they carry. `retrieve_full_tracker`
        (Rasa's tracker API) still reads every stored event.
        """
        stored = self._refreshed(sender_id)
        if not stored.dicts or not self.domain:
            return None
        tracker = DialogueStateTracker.from_events(sender_id, stored.rasa_events(), self.domain.slots)
        setattr(tracker, STORED_COUNT, len(tracker.events))
        return tracker

    async def stored_events(self, sender_id: Text) -> List[Dict[str, Any]]:
        """The latest session's events as stored (masked), assist answers included."""
        return self._refreshed(sender_id).session_dicts()

    def _new_case(self, sender_id: Text) -> StoredCase:
        return StoredCase(sender_id, list(self.domain.slots) if self.domain else [], self.tail_events)

    def _refreshed(self, sender_id: Text) -> StoredCase:
        """The kept copy of a case brought up to date with the database (and kept)."""
        with self.session_scope() as session:
            stored = self._cases.pop(sender_id, None) or self._new_case(sender_id)
            count = (
                session.query(func.count(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == sender_id).scalar()
            ) or 0
            if count < stored.row_count:
                stored = self._new_case(sender_id)
            stored.add(self._rows_after(session, sender_id, stored.last_id))
            if count != stored.row_count:
                stored = self._new_case(sender_id)
                stored.add(self._rows_after(session, sender_id, 0))
        if stored.row_count:
            self._remember(sender_id, stored)
        return stored

    def _rows_after(self, session: Any, sender_id: Text, last_id: int) -> List[Any]:
        event = self.SQLEvent
        return (
            session.query(event.id, event.timestamp, event.type_name, event.data)
            .filter(event.sender_id == sender_id, event.id > last_id)
            .order_by(event.id)
            .all()
        )

    def _remember(self, sender_id: Text, stored: StoredCase) -> None:
        self._cases[sender_id] = stored
        while len(self._cases) > self.cache_size:
            self._cases.popitem(last=False)

    def _new_events(self, session: Any, tracker: DialogueStateTracker) -> List[Event]:
        """The tracker's events that are not stored yet.

        A tracker this store gave out or saved knows how many of its events
        are stored. Any other tracker is counted as SQLTrackerStore counts
        it, by the stored events of its session: from the kept copy when the
        case's rows are still the ones it holds (same count and highest id,
        read from the index), else in the database."""
        known = getattr(tracker, STORED_COUNT, None)
        if isinstance(known, int):
            return list(itertools.islice(tracker.events, known, None))
        stored = self._cases.get(tracker.sender_id)
        if stored is not None:
            event = self.SQLEvent
            count, last_id = (
                session.query(func.count(event.id), func.max(event.id))
                .filter(event.sender_id == tracker.sender_id)
                .one()
            )
            if count == stored.row_count and (last_id or 0) == stored.last_id:
                return list(itertools.islice(tracker.events, stored.session_rows, None))
        return list(self._additional_events(session, tracker))

    def _insert(self, session: Any, sender_id: Text, masked: List[Tuple[Event, Dict[str, Any]]]) -> List[tuple]:
        """Add the masked events; their rows as (id, timestamp, type, data)."""
        rows = [
            self.SQLEvent(
                sender_id=sender_id,
                type_name=event.type_name,
                timestamp=data.get("timestamp"),
                intent_name=(data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
                action_name=data.get("name"),
                data=json.dumps(data),
            )
            for event, data in masked
        ]
        session.add_all(rows)
        session.flush()  # the row ids, for the kept copy of the case
        return [(row.id, row.timestamp, row.type_name, data) for row, (_, data) in zip(rows, masked)]

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Write the events Rasa has not stored yet, masked, and update the case, in one transaction.

        When the case record cannot be updated, the events are written alone
        (and the error logged): a case record never costs recorded events."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        stored = self._cases.get(sender_id)
        if stored is None and int(getattr(tracker, STORED_COUNT, None) or 0):
            stored = self._refreshed(sender_id)  # given out, then forgotten: the case record needs it all
        with self.session_scope() as session:
            masked = [(event, mask_event(event.as_dict(), self.masker)) for event in self._new_events(session, tracker)]
            if not masked:
                return
            written = self._insert(session, sender_id, masked)
            if self._update_case(session, tracker, [row[3] for row in written], stored):
                session.commit()
            else:
                session.rollback()
                written = self._insert(session, sender_id, masked)
                session.commit()
        setattr(tracker, STORED_COUNT, len(tracker.events))
        if stored is not None and self._cases.get(sender_id) is stored:
            for row in written:
                stored.add_one(*row)

    def _update_case(
        self, session: Any, tracker: DialogueStateTracker, new: List[Dict[str, Any]], stored: Optional[StoredCase]
    ) -> bool:
        """Upsert the case record in the save's transaction; False (logged) when it failed.

        The events come from the kept copy of the case when there is one, so
        that a long call is not serialised again on every turn."""
        if stored is not None:
            events = stored.dicts + new
        else:
            events = [event.as_dict() for event in tracker.events]
        conversation = Conversation(
            case_id=tracker.sender_id,
            events=events,
            new_count=len(new),
            slots=self.masker.mask_value(tracker.current_slot_values()),
            recount=tracker.sender_id in self._recount,
        )
        try:
            update_case(session, conversation, settings=self.case_settings)
            session.flush()
            self._recount.discard(tracker.sender_id)
            return True
        except SQLAlchemyError as error:
            logger.error("Case record %s not updated: %s", tracker.sender_id, type(error).__name__)
            self._recount.add(tracker.sender_id)  # the row missed these turns: the next save counts them all
            return False

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

    async def _stream_new_events(self, event_broker: EventBroker, new_events: List[Event], sender_id: Text) -> None:
        """Publish new events to the broker, masked like the stored ones."""
        for event in new_events:
            event_broker.publish({"sender_id": sender_id, **mask_event(event.as_dict(), self.masker)})


async def stored_events(tracker_store: TrackerStore, sender_id: Text) -> Optional[List[Dict[str, Any]]]:
    """A case's latest-session events as stored, with the assist answers; None for an unknown case.

    The tracker Rasa works with leaves the answers out (`lean_event`), so
    whatever shows or replays answers reads them here. Rasa wraps the
    configured store in a FailSafeTrackerStore, which keeps it as
    `_tracker_store`."""
    store = getattr(tracker_store, "_tracker_store", tracker_store)
    if isinstance(store, MaskingSQLTrackerStore):
        events = await store.stored_events(sender_id)
        return events or None
    tracker = await tracker_store.retrieve(sender_id)
    return [event.as_dict() for event in tracker.events] if tracker else None
