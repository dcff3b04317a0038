"""Accounts of the web surfaces: passwords, sessions, roles, CSRF.

Public interface used by every surface module:

- `require_role(*roles)` decorates a Sanic handler; it sets `request.ctx.user`.
- `csrf_token(request)` / `check_csrf(request)` for forms (field `csrf_token`)
  and JSON posts (header `X-CSRF-Token`).
- `render(request, template, **context)` renders a Jinja2 template with
  autoescape, the current user and the CSRF token.
- `hash_password` / `verify_password`, `create_user`, `ensure_admin`.

Sessions are stateless signed cookies (HMAC-SHA256 with WEB_SECRET), so any
number of web processes serve the same users without shared memory. A
session names the user and a fingerprint of the password hash: changing a
password or deactivating the account ends its sessions at the next request.
"""
import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Callable, Coroutine, Deque, Dict, Optional, Tuple

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.orm import Session

from deescalate.db.models import ROLES, User
from deescalate.db.session import session_factory

WEB_DIR = Path(__file__).resolve().parent
ENV_FILE = WEB_DIR.parent.parent / ".env"

COOKIE_NAME = "dx_session"
SESSION_SECONDS = 12 * 3600
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
LOGIN_FAILURES_ALLOWED = 5          # per user name within LOGIN_FAILURE_WINDOW, per process
LOGIN_FAILURE_WINDOW = 300.0

ROLE_NAMES = {"agent": "坐席", "supervisor": "主管", "trainer": "培训师", "admin": "管理员"}
HOME_BY_ROLE = {"agent": "/console", "supervisor": "/console", "trainer": "/review", "admin": "/console"}

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

bp = Blueprint("auth")
templates = Environment(loader=FileSystemLoader(str(WEB_DIR / "templates")),
                        autoescape=select_autoescape(["html", "xml"]), trim_blocks=True,
                        lstrip_blocks=True)
templates.globals["ROLE_NAMES"] = ROLE_NAMES


# ---------------------------------------------------------------- passwords

