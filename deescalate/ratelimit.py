"""Rate limits for the widget, the assist API and the login: one interface, two backends.

    limiter = rate_limiter()                      # from ratelimit.yml and REDIS_URL
    decision = limiter.hit("widget_conversation", session_id)
    if not decision.allowed: ...                   # refuse, tell the client decision.retry_after

The rule is GCRA (the generic cell rate algorithm, a token bucket kept as one
timestamp per key): a limit of `count` per `seconds` lets `count` calls
through at once and then one every seconds/count. A refused call does not
count, so a client that floods is held to the limit and no further.

Backends: `MemoryBackend` for one process; `RedisBackend` when REDIS_URL is
set (scale-out), where one Lua script reads and moves the timestamp
atomically on Redis's own clock, so every instance sees the same count.
The `limits` package would do this, but its releases need a `packaging`
newer than Rasa 3.6 allows.
"""

import functools
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Protocol, Tuple

import yaml

logger = logging.getLogger(__name__)

SETTINGS_FILE = Path(__file__).resolve().with_suffix(".yml")


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float

    @property
    def interval(self) -> float:
        return self.seconds / self.count


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until the next call would be allowed

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds for a Retry-After header (at least 1)."""
        return max(1, math.ceil(self.retry_after))


def gcra(tat: Optional[float], now: float, limit: Limit) -> Tuple[Decision, float]:
    """One GCRA step: the decision and the new theoretical arrival time."""
    tat = max(tat or now, now)
    new_tat = tat + limit.interval
    allow_at = new_tat - limit.seconds
    if allow_at > now:
        return Decision(False, allow_at - now), tat
    return Decision(True), new_tat


class Backend(Protocol):
    def hit(self, key: str, limit: Limit) -> Decision: ...


class MemoryBackend:
    """Counts in this process (one machine, one instance)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._tat: "OrderedDict[str, float]" = OrderedDict()
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def hit(self, key: str, limit: Limit) -> Decision:
        now = time.monotonic()
        with self._lock:
            decision, tat = gcra(self._tat.get(key), now, limit)
            self._tat[key] = tat
            self._tat.move_to_end(key)
            while len(self._tat) > self.max_keys:  # many keys cannot fill the memory
                self._tat.popitem(last=False)
        return decision


# KEYS[1]: the key; ARGV: interval and period in microseconds. Returns
# {allowed (0/1), retry_after in microseconds}.
_GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"""


class RedisBackend:
    """Counts in Redis, shared by every instance that uses the same REDIS_URL."""

    def __init__(self, url: str, prefix: str = "dx:rate:") -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix
        self._script = self.client.register_script(_GCRA_SCRIPT)

    def hit(self, key: str, limit: Limit) -> Decision:
        """A Redis that cannot be reached lets the call through (logged): the
        lock store fails those turns anyway, and a limiter outage must not
        stop the service."""
        import redis

        try:
            allowed, wait = self._script(
                keys=[self.prefix + key], args=[int(limit.interval * 1e6), int(limit.seconds * 1e6)]
            )
        except redis.RedisError as error:
            logger.warning("rate limit not checked, Redis unavailable: %s", error)
            return Decision(True)
        return Decision(bool(allowed), int(wait) / 1e6)


class RateLimiter:
    """Named limits (ratelimit.yml) over one backend."""

    def __init__(self, limits: Dict[str, Limit], backend: Backend) -> None:
        self.limits = limits
        self.backend = backend

    def hit(self, name: str, who: str) -> Decision:
        """Count one call of `who` against limit `name`; unknown names always pass."""
        limit = self.limits.get(name)
        if limit is None:
            return Decision(True)
        return self.backend.hit(f"{name}:{who}", limit)

    def hit_each(self, checks: Iterable[Tuple[str, str]]) -> Decision:
        """Check (name, who) pairs in order; stop at the first refusal (later ones are not counted)."""
        for name, who in checks:
            decision = self.hit(name, who)
            if not decision.allowed:
                return decision
        return Decision(True)


def load_settings(path: Optional[Path] = None) -> Dict[str, Any]:
    path = Path(path or os.environ.get("RATE_LIMITS_FILE") or SETTINGS_FILE)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    limits = {}
    for name, spec in (data.get("limits") or {}).items():
        count, seconds = int(spec["count"]), float(spec["seconds"])
        if count < 1 or seconds <= 0:
            raise ValueError(f"{path}: limit {name} needs count >= 1 and seconds > 0")
        limits[name] = Limit(count, seconds)
    return {
        "limits": limits,
        "max_memory_keys": int(data.get("max_memory_keys", 100_000)),
        "redis_key_prefix": str(data.get("redis_key_prefix", "dx:rate:")),
    }


def build_limiter(settings: Dict[str, Any], redis_url: Optional[str]) -> RateLimiter:
    if redis_url:
        backend: Backend = RedisBackend(redis_url, settings["redis_key_prefix"])
    else:
        backend = MemoryBackend(settings["max_memory_keys"])
    return RateLimiter(settings["limits"], backend)


@functools.lru_cache(maxsize=1)
def rate_limiter() -> RateLimiter:
    """This process's limiter: Redis when REDIS_URL is set (as for the lock store), else memory."""
    return build_limiter(load_settings(), os.environ.get("REDIS_URL") or None)


def client_address(request: Any) -> str:
    """The client's address: Sanic's forwarded address when proxies are configured, else the peer."""
    return getattr(request, "remote_addr", "") or getattr(request, "ip", "") or "unknown"
