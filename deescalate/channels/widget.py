"""The website chat widget's channel: Rasa's Socket.IO channel, made safe for customers.

credentials.yml:

    deescalate.channels.widget.WidgetInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true

It keeps Rasa's SocketIOInput (name `socketio`, path /socket.io, the same
events) and changes five things:

- `session_request` awaits `enter_room`. Rasa 3.6 calls it without await,
  and with python-socketio 5.x, where it is a coroutine, the browser never
  joins its session's room and never hears the bot (RasaHQ/rasa#13027).
- The server issues the conversation ids (`chat-` and 32 hex digits) and
  accepts back only ids of that shape, so a browser cannot write into a
  hotline case by naming its id.
- Custom payloads are not sent: the assist answer (analysis, risk, the
  agents' suggestions and alerts) is for agents, not for the customer.
- Messages are checked like the assist API's (text, 1-2000 characters after
  removing control characters); client metadata is not taken over.
- Messages over the rate limits (per conversation and per client address,
  deescalate/ratelimit.yml) are not taken: the customer is told, politely,
  to wait, and nothing reaches the NLU or the case.
"""

import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from deescalate.channels.assist import RequestError, valid_text
from deescalate.ratelimit import client_address, rate_limiter
from deescalate.textnorm import not_a_command

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^chat-[0-9a-f]{32}$")
# Said in the conversation, and the message not taken, when a browser sends
# faster than ratelimit.yml allows.
SLOW_DOWN = "您发送得有些快，这条消息没有收到。请稍等 {} 秒后再发送，我们一直在。"


def new_session_id() -> str:
    return f"chat-{uuid.uuid4().hex}"


class WidgetOutput(SocketIOOutput):
    """Sends the bot's text and buttons; keeps agent-facing custom payloads back."""

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        logger.debug("custom payload for %s not sent to the customer", recipient_id)


class WidgetInput(SocketIOInput):
    """Rasa's Socket.IO channel with server-issued session ids (see the module doc)."""

    def _address(self, sid: Text) -> str:
        """The client address of a Socket.IO connection (its first HTTP request)."""
        environ = (self.sio.get_environ(sid, namespace=self.namespace) if self.sio is not None else None) or {}
        request = environ.get("sanic.request")
        return client_address(request) if request is not None else "unknown"

    def get_output_channel(self) -> Optional[OutputChannel]:
        return WidgetOutput(self.sio, self.bot_message_evt) if self.sio is not None else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        namespace = self.namespace

        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            wanted = (data or {}).get("session_id") if isinstance(data, dict) else None
            session_id = wanted if isinstance(wanted, str) and SESSION_ID.match(wanted) else new_session_id()
            await sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        async def handle_message(sid: Text, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id")
            if not isinstance(session_id, str) or session_id not in sio.rooms(sid, namespace=namespace):
                logger.debug("message from %s without a confirmed session: ignored", sid)
                return
            try:
                text = not_a_command(valid_text(data, "message"))  # never a Rasa command
            except RequestError as error:
                logger.debug("message from %s ignored: %s", sid, error.code)
                return
            limited = rate_limiter().hit_each(
                [("widget_conversation", session_id), ("widget_address", self._address(sid))]
            )
            if not limited.allowed:
                await sio.emit(
                    self.bot_message_evt,
                    {"text": SLOW_DOWN.format(limited.retry_after_seconds)},
                    room=sid,
                    namespace=namespace,
                )
                return
            output = WidgetOutput(sio, self.bot_message_evt)
            await on_new_message(UserMessage(text, output, session_id, input_channel=self.name(), metadata={}))

        # Registering again for the same event replaces Rasa's handlers.
        sio.on("session_request", session_request, namespace=namespace)
        sio.on(self.user_message_evt, handle_message, namespace=namespace)
        if not self.session_persistence:
            logger.warning("the widget channel always keeps sessions; session_persistence: false is ignored")
        return blueprint
