"""Which routes of Rasa's own HTTP API answer on the Rasa port (rasa_api.yml).

`--enable-api` serves, behind one token, routes that replace or unload the
model (PUT/DELETE /model: a model file is pickled code), train and test
models, and write events into any conversation. The token is the assist
API's, which integrations hold; so only the read routes listed in
rasa_api.yml answer, and every other path outside the channels answers 403
before Rasa sees it. A request middleware on Rasa's app does this,
installed by the assist channel (deescalate/channels/assist.py) before the
server starts.
"""

import functools
import re
from pathlib import Path
from typing import Any, List, Optional, Pattern, Tuple

import yaml
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

SETTINGS_FILE = Path(__file__).resolve().with_suffix(".yml")


@functools.lru_cache(maxsize=1)
def _rules() -> Tuple[List[Tuple[str, Pattern[str]]], Tuple[str, ...]]:
    data = yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))
    allow = [(method.upper(), re.compile(pattern)) for method, pattern in data["allow"]]
    return allow, tuple(data["channels"])


def allowed(method: str, path: str) -> bool:
    """True for the channels' paths, CORS preflights and the listed Rasa API routes."""
    allow, channels = _rules()
    if path.startswith(channels) or method == "OPTIONS":
        return True
    return any(method == m and pattern.fullmatch(path) for m, pattern in allow)


async def refuse_unlisted_routes(request: Request) -> Optional[HTTPResponse]:
    """403 for a Rasa API route not listed; a path with no route keeps Sanic's 404
    (Sanic runs request middleware for those too, with no route set)."""
    if getattr(request, "route", None) is None or allowed(request.method, request.path):
        return None
    return response.json({"error": "forbidden", "message": "this Rasa HTTP API route is disabled"}, status=403)


def install_rasa_api_guard(app: Any) -> None:
    """Put the guard first among Rasa's request middleware (once per app)."""
    if refuse_unlisted_routes not in app.request_middleware:
        app.request_middleware.appendleft(refuse_unlisted_routes)
