"""The rate limiter: the rule, both backends, the settings file."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from deescalate.ratelimit import Decision, Limit, MemoryBackend, RateLimiter, RedisBackend, gcra, load_settings
from deescalate.tools.scale_services import ensure_packages
from deescalate.tools.scale_settings import ScaleSettings


def test_gcra_lets_a_burst_through_then_one_per_interval():
    limit = Limit(count=5, seconds=10)  # a burst of 5, then one every 2 s
    tat, now, allowed = None, 1000.0, []
    for _ in range(8):
        decision, tat = gcra(tat, now, limit)
        allowed.append(decision.allowed)
    assert allowed == [True] * 5 + [False] * 3
    refused, _ = gcra(tat, now, limit)
    assert 1.9 < refused.retry_after <= 2.0
    assert gcra(tat, now + 2.0, limit)[0].allowed  # after one interval: one more
    assert not gcra(gcra(tat, now + 2.0, limit)[1], now + 2.0, limit)[0].allowed
    assert all(gcra(tat, now + 10.0, limit)[0].allowed for _ in range(3))  # a quiet client is whole again


def test_retry_after_is_whole_seconds_and_at_least_one():
    assert Decision(False, 0.01).retry_after_seconds == 1
    assert Decision(False, 2.2).retry_after_seconds == 3


def test_memory_backend_counts_each_key_apart_and_stays_bounded():
    limiter = RateLimiter({"widget_conversation": Limit(3, 60)}, MemoryBackend(max_keys=50))
    assert [limiter.hit("widget_conversation", "a").allowed for _ in range(5)] == [True] * 3 + [False] * 2
    assert limiter.hit("widget_conversation", "b").allowed  # another conversation is served
    assert limiter.hit("no_such_limit", "a").allowed  # unknown names are not limited
    for n in range(500):
        limiter.hit("widget_conversation", f"k{n}")
    assert len(limiter.backend._tat) == 50


def test_hit_each_stops_at_the_first_refusal_without_counting_the_rest():
    limiter = RateLimiter({"one": Limit(1, 60), "two": Limit(2, 60)}, MemoryBackend())
    assert limiter.hit_each([("one", "x"), ("two", "x")]).allowed
    assert not limiter.hit_each([("one", "x"), ("two", "x")]).allowed  # "one" refuses; "two" not counted
    assert [limiter.hit("two", "x").allowed for _ in range(2)] == [True, False]


def test_settings_file_names_every_limit_the_product_uses():
    settings = load_settings()
    assert set(settings["limits"]) == {
        "widget_conversation",
        "widget_address",
        "assist_token",
        "login_name",
        "login_address",
    }
    assert all(limit.count >= 1 and limit.seconds > 0 for limit in settings["limits"].values())


def test_a_broken_settings_file_is_refused(tmp_path: Path):
    bad = tmp_path / "limits.yml"
    bad.write_text("limits:\n  widget_conversation: {count: 0, seconds: 60}\n", encoding="utf-8")
    with pytest.raises(ValueError):
        load_settings(bad)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def redis_url(tmp_path: Path):
    """A private redis-server on loopback: Debian's, installed as `make scale-up` and the scale test install it."""
    if shutil.which("redis-server") is None:
        try:
            ensure_packages(ScaleSettings.from_yaml())
        except (subprocess.CalledProcessError, FileNotFoundError) as error:
            pytest.skip(f"redis-server could not be installed from Debian: {error}")
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (make scale-up installs it)")
    port = _free_port()
    process = subprocess.Popen(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/1"
    process.terminate()
    process.wait(timeout=10)


def test_redis_backend_shares_the_count_between_instances(redis_url: str):
    limits = {"assist_token": Limit(4, 60)}
    first = RateLimiter(limits, RedisBackend(redis_url))
    second = RateLimiter(limits, RedisBackend(redis_url))  # another instance, same Redis
    seen = [
        first.hit("assist_token", "t").allowed,
        second.hit("assist_token", "t").allowed,
        first.hit("assist_token", "t").allowed,
        second.hit("assist_token", "t").allowed,
        first.hit("assist_token", "t"),
        second.hit("assist_token", "t"),
    ]
    assert seen[:4] == [True] * 4
    assert not seen[4].allowed and not seen[5].allowed
    assert 14 < seen[5].retry_after <= 15  # one call every 15 s
    assert first.hit("assist_token", "another-token").allowed


def test_redis_that_cannot_be_reached_lets_calls_through():
    limiter = RateLimiter({"assist_token": Limit(1, 60)}, RedisBackend(f"redis://127.0.0.1:{_free_port()}/1"))
    assert limiter.hit("assist_token", "t").allowed and limiter.hit("assist_token", "t").allowed
