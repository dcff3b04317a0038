"""One conversation as the tracker store keeps it between turns, and the tracker Rasa is given.

Rasa replays a conversation's events to build its tracker, copies the
tracker (replaying them again) for every action, and reads it whole in
several places of a turn: a turn would cost more the longer the call. What
Rasa needs from the past is the state it leads to (the slots, an active loop,
a paused conversation) and the latest turns. So the kept copy of a case
replays each stored event once, as it arrives, into a state tracker that
holds only the latest `tail` events, and Rasa is given that state as a few
events followed by those latest events (`rasa_events`). The tracker Rasa
ends up with has the same slots, latest message, latest action and latest
bot utterance as one replayed from every event.

Bot events reach Rasa without the assist answer they carry (`lean_event`):
the answer stays in the stored row, where the console, review, case record
and load check read it.
"""

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from rasa.shared.core.events import ActiveLoop, ConversationPaused, Event, SessionStarted, SlotSet
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker

DEFAULT_TAIL = 60  # events; a customer turn of ours is about a dozen


def lean_event(data: Dict[str, Any]) -> Dict[str, Any]:
    """A stored event as Rasa needs it: a bot event without the assist answer it carries."""
    custom = (data.get("data") or {}).get("custom") if data.get("event") == "bot" else None
    if not isinstance(custom, dict) or "assist" not in custom:
        return data
    rest = {key: value for key, value in custom.items() if key != "assist"}
    bot_data = {key: value for key, value in data["data"].items() if key != "custom"}
    if rest:
        bot_data["custom"] = rest
    return {**data, "data": bot_data}


def _in_session(stamp: Optional[float], start: float) -> bool:
    return stamp is not None and stamp >= start


@dataclass
class StoredCase:
    """The stored events of one conversation, read once and kept.

    `dicts` are the events as stored (with their `stamps`), for whatever
    shows the case. `state` is the latest session replayed event by event
    (see the module's docstring). `session_rows` counts the rows of the
    latest session the way SQLTrackerStore's query does (timestamp at or
    after the latest SessionStarted).
    """

    sender_id: str
    slots: List[Slot]
    tail: int = DEFAULT_TAIL
    last_id: int = 0
    row_count: int = 0
    session_start: Optional[float] = None
    session_rows: int = 0
    stamps: List[Optional[float]] = field(default_factory=list)  # of every row read
    dicts: List[Dict[str, Any]] = field(default_factory=list)  # every event that deserialises, as stored
    dict_stamps: List[Optional[float]] = field(default_factory=list)
    state: DialogueStateTracker = field(init=False)

    def __post_init__(self) -> None:
        self.state = self._new_state()

    def _new_state(self) -> DialogueStateTracker:
        return DialogueStateTracker(self.sender_id, self.slots, max_event_history=self.tail)

    def add(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.add_one(row.id, row.timestamp, row.type_name, json.loads(row.data))

    def add_one(self, row_id: int, timestamp: Optional[float], type_name: str, data: Dict[str, Any]) -> None:
        self.last_id = max(self.last_id, row_id)
        new_session = self._count(timestamp, type_name)
        event = Event.from_parameters(lean_event(data))
        if event is None:
            return
        self.dicts.append(data)
        self.dict_stamps.append(timestamp)
        if new_session:
            self._replay_session()
        elif self.session_start is None or _in_session(timestamp, self.session_start):
            self.state.update(event)

    def _count(self, timestamp: Optional[float], type_name: str) -> bool:
        """Count one row; True when it starts a later session."""
        self.row_count += 1
        self.stamps.append(timestamp)
        starts = type_name == SessionStarted.type_name
        if starts and timestamp is not None and (self.session_start is None or timestamp >= self.session_start):
            self.session_start = timestamp
            self.session_rows = sum(1 for stamp in self.stamps if _in_session(stamp, timestamp))
            return True
        if self.session_start is None or _in_session(timestamp, self.session_start):
            self.session_rows += 1
        return False

    def _replay_session(self) -> None:
        """A new session: the state again from the session's events (once per session)."""
        self.state = self._new_state()
        for data in self.session_dicts():
            event = Event.from_parameters(lean_event(data))
            if event is not None:
                self.state.update(event)

    def session_dicts(self) -> List[Dict[str, Any]]:
        """The latest session's events as stored, chosen the way SQLTrackerStore's query chooses them."""
        start = self.session_start
        return [data for stamp, data in zip(self.dict_stamps, self.dicts) if start is None or _in_session(stamp, start)]

    def rasa_events(self) -> List[Event]:
        """The state of the latest session as events (slots, loop, pause), then its latest events."""
        latest = list(self.state.events)
        if len(latest) < self.tail:  # the whole session is there
            return latest
        stamp = latest[0].timestamp
        state: List[Event] = [
            SlotSet(slot.name, copy.deepcopy(slot.value), timestamp=stamp)
            for slot in self.state.slots.values()
            if slot.value != slot.initial_value
        ]
        if self.state.active_loop_name:
            state.append(ActiveLoop(self.state.active_loop_name, timestamp=stamp))
        if self.state.is_paused():
            state.append(ConversationPaused(timestamp=stamp))
        return state + latest
