"""Pages and guards shared by every surface: templates, roles, error pages, security headers."""

import functools
from pathlib import Path
from typing import Any, Callable, Coroutine, Optional
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.db.models import ROLES
from deescalate.web.auth.csrf import csrf_token
from deescalate.web.auth.sessions import current_user, set_session_cookie

WEB_DIR = Path(__file__).resolve().parents[1]

ROLE_NAMES = {"agent": "坐席", "supervisor": "主管", "trainer": "培训师", "admin": "管理员"}
HOME_BY_ROLE = {"agent": "/console", "supervisor": "/console", "trainer": "/review", "admin": "/console"}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

templates = Environment(
    loader=FileSystemLoader(str(WEB_DIR / "templates")),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["ROLE_NAMES"] = ROLE_NAMES


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTTPResponse:
    """Render a template (autoescaped) with `user`, `csrf_token` and `request` added."""
    user = getattr(request.ctx, "user", None) or current_user(request)
    html = templates.get_template(template).render(
        request=request, user=user, csrf_token=csrf_token(request), **context
    )
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
    return response.redirect(f"/login?next={quote(target, safe='/')}")


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
                return error_page(
                    request, 403, "无权访问", f"您的角色（{ROLE_NAMES.get(user.role, user.role)}）不能使用此功能。"
                )
            return await handler(request, *args, **kwargs)

        return wrapped

    return decorate


def add_security_headers(_request: Request, resp: HTTPResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
