"""The assist API: a Rasa input channel at /webhooks/assist/.

POST /webhooks/assist/webhook  one customer utterance -> analysis, suggestions, alerts
POST /webhooks/assist/agent    an agent's draft -> taboo families found; with send, recorded
GET  /webhooks/assist/case/<id> the case record as JSON (?format=text for readable Chinese)
GET  /webhooks/assist/         health

Requests are checked before anything reaches Rasa, so a bad request gets a
clear 4xx JSON error and leaves the case untouched. The answer merges the
payload of action_assist with the case id; when the action server cannot be
reached, the analysis is read from the parse Rasa stored for the turn and an
`unavailable` alert says suggestions are missing.
"""

import asyncio
import functools
import hashlib
import hmac
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from deescalate.assist.analysis import assist_in, emotion_peak, emotion_trend, parse_turn
from deescalate.assist.record import build_case_record, render_record_zh
from deescalate.assist.taboo import TabooChecker
from deescalate.audit import record_access
from deescalate.channels.rasa_api import install_rasa_api_guard
from deescalate.db.models import Case
from deescalate.events import assist_payloads
from deescalate.kb import KB_DIR, KnowledgeBase, load_kb
from deescalate.loaded_process import settle_after_load
from deescalate.ratelimit import client_address, rate_limiter
from deescalate.textnorm import not_a_command
from deescalate.tracker_store import stored_events
from deescalate.validation import MAX_MESSAGE_CHARS, json_object, printable, valid_case_id

logger = logging.getLogger(__name__)


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: Optional[int] = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    def as_response(self) -> HTTPResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return response.json({"error": self.code, "message": self.message}, status=self.status, headers=headers)


