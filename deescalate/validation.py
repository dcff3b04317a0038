"""Checks of what comes in over HTTP, shared by the assist API and the web server.

Case ids are Rasa sender ids: 1-128 letters, digits or _.:@- starting with a
letter or digit. Texts lose control characters (newlines and tabs stay) and
their surrounding space. A body that is not a JSON object is refused.
"""

import re
from typing import Any, Dict

CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")
MAX_MESSAGE_CHARS = 2000  # one customer utterance or agent reply


def valid_case_id(case_id: Any) -> bool:
    return isinstance(case_id, str) and bool(CASE_ID.match(case_id))


def printable(text: str) -> str:
    """The text without control characters (newlines and tabs kept), stripped."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()


def json_object(request: Any) -> Dict[str, Any]:
    """The request's JSON body; ValueError when it is malformed or not an object."""
    try:
        body = request.json
    except Exception:  # Sanic raises its own InvalidUsage for malformed JSON
        body = None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body
