"""The one reader of stored Rasa events.

Rasa's tracker store keeps every event of a conversation as a row of its
`events` table (id, sender_id, type_name, timestamp, data: the JSON of
`Event.as_dict()`). Everything in the product that needs what was said in a
case reads it here: the case record, the assist API's `GET /case`, the agent
console, trainer review, retention and the load check. The table is reached
with plain SQLAlchemy Core (never Rasa internals), so the same code runs on
SQLite and PostgreSQL.

Events come in two shapes: rows read from the table (`StoredEvent`, which
carries the row id) and plain event dicts (Rasa's `as_dict()` shape, as the
tracker store hands them over on save). `turns()`, `timeline()` and
`assist_payloads()` take either.
"""

import json
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from deescalate.assist.analysis import assist_in

# Rasa's tracker-store table, described here only to read it (and, for retention, delete from it).
EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
SPOKEN = ("user", "bot")
STREAM_ROWS = 1000  # rows a streamed read buffers (a server-side cursor on PostgreSQL)


class StoredEvent(NamedTuple):
    """One row of the events table: (id, type_name, timestamp, data)."""

    id: int
    kind: str
    timestamp: float
    data: Dict[str, Any]


EventLike = Union[StoredEvent, Dict[str, Any]]


@dataclass(frozen=True)
class Turn:
    """One spoken event of a case: the customer, an agent, or the bot.

    A bot event that only carries the assist answer (no text) is a `bot`
    turn with empty text and `assist` set; `turns()` leaves those out.
    """

    speaker: str  # "customer", "agent" or "bot"
    text: str
    timestamp: Optional[float]
    event_id: int = 0  # the row id; 0 for an event not read from the table
    parse: Dict[str, Any] = field(default_factory=dict)
    metadata: Dict[str, Any] = field(default_factory=dict)
    input_channel: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)
    assist: Optional[Dict[str, Any]] = None

    @property
    def intent(self) -> Optional[str]:
        return (self.parse.get("intent") or {}).get("name")

    @property
    def emotion(self) -> Optional[str]:
        return (self.parse.get("emotion") or {}).get("name")

    @property
    def agent(self) -> Optional[str]:
        return self.metadata.get("agent_name") or self.metadata.get("agent") or None

    @property
    def suggestion_id(self) -> Optional[str]:
        return self.metadata.get("suggestion_id")

    @property
    def taboo(self) -> List[str]:
        """Ids of the taboo phrases found in an agent turn when it was sent."""
        return [str(t) for t in (self.metadata.get("taboo") or [])]


def decode(row: Any) -> StoredEvent:
    """A table row as a StoredEvent; unreadable JSON becomes an empty dict."""
    try:
        data = json.loads(row.data) if row.data else {}
    except ValueError:
        data = {}
    return StoredEvent(int(row.id), row.type_name, float(row.timestamp or 0.0), data if isinstance(data, dict) else {})


def _stored(event: EventLike) -> StoredEvent:
    if isinstance(event, StoredEvent):
        return event
    timestamp = event.get("timestamp")
    return StoredEvent(
        0, str(event.get("event") or ""), float(timestamp) if isinstance(timestamp, (int, float)) else 0.0, event
    )


def _turn(event: StoredEvent) -> Optional[Turn]:
    data = event.data
    timestamp = event.timestamp or None
    if event.kind == "user":
        return Turn(
            "customer",
            data.get("text") or "",
            timestamp,
            event.id,
            parse=data.get("parse_data") or {},
            metadata=data.get("metadata") or {},
            input_channel=data.get("input_channel"),
            data=data,
        )
    if event.kind != "bot":
        return None
    metadata = data.get("metadata") or {}
    speaker = "agent" if metadata.get("author") == "agent" else "bot"
    return Turn(
        speaker,
        data.get("text") or "",
        timestamp,
        event.id,
        metadata=metadata,
        data=data,
        assist=assist_in(data.get("data") or {}),
    )


def timeline(events: Iterable[EventLike]) -> List[Turn]:
    """Every customer and bot event in order, including bot events that only carry the assist answer."""
    return list(iter_timeline(events))


def iter_timeline(events: Iterable[EventLike]) -> Iterator[Turn]:
    """`timeline` one turn at a time, for readers of many events."""
    return (turn for turn in map(_turn, map(_stored, events)) if turn is not None)


def turns(events: Iterable[EventLike], speakers: Sequence[str] = ("customer", "agent")) -> List[Turn]:
    """The customer's and agents' turns in order (bot turns when `speakers` names them, with text)."""
    return [t for t in timeline(events) if t.speaker in speakers and (t.speaker != "bot" or t.text)]


def assist_payloads(events: Iterable[EventLike]) -> List[Dict[str, Any]]:
    """The answers of action_assist, oldest first."""
    return [t.assist for t in timeline(events) if t.assist is not None]