def answers_errors_as_json(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
    """Turn a RequestError raised by a route into its JSON error response."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        try:
            return await handler(request, *args, **kwargs)
        except RequestError as error:
            return error.as_response()

    return wrapper


def case_record(
    store: Any, tracker: DialogueStateTracker, events: List[Dict[str, Any]], kb: KnowledgeBase
) -> Dict[str, Any]:
    """What GET /case answers: the case row kept by the tracker store (derived from the events by the
    same rules when the store keeps none), the case's turns and its narrative.

    `events` are the session's stored events (`stored_events`): the tracker Rasa works with holds
    only the latest ones, without the assist answers."""
    store = getattr(store, "_tracker_store", store)  # Rasa wraps the store in a fail-safe one
    reader = getattr(store, "case_row", None)
    case: Optional[Case] = reader(tracker.sender_id) if callable(reader) else None
    return build_case_record(tracker.sender_id, events, kb, case=case, slots=tracker.current_slot_values())


def check_token(request: Request, expected: Optional[str]) -> None:
    """Bearer-token check, then the token's rate limit (ratelimit.yml); with no
    token configured the API refuses everyone."""
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise RequestError(401, "unauthorized", "missing or wrong bearer token")
    limited = rate_limiter().hit("assist_token", hashlib.sha256(given.encode()).hexdigest()[:16])
    if not limited.allowed:
        raise RequestError(
            429,
            "rate_limited",
            "too many requests for this token; retry later",
            retry_after=limited.retry_after_seconds,
        )


def json_body(request: Request) -> Dict[str, Any]:
    try:
        return json_object(request)
    except ValueError as error:
        raise RequestError(400, "invalid_json", str(error)) from None


def valid_sender(body: Dict[str, Any]) -> str:
    sender = body.get("sender")
    if not valid_case_id(sender):
        raise RequestError(400, "invalid_sender", "`sender` must be a case id of 1-128 letters, digits or _.:@-")
    return str(sender)


def valid_text(body: Dict[str, Any], key: str) -> str:
    text = body.get(key)
    if not isinstance(text, str):
        raise RequestError(400, f"invalid_{key}", f"`{key}` must be a string")
    text = printable(text)
    if not text:
        raise RequestError(400, f"empty_{key}", f"`{key}` is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise RequestError(413, f"{key}_too_long", f"`{key}` is longer than {MAX_MESSAGE_CHARS} characters")
    return text


def assist_payload(messages: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return next((payload for payload in map(assist_in, messages) if payload is not None), None)


async def analysis_from_tracker(request: Request, sender: str) -> Dict[str, Any]:
    """The analysis from the parse Rasa stored, for when no action answered."""
    tracker = await request.app.ctx.agent.tracker_store.retrieve(sender)
    parse = tracker.latest_message.parse_data if tracker and tracker.latest_message else {}
    turn = parse_turn(parse)
    events = await stored_events(request.app.ctx.agent.tracker_store, sender) or []
    history = [
        e["parse_data"].get("emotion", {}).get("name")
        for e in events
        if e.get("event") == "user" and e.get("parse_data")
    ]
    return {
        "intent": {"name": turn.intent, "confidence": turn.confidence},
        "low_confidence": turn.low_confidence,
        "emotion": {"name": turn.emotion, "confidence": turn.emotion_confidence},
        "emotion_trend": emotion_trend(history),
        "emotion_peak": emotion_peak(history),
        "cause": tracker.get_slot("cause") if tracker else None,
        "domain": tracker.get_slot("domain") if tracker else None,
        "escalation": turn.escalations,
        "risk": "high" if turn.escalations or turn.emotion == "furious" else "medium",
        "stage": (tracker.get_slot("stage") if tracker else None) or "listen",
    }


def valid_message_id(body: Dict[str, Any]) -> Optional[str]:
    """The client's id for this turn, if it gave one: a retry with the same id is not processed twice."""
    message_id = body.get("message_id")
    if message_id is None:
        return None
    if not valid_case_id(message_id):
        raise RequestError(400, "invalid_message_id", "`message_id` must be 1-128 of letters, digits, _.:@-")
    return message_id


async def answer_already_given(request: Request, sender: str, message_id: str) -> Optional[Dict[str, Any]]:
    """The stored answer to the turn with this message id, when the case already has it.

    A client that lost the answer (time-out, an instance that died after
    storing the turn) sends the turn again with the same id; it gets the
    answer that was stored instead of a second copy of the turn.
    """
    events = await stored_events(request.app.ctx.agent.tracker_store, sender) or []
    turn = next(
        (i for i, e in enumerate(events) if e.get("event") == "user" and e.get("message_id") == message_id), None
    )
    if turn is None:
        return None
    later = next((i for i, e in enumerate(events[turn + 1 :], turn + 1) if e.get("event") == "user"), len(events))
    payloads = assist_payloads(events[turn + 1 : later])
    payload = (
        payloads[0] if payloads else {"analysis": {}, "suggestions": [], "alerts": [UNAVAILABLE_ALERT], "knowledge": []}
    )
    return {**payload, "replayed": True}


async def record_agent_turn(request: Request, sender: str, text: str, metadata: Dict[str, Any]) -> None:
    """Append what the agent said to the case, under the conversation's lock."""
    agent = request.app.ctx.agent
    async with agent.lock_store.lock(sender):
        tracker = await agent.tracker_store.get_or_create_tracker(sender)
        tracker.update(BotUttered(text, metadata=metadata))
        await agent.tracker_store.save(tracker)


UNAVAILABLE_ALERT = {
    "kind": "unavailable",
    "text": "建议话术暂时不可用（动作服务器无响应），分析结果仍然有效，请按常规流程先安抚客户。",
}


class AssistInput(InputChannel):
    """Custom channel serving the contract's assist API."""

    @classmethod
    def name(cls) -> Text:
        return "assist"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        token = (credentials or {}).get("token") or os.environ.get("ASSIST_API_TOKEN")
        return cls(token, load_kb(KB_DIR))

    def __init__(self, token: Optional[str], kb: KnowledgeBase) -> None:
        self.token = token
        self.kb = kb
        self.taboo = TabooChecker(kb.taboo)

    async def _case_record(self, request: Request, case_id: str) -> HTTPResponse:
        check_token(request, self.token)
        if not valid_case_id(case_id):
            raise RequestError(400, "invalid_sender", "not a valid case id")
        store = request.app.ctx.agent.tracker_store
        tracker = await store.retrieve(case_id)
        if tracker is None:
            raise RequestError(404, "unknown_case", "no case with this id")
        await asyncio.get_running_loop().run_in_executor(  # the access audit trail (deescalate/audit.py)
            None, record_access, "assist-api", "api", "api_case", case_id, client_address(request), request.path
        )
        record = case_record(store, tracker, await stored_events(store, case_id) or [], self.kb)
        if request.args.get("format") == "text":
            return response.text(render_record_zh(record, self.kb))
        return response.json(record, ensure_ascii=False)

    async def _check_agent_draft(self, request: Request) -> HTTPResponse:
        check_token(request, self.token)
        body = json_body(request)
        sender = valid_sender(body)
        text = valid_text(body, "text")
        send = body.get("send", False)
        suggestion_id = body.get("suggestion_id")
        agent_name = body.get("agent")
        if agent_name is not None and not isinstance(agent_name, str):
            raise RequestError(400, "invalid_agent", "`agent` must be a string")
        if not isinstance(send, bool):
            raise RequestError(400, "invalid_send", "`send` must be true or false")
        if suggestion_id is not None and not isinstance(suggestion_id, str):
            raise RequestError(400, "invalid_suggestion_id", "`suggestion_id` must be a string")
        found = self.taboo.check(text)
        if send:
            await record_agent_turn(
                request,
                sender,
                text,
                {
                    "author": "agent",
                    "agent_name": agent_name,
                    "suggestion_id": suggestion_id,
                    "taboo": [f["id"] for f in found],
                },
            )
        return response.json({"case_id": sender, "taboo": found, "recorded": send}, ensure_ascii=False)

    async def _answer_utterance(
        self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        check_token(request, self.token)
        body = json_body(request)
        sender = valid_sender(body)
        text = not_a_command(valid_text(body, "message"))  # a customer's words are never a Rasa command
        message_id = valid_message_id(body)
        if message_id:
            replayed = await answer_already_given(request, sender, message_id)
            if replayed is not None:
                return response.json({"case_id": sender, **replayed}, ensure_ascii=False)
        collector = CollectingOutputChannel()
        await on_new_message(
            UserMessage(
                text,
                collector,
                sender,
                input_channel=self.name(),
                metadata={"channel": body.get("channel") or "hotline"},
                message_id=message_id,
            )
        )
        payload = assist_payload(collector.messages)
        if payload is None:
            logger.error("No assist payload for case %s; answering with the analysis only.", sender)
            payload = {
                "analysis": await analysis_from_tracker(request, sender),
                "suggestions": [],
                "alerts": [UNAVAILABLE_ALERT],
                "knowledge": [],
            }
        return response.json({"case_id": sender, **payload}, ensure_ascii=False)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("assist_webhook", __name__)

        @blueprint.listener("before_server_start")
        async def guard_rasa_http_api(app: Any, loop: Any) -> None:
            install_rasa_api_guard(app)

        @blueprint.listener("after_server_start")
        async def settle_loaded_model(app: Any, loop: Any) -> None:
            # The model is loaded before the server starts (Rasa loads it before_server_start).
            # Freezing its millions of objects keeps full collections, which otherwise stop a
            # turn for a quarter of a second, short (deescalate/loaded_process.py).
            settle_after_load()

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/case/<case_id>", methods=["GET"])
        @answers_errors_as_json
        async def case_record(request: Request, case_id: str) -> HTTPResponse:
            return await self._case_record(request, case_id)

        @blueprint.route("/agent", methods=["POST"])
        @answers_errors_as_json
        async def agent_draft(request: Request) -> HTTPResponse:
            return await self._check_agent_draft(request)

        @blueprint.route("/webhook", methods=["POST"])
        @answers_errors_as_json
        async def receive(request: Request) -> HTTPResponse:
            return await self._answer_utterance(request, on_new_message)

        return blueprint
