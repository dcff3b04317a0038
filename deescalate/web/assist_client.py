"""The web server's client of Rasa's assist API.

The browser never sees the assist API token: the console's routes forward
customer utterances and agent drafts with the server's token.
"""

import asyncio
import logging
from typing import Any, Dict, Tuple

import aiohttp
from sanic.request import Request

logger = logging.getLogger(__name__)

ASSIST_TIMEOUT = aiohttp.ClientTimeout(total=60)


async def open_client(app: Any, _loop: Any) -> None:
    app.ctx.console_http = aiohttp.ClientSession(timeout=ASSIST_TIMEOUT)


async def close_client(app: Any, _loop: Any) -> None:
    await app.ctx.console_http.close()


async def call_assist(request: Request, path: str, body: Dict[str, Any]) -> Tuple[int, Dict[str, Any]]:
    """POST to Rasa's assist API with the server's token; (status, JSON answer)."""
    url = request.app.config.RASA_URL.rstrip("/") + f"/webhooks/assist/{path}"
    headers = {"Authorization": f"Bearer {request.app.config.ASSIST_API_TOKEN}"}
    try:
        async with request.app.ctx.console_http.post(url, json=body, headers=headers) as reply:
            try:
                answer = await reply.json(content_type=None)
            except ValueError:
                answer = {"error": "bad_answer", "message": "助手服务返回了无法识别的内容"}
            return reply.status, answer if isinstance(answer, dict) else {"error": "bad_answer"}
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        logger.warning("assist API unreachable at %s: %s", url, error)
        return 502, {"error": "assist_unavailable", "message": "助手服务暂时无法连接，请稍后重试"}