def hash_password(password: str) -> str:
    """scrypt (memory-hard) with a random 16-byte salt: "scrypt$n$r$p$salt_hex$hash_hex"."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, hash_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(hash_hex)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt_hex), n=int(n),
                                r=int(r), p=int(p), maxmem=SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(digest, expected)


# A real hash to compare against when the user name is unknown, so that the
# answer takes as long as for a known user.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


# ---------------------------------------------------------------- secrets and users

def _env_file_value(name: str) -> Optional[str]:
    path = ENV_FILE
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                if key.strip() == name and value.strip():
                    return value.strip()
    return None


def _keep_in_env_file(name: str, value: str) -> None:
    path = ENV_FILE
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"{name}={value}\n")
    path.chmod(0o600)


def web_secret() -> str:
    """WEB_SECRET from the environment, else from .env, else a new one kept in .env."""
    secret = os.environ.get("WEB_SECRET") or _env_file_value("WEB_SECRET")
    if not secret:
        secret = secrets.token_urlsafe(32)
        _keep_in_env_file("WEB_SECRET", secret)
    return secret


@functools.lru_cache(maxsize=1)
def _secret_key() -> bytes:
    return web_secret().encode("utf-8")


def db_session() -> Session:
    """A new SQLAlchemy session on DATABASE_URL (use as a context manager)."""
    return session_factory()()


def create_user(session: Session, username: str, password: str, role: str,
                display_name: Optional[str] = None) -> User:
    """Add a user; the caller commits. Raises ValueError on a bad role, name or password."""
    username = username.strip()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or any(ch.isspace() for ch in username):
        raise ValueError("user name must be 1-64 characters without spaces")
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    if session.query(User).filter_by(username=username).first() is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role,
                display_name=display_name or username, active=True)
    session.add(user)
    session.flush()
    return user


def ensure_admin(url: Optional[str] = None, username: str = "admin") -> Tuple[str, Optional[str]]:
    """Make sure an active admin exists; create `admin` on first run.

    Returns (user name, password) when the password is known from ADMIN_PASSWORD
    (environment or .env) and still valid, else (user name, None). A generated
    password is kept in .env as ADMIN_PASSWORD so it can be shown again.
    """
    from deescalate.db.migrate import upgrade
    upgrade(url)
    known = os.environ.get("ADMIN_PASSWORD") or _env_file_value("ADMIN_PASSWORD")
    with session_factory(url)() as session:
        admin = session.query(User).filter_by(role="admin", active=True).order_by(User.id).first()
        if admin is None:
            password = known or secrets.token_urlsafe(12)
            admin = create_user(session, username, password, "admin", display_name="管理员")
            session.commit()
            if not known:
                _keep_in_env_file("ADMIN_PASSWORD", password)
            return admin.username, password
        if known and verify_password(known, admin.password_hash):
            return admin.username, known
        return admin.username, None


# ---------------------------------------------------------------- sessions

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str) -> str:
    return hmac.new(_secret_key(), payload.encode("ascii"), hashlib.sha256).hexdigest()


def _password_fingerprint(user: User) -> str:
    return hmac.new(_secret_key(), user.password_hash.encode(), hashlib.sha256).hexdigest()[:16]


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


def _session(request: Request) -> Optional[Dict[str, Any]]:
    if not hasattr(request.ctx, "session"):
        request.ctx.session = decode_session(request.cookies.get(COOKIE_NAME))
    return request.ctx.session


def _new_session(request: Request, user: Optional[User] = None) -> Dict[str, Any]:
    """A fresh session id (never reused across a login, against session fixation)."""
    data: Dict[str, Any] = {"sid": secrets.token_urlsafe(18), "exp": int(time.time()) + SESSION_SECONDS}
    if user is not None:
        data.update(uid=user.id, pv=_password_fingerprint(user))
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


def current_user(request: Request) -> Optional[User]:
    """The logged-in, active user of the request (cached on request.ctx.user)."""
    if getattr(request.ctx, "user", None) is not None:
        return request.ctx.user
    data = _session(request)
    if not data or not isinstance(data.get("uid"), int):
        return None
    with db_session() as session:
        user = session.get(User, data["uid"])
    if user is None or not user.active or not hmac.compare_digest(
            _password_fingerprint(user), str(data.get("pv", ""))):
        return None
    request.ctx.user = user
    return user


# ---------------------------------------------------------------- CSRF

def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session (HMAC of the session id)."""
    data = _session(request) or _new_session(request)
    return hmac.new(_secret_key(), f"csrf:{data['sid']}".encode(), hashlib.sha256).hexdigest()


class CsrfError(Exception):
    pass


def check_csrf(request: Request) -> None:
    """Raise CsrfError unless the request carries this session's token (form or header)."""
    data = _session(request)
    given = request.headers.get("X-CSRF-Token", "")
    if not given and request.content_type.startswith(("application/x-www-form-urlencoded",
                                                       "multipart/form-data")):
        given = request.form.get("csrf_token", "")
    if not data or not given or not hmac.compare_digest(csrf_token(request), given):
        raise CsrfError("missing or wrong CSRF token")


# ---------------------------------------------------------------- rendering and roles

def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTTPResponse:
    """Render a template (autoescaped) with `user`, `csrf_token` and `request` added."""
    user = getattr(request.ctx, "user", None) or current_user(request)
    html = templates.get_template(template).render(
        request=request, user=user, csrf_token=csrf_token(request), **context)
    resp = response.html(html, status=status)
    if getattr(request.ctx, "session_changed", False):
        set_session_cookie(resp, request.ctx.session)
    return resp


def error_page(request: Request, status: int, title: str, message: str) -> HTTPResponse:
    if wants_html(request):
        return render(request, "error.html", status=status, title=title, message=message)
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, "error")
    return response.json({"error": code, "message": message}, status=status)


