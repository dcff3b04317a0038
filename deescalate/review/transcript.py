"""A case's transcript for review, built from its stored Rasa events.

Input is the case's `user` and `bot` events in order, as read by
deescalate/events.py. A customer turn carries what the NLU
predicted; the assist answer stored right after it gives the suggestions
shown at that turn; the agent's turns (bot events with metadata author=agent)
name the suggestion they came from and the taboo phrases found in them.
"""

import datetime as dt
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple

from deescalate.events import EventLike, timeline

if TYPE_CHECKING:  # the web server imports the checker only when it first needs one
    from deescalate.assist.taboo import TabooChecker

RANKING_SHOWN = 3


def local_time(timestamp: Optional[float]) -> str:
    if not timestamp:
        return ""
    return dt.datetime.fromtimestamp(timestamp).strftime("%m-%d %H:%M:%S")


def _label(value: Any) -> Dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    confidence = value.get("confidence")
    return {
        "name": value.get("name"),
        "confidence": float(confidence) if isinstance(confidence, (int, float)) else None,
    }


def customer_turn(event_id: int, timestamp: float, data: Dict[str, Any]) -> Dict[str, Any]:
    parse = data.get("parse_data") or {}
    ranking = [_label(item) for item in (parse.get("intent_ranking") or [])[:RANKING_SHOWN]]
    return {
        "kind": "customer",
        "event_id": event_id,
        "time": local_time(timestamp),
        "text": data.get("text") or "",
        "channel": data.get("input_channel"),
        "intent": _label(parse.get("intent")),
        "emotion": _label(parse.get("emotion")),
        "ranking": ranking,
        "suggestions": [],
        "alerts": [],
        "analysis": {},
        "used": [],
    }


def taboo_details(text: str, ids: List[str], checker: Optional["TabooChecker"]) -> List[Dict[str, Any]]:
    """The taboo phrases recorded for an agent turn, located in its text when the KB still knows them."""
    found = {hit["id"]: hit for hit in (checker.check(text) if checker else [])}
    return [
        found.get(taboo_id, {"id": taboo_id, "phrase": taboo_id, "why": "", "rewrite": "", "start": None, "end": None})
        for taboo_id in ids
    ]


def highlight(text: str, hits: Iterable[Dict[str, Any]]) -> List[Tuple[str, bool]]:
    """The text cut into (piece, is_taboo) so a template can mark the phrases."""
    spans = sorted((h["start"], h["end"]) for h in hits if isinstance(h.get("start"), int))
    pieces: List[Tuple[str, bool]] = []
    position = 0
    for start, end in spans:
        if start < position:
            continue
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((text[start:end], True))
        position = end
    if position < len(text) or not pieces:
        pieces.append((text[position:], False))
    return pieces


def agent_turn(
    event_id: int, timestamp: float, data: Dict[str, Any], checker: Optional["TabooChecker"]
) -> Dict[str, Any]:
    metadata = data.get("metadata") or {}
    text = data.get("text") or ""
    ids = [str(t) for t in (metadata.get("taboo") or [])]
    hits = taboo_details(text, ids, checker)
    return {
        "kind": "agent",
        "event_id": event_id,
        "time": local_time(timestamp),
        "text": text,
        "agent": metadata.get("agent_name") or metadata.get("agent") or "",
        "suggestion_id": metadata.get("suggestion_id"),
        "suggestion": None,
        "taboo": hits,
        "pieces": highlight(text, hits),
    }


def bot_turn(event_id: int, timestamp: float, data: Dict[str, Any]) -> Dict[str, Any]:
    buttons = (data.get("data") or {}).get("buttons") or (data.get("data") or {}).get("quick_replies") or []
    return {
        "kind": "bot",
        "event_id": event_id,
        "time": local_time(timestamp),
        "text": data.get("text") or "",
        "buttons": [b.get("title", "") for b in buttons if isinstance(b, dict)],
    }


def _mark_used(turns: List[Dict[str, Any]], agent: Dict[str, Any]) -> None:
    """Find the suggestion an agent turn came from, latest customer turn first."""
    wanted = agent["suggestion_id"]
    if not wanted:
        return
    for turn in reversed(turns):
        if turn["kind"] != "customer":
            continue
        suggestion = next((s for s in turn["suggestions"] if s.get("id") == wanted), None)
        if suggestion is not None:
            agent["suggestion"] = suggestion
            if wanted not in turn["used"]:
                turn["used"].append(wanted)
            return


def build_transcript(events: Iterable[EventLike], checker: Optional["TabooChecker"] = None) -> List[Dict[str, Any]]:
    """Customer, agent and bot turns in order; customer turns carry their suggestions."""
    turns: List[Dict[str, Any]] = []
    last_customer: Optional[Dict[str, Any]] = None
    for turn in timeline(events):
        if turn.speaker == "customer":
            last_customer = customer_turn(turn.event_id, turn.timestamp or 0.0, turn.data)
            turns.append(last_customer)
            continue
        if turn.assist is not None and last_customer is not None:
            last_customer["suggestions"] = turn.assist.get("suggestions") or []
            last_customer["alerts"] = turn.assist.get("alerts") or []
            last_customer["analysis"] = turn.assist.get("analysis") or {}
        if not turn.text:
            continue
        if turn.speaker == "agent":
            agent = agent_turn(turn.event_id, turn.timestamp or 0.0, turn.data, checker)
            _mark_used(turns, agent)
            turns.append(agent)
        else:
            turns.append(bot_turn(turn.event_id, turn.timestamp or 0.0, turn.data))
    return turns
