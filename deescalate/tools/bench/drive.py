"""The bench's HTTP drivers: one measured kind of turn (Endpoint), timed turns, and the
single-stream, growth, concurrent-case and throughput loops."""

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence

import aiohttp

from deescalate.tools.bench.settings import (
    FLOOR_TEXT,
    BenchError,
    summarize,
)


@dataclass(frozen=True)
class Endpoint:
    """Where one measured kind of turn goes, and how its answer is checked."""

    name: str
    url: str
    kind: str  # "assist", "rest" or "parse"
    headers: Dict[str, str] = field(default_factory=dict)

    def body(self, sender: str, text: str) -> Dict[str, Any]:
        return {"text": text} if self.kind == "parse" else {"sender": sender, "message": text}


def check_answer(endpoint: Endpoint, answer: Any) -> None:
    """Raise BenchError unless the answer is the full path we mean to measure."""
    if endpoint.kind == "assist":
        alerts = answer.get("alerts") or [] if isinstance(answer, dict) else []
        if not isinstance(answer, dict) or "suggestions" not in answer:
            raise BenchError(f"{endpoint.name}: no assist answer: {str(answer)[:200]}")
        if any(isinstance(a, dict) and a.get("kind") == "unavailable" for a in alerts):
            raise BenchError(f"{endpoint.name}: the action server did not answer (alert `unavailable`)")
    elif endpoint.kind == "rest":
        if not (isinstance(answer, list) and answer and answer[0].get("text") == FLOOR_TEXT):
            raise BenchError(f"{endpoint.name}: unexpected answer {str(answer)[:200]}")
    elif not (isinstance(answer, dict) and isinstance(answer.get("intent"), dict)):
        raise BenchError(f"{endpoint.name}: unexpected parse {str(answer)[:200]}")


async def timed_turn(session: aiohttp.ClientSession, endpoint: Endpoint, sender: str, text: str) -> float:
    """One request; milliseconds from sending to the whole answer read. The answer is checked after."""
    began = time.perf_counter()
    async with session.post(endpoint.url, json=endpoint.body(sender, text), headers=endpoint.headers) as reply:
        content = await reply.read()
    elapsed = (time.perf_counter() - began) * 1000
    if reply.status != 200:
        raise BenchError(f"{endpoint.name}: HTTP {reply.status}: {content[:200]!r}")
    check_answer(endpoint, json.loads(content))
    return elapsed


async def tracker_sizes(
    session: aiohttp.ClientSession, urls: Dict[str, str], names: Sequence[str], sender: str
) -> Dict[str, Dict[str, float]]:
    """Events and JSON size of each long case's tracker, as Rasa's API gives it (and as
    Rasa posts it to an action server every turn)."""
    sizes = {}
    for name in names:
        async with session.get(urls[name].format(sender)) as reply:
            content = await reply.read()
        if reply.status != 200:
            raise BenchError(f"{name}: tracker of {sender}: HTTP {reply.status}")
        sizes[name] = {"events": len(json.loads(content).get("events") or []), "kib": round(len(content) / 1024, 1)}
    return sizes


def rotated(items: Sequence[Any], shift: int) -> List[Any]:
    """The items starting at `shift`: which target goes first changes from turn to turn."""
    shift %= len(items)
    return list(items[shift:]) + list(items[:shift])


async def warm_up(
    session: aiohttp.ClientSession, endpoints: Sequence[Endpoint], utterances: Sequence[str], turns: int, prefix: str
) -> None:
    for number in range(turns):
        for endpoint in endpoints:
            await timed_turn(session, endpoint, f"{prefix}-warm{number}", utterances[number % len(utterances)])


async def single_stream(
    session: aiohttp.ClientSession,
    endpoints: Sequence[Endpoint],
    utterances: Sequence[str],
    turns: int,
    case_turns: int,
    prefix: str,
) -> Dict[str, List[float]]:
    """Each turn to every target in turn, one request at a time; case `i // case_turns`."""
    latencies: Dict[str, List[float]] = {e.name: [] for e in endpoints}
    for number in range(turns):
        sender = f"{prefix}-ss{number // case_turns:04d}"
        text = utterances[number % len(utterances)]
        for endpoint in rotated(endpoints, number):
            latencies[endpoint.name].append(await timed_turn(session, endpoint, sender, text))
    return latencies


async def growth(
    session: aiohttp.ClientSession, endpoints: Sequence[Endpoint], utterances: Sequence[str], turns: int, prefix: str
) -> Dict[str, List[float]]:
    """One case per target driven for `turns` turns, targets interleaved turn by turn."""
    latencies: Dict[str, List[float]] = {e.name: [] for e in endpoints}
    for number in range(turns):
        text = utterances[(number * 7) % len(utterances)]
        for endpoint in rotated(endpoints, number):
            latencies[endpoint.name].append(await timed_turn(session, endpoint, f"{prefix}-long", text))
    return latencies


async def concurrent_cases(
    session: aiohttp.ClientSession, endpoint: Endpoint, utterances: Sequence[str], cases: int, turns: int, prefix: str
) -> Dict[str, Any]:
    """`cases` cases at once, each sending its turns one after another."""
    latencies: List[float] = []

    async def case(index: int) -> None:
        for number in range(turns):
            text = utterances[(index * 31 + number) % len(utterances)]
            latencies.append(await timed_turn(session, endpoint, f"{prefix}-cc{index:03d}", text))

    began = time.perf_counter()
    await asyncio.gather(*(case(i) for i in range(cases)))
    seconds = time.perf_counter() - began
    return {
        "cases": cases,
        "turns_per_case": turns,
        "seconds": round(seconds, 2),
        "turns_per_s": round(len(latencies) / seconds, 1),
        **summarize(latencies),
    }


async def parse_throughput(
    session: aiohttp.ClientSession, endpoint: Endpoint, utterances: Sequence[str], clients: int, parses: int
) -> Dict[str, Any]:
    """`parses` requests shared by `clients` concurrent clients."""
    latencies: List[float] = []

    async def client(index: int) -> None:
        for number in range(index, parses, clients):
            latencies.append(await timed_turn(session, endpoint, "", utterances[number % len(utterances)]))

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    seconds = time.perf_counter() - began
    return {
        "clients": clients,
        "parses": parses,
        "seconds": round(seconds, 2),
        "parses_per_s": round(parses / seconds, 1),
        **summarize(latencies),
    }