def latest_assist_payload(events: Sequence[EventLike]) -> Optional[Dict[str, Any]]:
    """The latest answer of action_assist, read from the end: a long call costs no more."""
    for event in reversed(events):
        turn = _turn(_stored(event))
        if turn is not None and turn.assist is not None:
            return turn.assist
    return None


def slots(events: Iterable[EventLike]) -> Dict[str, Any]:
    """The slot values the events leave behind."""
    values: Dict[str, Any] = {}
    for event in map(_stored, events):
        if event.kind == "slot":
            values[str(event.data.get("name"))] = event.data.get("value")
    return values


# ---------------------------------------------------------------- reading the table


def read_events(
    connection: Any, case_id: str, after: int = 0, limit: Optional[int] = None, every_kind: bool = False
) -> List[StoredEvent]:
    """A case's stored user and bot events (or all its events) with id > after, oldest first.

    `connection` is a SQLAlchemy Session or Connection. A database where Rasa
    has not created its table yet has no events.
    """
    query = (
        select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
        .where(EVENTS.c.sender_id == case_id, EVENTS.c.id > after)
        .order_by(EVENTS.c.id)
    )
    if not every_kind:
        query = query.where(EVENTS.c.type_name.in_(SPOKEN))
    if limit is not None:
        query = query.limit(limit)
    try:
        return [decode(row) for row in connection.execute(query).fetchall()]
    except (OperationalError, ProgrammingError):
        return []


def events_by_id(connection: Any, event_ids: Sequence[int]) -> Dict[int, StoredEvent]:
    if not event_ids:
        return {}
    rows = connection.execute(
        select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data).where(
            EVENTS.c.id.in_(list(event_ids))
        )
    ).fetchall()
    return {int(row.id): decode(row) for row in rows}


def customer_event(connection: Any, case_id: str, event_id: int) -> Optional[StoredEvent]:
    """One customer turn of a case by its row id, or None when it is not one."""
    row = connection.execute(
        select(EVENTS.c.id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data).where(
            EVENTS.c.id == event_id, EVENTS.c.sender_id == case_id, EVENTS.c.type_name == "user"
        )
    ).first()
    return decode(row) if row is not None else None


def customer_texts(connection: Any, sender_prefix: str) -> Dict[str, List[str]]:
    """The customer turns' texts of every case whose id starts with `sender_prefix`, in insertion order."""
    escaped = sender_prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    rows = connection.execute(
        select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
        .where(EVENTS.c.type_name == "user", EVENTS.c.sender_id.like(escaped + "%", escape="!"))
        .order_by(EVENTS.c.sender_id, EVENTS.c.id)
    )
    texts: Dict[str, List[str]] = {}
    for row in rows:
        texts.setdefault(row.sender_id, []).append(decode(row).data.get("text") or "")
    return texts


def spoken_between(connection: Any, start: float, end: float) -> Iterator[Tuple[str, Iterator[StoredEvent]]]:
    """Every case's user and bot events with start <= timestamp < end: (case id, its events
    oldest first), one case after another.

    For figures over a period (script effectiveness): one range read, not one
    query per case, streamed in case order and decoded as they are read, so
    that one event at a time is held, however long the period (the action
    server reads the last 90 days every minute). As with `itertools.groupby`,
    a case's events are read before the next case is asked for. A database
    without Rasa's table has no events.
    """
    query = (
        select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
        .where(EVENTS.c.type_name.in_(SPOKEN), EVENTS.c.timestamp >= start, EVENTS.c.timestamp < end)
        .order_by(EVENTS.c.sender_id, EVENTS.c.id)
        .execution_options(stream_results=True, max_row_buffer=STREAM_ROWS)
    )
    try:
        rows = connection.execute(query)
    except (OperationalError, ProgrammingError):
        return
    for case_id, case_rows in groupby(rows, key=lambda row: str(row.sender_id)):
        yield case_id, map(decode, case_rows)


def customer_events_between(
    connection: Any, since: Optional[float], until: Optional[float], limit: int
) -> List[Tuple[str, StoredEvent]]:
    """The newest `limit` customer turns with since <= timestamp < until, as (case id, StoredEvent), oldest first.

    A bound of None is open. A database where Rasa has not created its table
    yet has no turns.
    """
    query = select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data).where(
        EVENTS.c.type_name == "user"
    )
    if since is not None:
        query = query.where(EVENTS.c.timestamp >= since)
    if until is not None:
        query = query.where(EVENTS.c.timestamp < until)
    try:
        rows = connection.execute(query.order_by(EVENTS.c.id.desc()).limit(limit)).fetchall()
    except (OperationalError, ProgrammingError):
        return []
    return [(str(row.sender_id), decode(row)) for row in reversed(rows)]
