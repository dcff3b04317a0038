"""Accounts of the web surfaces, one module per concern.

- `passwords`: scrypt hashing.
- `accounts`: the web secret, users, the first admin, database sessions.
- `sessions`: signed cookies naming sessions kept in the database, so every
  web-server instance accepts them and a logout ends them everywhere.
- `csrf`: tokens for forms (field `csrf_token`) and JSON posts (header `X-CSRF-Token`).
- `lockout`: failed logins counted in the database.
- `pages`: templates, `require_role(*roles)` (sets `request.ctx.user`), error pages, headers.
- `routes`: the blueprint `bp` with /login, /logout and /.

The names below are the interface the other surfaces import.
"""

from deescalate.web.auth.accounts import create_user, db_session, ensure_admin, web_secret
from deescalate.web.auth.csrf import CsrfError, check_csrf, csrf_token
from deescalate.web.auth.pages import (
    HOME_BY_ROLE,
    ROLE_NAMES,
    SECURITY_HEADERS,
    add_security_headers,
    error_page,
    render,
    require_role,
    templates,
    wants_html,
)
from deescalate.web.auth.passwords import hash_password, verify_password
from deescalate.web.auth.routes import bp
from deescalate.web.auth.sessions import (
    COOKIE_NAME,
    SESSION_SECONDS,
    current_user,
    decode_session,
    encode_session,
    set_session_cookie,
)

__all__ = [
    "COOKIE_NAME",
    "CsrfError",
    "HOME_BY_ROLE",
    "ROLE_NAMES",
    "SECURITY_HEADERS",
    "SESSION_SECONDS",
    "add_security_headers",
    "bp",
    "check_csrf",
    "create_user",
    "csrf_token",
    "current_user",
    "db_session",
    "decode_session",
    "encode_session",
    "ensure_admin",
    "error_page",
    "hash_password",
    "render",
    "require_role",
    "set_session_cookie",
    "templates",
    "verify_password",
    "wants_html",
    "web_secret",
]