def _login_redirect(request: Request) -> HTTPResponse:
    target = request.path + (f"?{request.query_string}" if request.query_string else "")
    return response.redirect(f"/login?next={_quote(target)}")


def _quote(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="/")


Handler = Callable[..., Coroutine[Any, Any, Optional[HTTPResponse]]]


def require_role(*roles: str) -> Callable[[Handler], Handler]:
    """Allow the handler only to logged-in users of `roles` (all roles when none given).

    Without a session: HTML pages redirect to /login, other requests get 401
    JSON. With a role not listed: 403 (page or JSON).
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: Request, *args: Any, **kwargs: Any) -> Optional[HTTPResponse]:
            user = current_user(request)
            if user is None:
                if wants_html(request):
                    return _login_redirect(request)
                return response.json({"error": "unauthorized", "message": "请先登录"}, status=401)
            if roles and user.role not in roles:
                return error_page(request, 403, "无权访问",
                                  f"您的角色（{ROLE_NAMES.get(user.role, user.role)}）不能使用此功能。")
            return await handler(request, *args, **kwargs)
        return wrapped
    return decorate


def add_security_headers(_request: Request, resp: HTTPResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)


bp.middleware(add_security_headers, "response")


@bp.listener("before_server_start")
async def _prepare_tables(_app: Any, _loop: Any) -> None:
    from deescalate.db.migrate import upgrade
    upgrade()
    _secret_key()


# ---------------------------------------------------------------- routes

_failures: Dict[str, Deque[float]] = defaultdict(deque)


def _too_many_failures(username: str) -> bool:
    if len(_failures) > 10000:  # forget stale names so guessing many names cannot fill memory
        for name in [n for n, times in _failures.items() if not times or times[-1] < time.monotonic() - LOGIN_FAILURE_WINDOW]:
            del _failures[name]
    recent = _failures[username]
    while recent and recent[0] < time.monotonic() - LOGIN_FAILURE_WINDOW:
        recent.popleft()
    return len(recent) >= LOGIN_FAILURES_ALLOWED


def _safe_next(target: Optional[str]) -> Optional[str]:
    """Only local paths, so the login cannot redirect to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _check_login(username: str, password: str) -> Optional[User]:
    with db_session() as session:
        user = session.query(User).filter_by(username=username).first()
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


@bp.get("/login")
async def login_form(request: Request) -> HTTPResponse:
    if current_user(request) is not None:
        return response.redirect(_safe_next(request.args.get("next")) or "/")
    return render(request, "login.html", next=_safe_next(request.args.get("next")) or "")


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    try:
        check_csrf(request)
    except CsrfError:
        _new_session(request)
        return render(request, "login.html", status=403, next="",
                      error="页面已过期，请重新登录。")
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    target = _safe_next(request.form.get("next"))
    if _too_many_failures(username):
        return render(request, "login.html", status=429, next=target or "", username=username,
                      error="登录失败次数过多，请 5 分钟后再试。")
    loop = asyncio.get_running_loop()
    user = await loop.run_in_executor(None, _check_login, username, password)
    if user is None:
        _failures[username].append(time.monotonic())
        return render(request, "login.html", status=401, next=target or "", username=username,
                      error="用户名或密码错误。")
    _failures.pop(username, None)
    resp = response.redirect(target or HOME_BY_ROLE.get(user.role, "/console"))
    set_session_cookie(resp, _new_session(request, user))
    return resp


@bp.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    try:
        check_csrf(request)
    except CsrfError:
        return error_page(request, 403, "请求无效", "缺少或错误的安全令牌，请刷新页面后重试。")
    resp = response.redirect("/login")
    set_session_cookie(resp, None)
    return resp


@bp.get("/")
async def home(request: Request) -> HTTPResponse:
    user = current_user(request)
    if user is None:
        return response.redirect("/login")
    return response.redirect(HOME_BY_ROLE.get(user.role, "/console"))
