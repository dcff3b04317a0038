"""The two places where this product replaces a method of Rasa, pinned to the Rasa it was written for.

Both are methods of `rasa.core.actions.action.RemoteAction`, the class that
calls the action server on every turn:

- `_validate_action_result` checks the action server's answer with
  `jsonschema.validate`, which checks the schema against its meta-schema and
  compiles it again on every call (about 25 ms, the largest fixed cost of a
  turn). Here the validator is built once for the same schema, and a bad
  answer raises the same `ValidationError` with the same message.
- `_action_call_format` sends the whole tracker, every event of the
  conversation, to the action server on every turn, so the request grows
  with the call. When the action endpoint asks for it
  (`send_events: latest_turn` under `action_endpoint` in endpoints.yml),
  the request carries the events of the latest turn only; the slots, the
  latest message and the latest input channel are sent as before.

`install()` replaces them once per process (the tracker store calls it when
Rasa builds it at start-up). It replaces nothing when the Rasa in use is not
the one pinned below, or when a replaced method's source differs from the
pinned fingerprint: it logs an error and Rasa keeps its own (slower but
correct) methods. tests/test_rasa_seams.py fails on such a mismatch, so a
Rasa upgrade is checked by hand before the pins are moved.
"""

import hashlib
import inspect
import logging
from typing import Any, Callable, Dict, List, Optional, Text

import fastjsonschema
import rasa
from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

logger = logging.getLogger(__name__)

PINNED_RASA = "3.6.21"
# sha256 of inspect.getsource() of each replaced method in PINNED_RASA.
PINNED_SOURCES = {
    "_validate_action_result": "f8cdb4be6812396167ced74161b2ccd65c5ea676ad86d7d359d8c322d9d8dc42",
    "_action_call_format": "428795b944f22edba142d278ec47a30098975b01463ba337ec447dade52a0492",
}
SEND_EVENTS_KEY = "send_events"
LATEST_TURN = "latest_turn"

_ORIGINALS: Dict[str, Callable[..., Any]] = {}


def source_fingerprint(method: Callable[..., Any]) -> str:
    """sha256 of a method's source (through any wrappers)."""
    return hashlib.sha256(inspect.getsource(inspect.unwrap(method)).encode("utf-8")).hexdigest()


def pin_mismatches() -> List[str]:
    """What differs between the Rasa in use and the pinned one (empty when the seams fit)."""
    problems = []
    if rasa.__version__ != PINNED_RASA:
        problems.append(f"Rasa {rasa.__version__} is not the pinned {PINNED_RASA}")
    for name, pinned in PINNED_SOURCES.items():
        method = _ORIGINALS.get(name) or getattr(RemoteAction, name)
        found = source_fingerprint(method)
        if found != pinned:
            problems.append(f"RemoteAction.{name} changed (source sha256 {found})")
    return problems


# ---------------------------------------------------------------- the action server's answer

_RESPONSE_SCHEMA = RemoteAction.action_response_format_spec()
_VALIDATOR_CLASS = validator_for(_RESPONSE_SCHEMA)
_VALIDATOR_CLASS.check_schema(_RESPONSE_SCHEMA)
_RESPONSE_VALIDATOR = _VALIDATOR_CLASS(_RESPONSE_SCHEMA)


