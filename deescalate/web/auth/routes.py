"""The login, logout and home routes; the tables and secret are ready before serving."""

import asyncio
from typing import Any, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.db.models import User
from deescalate.ratelimit import client_address, rate_limiter
from deescalate.web.auth import lockout
from deescalate.web.auth.accounts import db_session, secret_key
from deescalate.web.auth.csrf import CsrfError, check_csrf
from deescalate.web.auth.pages import HOME_BY_ROLE, add_security_headers, error_page, render
from deescalate.web.auth.passwords import DUMMY_HASH, verify_password
from deescalate.web.auth.sessions import current_user, end_session, new_session, set_session_cookie

bp = Blueprint("auth")
bp.middleware(add_security_headers, "response")


@bp.listener("before_server_start")
async def _prepare_tables(_app: Any, _loop: Any) -> None:
    from deescalate.db.migrate import upgrade

    upgrade()
    secret_key()


def _safe_next(target: Optional[str]) -> Optional[str]:
    """Only local paths, so the login cannot redirect to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _check_login(username: str, password: str) -> Optional[User]:
    with db_session() as session:
        user = session.query(User).filter_by(username=username).first()
    if user is None or not user.active:
        verify_password(password, DUMMY_HASH)
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
        new_session(request)
        return render(request, "login.html", status=403, next="", error="页面已过期，请重新登录。")
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    target = _safe_next(request.form.get("next"))
    address = client_address(request)
    again = dict(next=target or "", username=username)
    loop = asyncio.get_running_loop()
    if await loop.run_in_executor(None, lockout.is_locked, username):
        return render(request, "login.html", status=429, **again, error="登录失败次数过多，请 5 分钟后再试。")
    limited = rate_limiter().hit_each([("login_address", address), ("login_name", username[:128])])
    if not limited.allowed:
        resp = render(
            request,
            "login.html",
            status=429,
            **again,
            error=f"登录尝试过于频繁，请 {limited.retry_after_seconds} 秒后再试。",
        )
        resp.headers["Retry-After"] = str(limited.retry_after_seconds)
        return resp
    user = await loop.run_in_executor(None, _check_login, username, password)
    if user is None:
        await loop.run_in_executor(None, lockout.record_failure, username, address)
        return render(request, "login.html", status=401, **again, error="用户名或密码错误。")
    await loop.run_in_executor(None, lockout.clear_failures, username)
    resp = response.redirect(target or HOME_BY_ROLE.get(user.role, "/console"))
    set_session_cookie(resp, new_session(request, user))
    return resp


@bp.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    try:
        check_csrf(request)
    except CsrfError:
        return error_page(request, 403, "请求无效", "缺少或错误的安全令牌，请刷新页面后重试。")
    end_session(request)
    resp = response.redirect("/login")
    set_session_cookie(resp, None)
    return resp


@bp.get("/")
async def home(request: Request) -> HTTPResponse:
    user = current_user(request)
    if user is None:
        return response.redirect("/login")
    return response.redirect(HOME_BY_ROLE.get(user.role, "/console"))
