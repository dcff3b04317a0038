"""The website chat widget and a demo bank page that embeds it.

    <script src="http://127.0.0.1:8000/widget.js"></script>

is all a page needs: GET /widget.js answers one script holding the Socket.IO
client (deescalate/web/static/vendor/socket.io-client, MIT), the widget
(static/widget/widget.js) and its settings. The widget talks straight to
Rasa's Socket.IO channel (credentials.yml `socketio:`), so the bot answers the
customer with the same NLU, stage logic and knowledge base as the agent
console.

Settings (environment): WIDGET_RASA_URL is where browsers reach Rasa
(default RASA_URL); WIDGET_TITLE is the panel title.
"""

import json
import os
from pathlib import Path
from typing import Any, Dict, Tuple

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.validation import MAX_MESSAGE_CHARS
from deescalate.web.auth import templates

STATIC_DIR = Path(__file__).resolve().parent / "static"
SOCKETIO_CLIENT = STATIC_DIR / "vendor" / "socket.io-client" / "socket.io.min.js"
WIDGET_SCRIPT = STATIC_DIR / "widget" / "widget.js"

bp = Blueprint("widget")

_cache: Dict[Path, Tuple[float, str]] = {}


def _read(path: Path) -> str:
    """File text, re-read only when the file changes."""
    mtime = path.stat().st_mtime
    cached = _cache.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, path.read_text(encoding="utf-8"))
        _cache[path] = cached
    return cached[1]


def base_url(request: Request) -> str:
    """This server's address as the browser sees it (scheme and Host header)."""
    return f"{request.scheme}://{request.host}"


def rasa_public_url(request: Request) -> str:
    return (os.environ.get("WIDGET_RASA_URL") or request.app.config.RASA_URL).rstrip("/")


def widget_config(request: Request) -> Dict[str, Any]:
    """What the widget script needs to know, given to it as a JSON literal."""
    return {
        "socketUrl": rasa_public_url(request),
        "socketPath": "/socket.io/",
        "cssUrl": f"{base_url(request)}/static/widget/widget.css",
        "title": os.environ.get("WIDGET_TITLE", "在线客服"),
        "subtitle": "投诉与建议 · 智能客服，可随时转人工",
        "greeting": (
            "您好，这里是在线客服。请直接说说您遇到的问题，我会尽力帮您处理；"
            "需要人工服务时，随时点“转人工”或直接告诉我。"
        ),
        "privacyNote": "请勿发送密码、验证码或完整卡号",
        "maxChars": MAX_MESSAGE_CHARS,
    }


def _js_literal(value: Any) -> str:
    """JSON that is also safe to sit in a script: no '</script>' or line separators."""
    text = json.dumps(value, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def widget_bundle(config: Dict[str, Any]) -> str:
    """The Socket.IO client and the widget in one script, leaving the page's globals alone.

    The client's UMD wrapper would register with an AMD loader or overwrite a
    page's own `io`; it runs here with `define`/`module`/`exports` shadowed and
    any previous `window.io` put back, so only the widget holds this copy.
    """
    client = "\n".join(
        line for line in _read(SOCKETIO_CLIENT).splitlines() if not line.startswith("//# sourceMappingURL=")
    )
    return (
        "/*! Complaint de-escalation assistant: website chat widget.\n"
        " * Includes the Socket.IO client (MIT licence, see /static/vendor/socket.io-client/LICENSE). */\n"
        "(function () {\n"
        "var script = document.currentScript;\n"
        "var io = (function (define, module, exports) {\n"
        "  var hadIo = Object.prototype.hasOwnProperty.call(window, 'io'), pageIo = window.io;\n"
        f"{client}\n"
        "  var lib = window.io;\n"
        "  if (hadIo) { window.io = pageIo; } else { try { delete window.io; } catch (e) { window.io = undefined; } }\n"
        "  return lib;\n"
        "})();\n"
        f"{_read(WIDGET_SCRIPT)}\n"
        f"mountChatWidget(io, {_js_literal(config)}, script);\n"
        "})();\n"
    )


@bp.get("/widget.js")
async def widget_js(request: Request) -> HTTPResponse:
    return response.text(
        widget_bundle(widget_config(request)),
        content_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def demo_page_policy(request: Request) -> str:
    """The demo page's Content-Security-Policy: only this server and Rasa."""
    rasa = rasa_public_url(request)
    socket = "ws" + rasa[len("http") :] if rasa.startswith("http") else rasa
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {rasa} {socket}; frame-ancestors 'none'; base-uri 'none'; "
        f"form-action 'self'"
    )


@bp.get("/demo-bank")
async def demo_bank(request: Request) -> HTTPResponse:
    """A page of a fictional bank, with the widget embedded by its one script tag."""
    html = templates.get_template("widget/demo_bank.html").render(widget_src=f"{base_url(request)}/widget.js")
    return response.html(
        html,
        headers={
            "Content-Security-Policy": demo_page_policy(request),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