def compiled_check(schema: Dict[str, Any]) -> Callable[[Any], bool]:
    """True for an answer `schema` accepts, compiled to Python code by fastjsonschema; False
    for one it may not accept (jsonschema then judges it, with Rasa's message).

    Each event of an answer must match exactly one branch of the events' `oneOf`, and
    every branch names its event with a `const`. Compiled as it is, the check tries
    every branch on every event and raises (and formats a message) for each branch
    that fails: about 5 ms for an answer of seven slots. An event can only match the
    branch of its own name, so that branch alone is checked (`oneOf` holds exactly
    when it does). A schema that is not of this shape is compiled whole.
    """
    items = schema.get("properties", {}).get("events", {}).get("items", {})
    branches = items.get("oneOf") or []
    names = [branch.get("properties", {}).get("event", {}).get("const") for branch in branches]
    if not branches or not all(isinstance(name, str) for name in names) or len(set(names)) < len(names):
        whole = fastjsonschema.compile(schema)
        return lambda answer: _passes(whole, answer)
    base = {key: value for key, value in items.items() if key != "oneOf"}
    events = {**schema["properties"]["events"], "items": base}
    outer = fastjsonschema.compile({**schema, "properties": {**schema["properties"], "events": events}})
    per_event = {name: fastjsonschema.compile({**base, "allOf": [branch]}) for name, branch in zip(names, branches)}

    def check(answer: Any) -> bool:
        if not _passes(outer, answer):
            return False
        for event in answer.get("events") or []:  # objects with a string `event`, as `outer` checked
            branch = per_event.get(event["event"])
            if branch is None or not _passes(branch, event):
                return False
        return True

    return check


def _passes(check: Callable[[Any], Any], data: Any) -> bool:
    try:
        check(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


# The same schema as Python code: it says "valid" in a fraction of jsonschema's
# time. Whatever it does not accept goes to jsonschema, whose verdict and
# error message are Rasa's.
_FAST_CHECK = compiled_check(_RESPONSE_SCHEMA)


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """Rasa's check of the action server's answer, with the validator built once.

    What `jsonschema.validate` does after compiling, with the message Rasa adds.
    A valid answer is recognised by the compiled check alone."""
    if _FAST_CHECK(result):
        return True
    error: Optional[ValidationError] = best_match(_RESPONSE_VALIDATOR.iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


# ---------------------------------------------------------------- the request to the action server


def latest_turn_events(tracker: DialogueStateTracker) -> List[Event]:
    """The events from the listen before the latest customer message to the end.

    Reads backwards from the newest event, so the cost does not depend on how
    long the conversation is. Without a customer message in the tracker every
    event is returned.
    """
    events = tracker.events
    index = len(events) - 1
    while index >= 0 and not isinstance(events[index], UserUttered):
        index -= 1
    if index > 0:
        before = events[index - 1]
        if isinstance(before, ActionExecuted) and before.action_name == ACTION_LISTEN_NAME:
            index -= 1
    start = max(index, 0)
    return [events[i] for i in range(start, len(events))]


def action_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Any) -> Dict[Text, Any]:
    """Rasa's request to the action server; with `send_events: latest_turn`, only the latest turn's events."""
    endpoint = self.action_endpoint
    if endpoint is None or endpoint.kwargs.get(SEND_EVENTS_KEY) != LATEST_TURN:
        return _ORIGINALS["_action_call_format"](self, tracker, domain)
    tracker_state = tracker.current_state(EventVerbosity.NONE)
    tracker_state["events"] = [event.as_dict() for event in latest_turn_events(tracker)]
    result = {
        "next_action": self._name,
        "sender_id": tracker.sender_id,
        "tracker": tracker_state,
        "version": rasa.__version__,
    }
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
        result["domain"] = domain.as_dict()
    return result


_REPLACEMENTS = {
    "_validate_action_result": validate_action_result,
    "_action_call_format": action_call_format,
}


def install() -> bool:
    """Replace the pinned methods of RemoteAction, once; False (and an error logged) when the pins do not fit."""
    if _ORIGINALS:
        return True
    problems = pin_mismatches()
    if problems:
        logger.error(
            "Rasa's own RemoteAction methods are kept (slower): %s. See deescalate/rasa_seams.py.", "; ".join(problems)
        )
        return False
    for name, replacement in _REPLACEMENTS.items():
        _ORIGINALS[name] = getattr(RemoteAction, name)
        setattr(RemoteAction, name, replacement)
    return True


def installed() -> bool:
    return bool(_ORIGINALS)
