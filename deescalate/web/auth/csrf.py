"""CSRF tokens: an HMAC of the session id, in a form field or the X-CSRF-Token header."""

import hashlib
import hmac

from sanic.request import Request

from deescalate.web.auth.accounts import secret_key
from deescalate.web.auth.sessions import new_session, session_data


def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session (HMAC of the session id)."""
    data = session_data(request) or new_session(request)
    return hmac.new(secret_key(), f"csrf:{data['sid']}".encode(), hashlib.sha256).hexdigest()


class CsrfError(Exception):
    pass


def check_csrf(request: Request) -> None:
    """Raise CsrfError unless the request carries this session's token (form or header)."""
    data = session_data(request)
    given = request.headers.get("X-CSRF-Token", "")
    if not given and request.content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        given = request.form.get("csrf_token", "")
    if not data or not given or not hmac.compare_digest(csrf_token(request), given):
        raise CsrfError("missing or wrong CSRF token")
