"""Web sessions: a signed cookie naming a session that lives in the database.

The cookie (HMAC-SHA256 with WEB_SECRET) carries the session id, the user
id, the expiry and a fingerprint of the password hash. A signed-in session
is valid only while its row exists in `web_sessions`, which every web-server
instance reads: logging out on one instance ends the session on all of
them, and a restart keeps it. Changing the password or deactivating the
account also ends it at the next request. Visitors who have not signed in
(the login form's CSRF token) have a cookie only, no row.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any, Dict, Optional

from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import delete

from deescalate.db.models import User, WebSession, utcnow
from deescalate.ratelimit import client_address
from deescalate.web.auth.accounts import db_session, secret_key

COOKIE_NAME = "dx_session"
SESSION_SECONDS = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str) -> str:
    return hmac.new(secret_key(), payload.encode("ascii"), hashlib.sha256).hexdigest()


def password_fingerprint(user: User) -> str:
    return hmac.new(secret_key(), user.password_hash.encode(), hashlib.sha256).hexdigest()[:16]


def session_hash(sid: str) -> str:
    """What the database keeps of a session id."""
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def encode_session(data: Dict[str, Any]) -> str:
    payload = _b64(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_sign(payload)}"


def decode_session(value: Optional[str]) -> Optional[Dict[str, Any]]:
    """The session data of a cookie value, or None when forged, malformed or expired."""
    if not value or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(_sign(payload), signature):
        return None
    try:
        data = json.loads(_unb64(payload))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        return None
    if not isinstance(data.get("exp"), (int, float)) or data["exp"] < time.time():
        return None
    return data


def session_data(request: Request) -> Optional[Dict[str, Any]]:
    if not hasattr(request.ctx, "session"):
        request.ctx.session = decode_session(request.cookies.get(COOKIE_NAME))
    return request.ctx.session


def store_session(sid: str, user_id: int, expires: float, address: Optional[str] = None) -> None:
    """Record a signed-in session so that every instance accepts it."""
    expires_at = dt.datetime.fromtimestamp(expires, dt.timezone.utc).replace(tzinfo=None)
    with db_session() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))  # the expired go
        session.add(
            WebSession(id_hash=session_hash(sid), user_id=user_id, expires_at=expires_at, address=(address or "")[:64])
        )
        session.commit()


def end_session(request: Request) -> None:
    """Delete the request's session row: the cookie is worthless on every instance."""
    data = session_data(request)
    if data:
        with db_session() as session:
            session.execute(delete(WebSession).where(WebSession.id_hash == session_hash(data["sid"])))
            session.commit()


def new_session(request: Request, user: Optional[User] = None) -> Dict[str, Any]:
    """A fresh session id (never reused across a login, against session fixation)."""
    data: Dict[str, Any] = {"sid": secrets.token_urlsafe(18), "exp": int(time.time()) + SESSION_SECONDS}
    if user is not None:
        data.update(uid=user.id, pv=password_fingerprint(user))
        store_session(data["sid"], user.id, data["exp"], client_address(request))
    request.ctx.session = data
    request.ctx.session_changed = True
    return data


def set_session_cookie(resp: HTTPResponse, data: Optional[Dict[str, Any]]) -> None:
    resp.cookies[COOKIE_NAME] = encode_session(data) if data else ""
    cookie = resp.cookies[COOKIE_NAME]
    cookie["path"] = "/"
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["max-age"] = int(data["exp"] - time.time()) if data else 0
    if os.environ.get("WEB_COOKIE_SECURE", "").lower() in ("1", "true", "yes"):
        cookie["secure"] = True


def _signed_in_user(data: Dict[str, Any]) -> Optional[User]:
    with db_session() as session:
        row = session.get(WebSession, session_hash(data["sid"]))
        if row is None or row.user_id != data["uid"] or row.expires_at < utcnow():
            return None
        user = session.get(User, data["uid"])
    if user is None or not user.active or not hmac.compare_digest(password_fingerprint(user), str(data.get("pv", ""))):
        return None
    return user


def current_user(request: Request) -> Optional[User]:
    """The logged-in, active user of the request (cached on request.ctx.user)."""
    if getattr(request.ctx, "user", None) is not None:
        return request.ctx.user
    data = session_data(request)
    if not data or not isinstance(data.get("uid"), int) or isinstance(data.get("uid"), bool):
        return None
    user = _signed_in_user(data)
    if user is not None:
        request.ctx.user = user
    return user
