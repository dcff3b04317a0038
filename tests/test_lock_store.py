"""The lock store of the scale-out layout: a turn waiting behind a dead
instance's ticket gets the lock once that ticket expires."""

import asyncio
import time

import pytest
from rasa.core.lock_store import InMemoryLockStore, LockError

from deescalate.lock_store import RenewingTickets
from deescalate.tools.stack import lock_store_env

DEAD_LIFETIME = 1.0


class RenewingInMemoryLockStore(RenewingTickets, InMemoryLockStore):
    """The Redis store's waiting logic over Rasa's in-memory storage (no Redis needed).

    As in Rasa (60 s lifetime, a poll a second), a renewal outlasts one poll."""

    ticket_lifetime = 3.0


async def wait_behind_dead_ticket(store: InMemoryLockStore) -> float:
    store.issue_ticket("case-1", DEAD_LIFETIME)  # its instance was killed while holding it
    await asyncio.sleep(0.4)  # the client retries on another instance
    started = time.monotonic()

    async def turn() -> None:
        async with store.lock("case-1", lock_lifetime=DEAD_LIFETIME, wait_time_in_seconds=1.0):
            pass

    await asyncio.wait_for(turn(), timeout=6)
    return time.monotonic() - started


def test_rasa_alone_never_serves_a_turn_waiting_behind_a_dead_ticket() -> None:
    """Why the renewing store exists: with Rasa's own, both tickets expire between two polls."""
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(wait_behind_dead_ticket(InMemoryLockStore()))


def test_waiting_turn_is_served_once_the_dead_ticket_expires() -> None:
    waited = asyncio.run(wait_behind_dead_ticket(RenewingInMemoryLockStore()))
    assert 0.4 <= waited < 3.0
    assert RenewingInMemoryLockStore().get_lock("case-1") is None


def test_a_waiter_whose_ticket_is_gone_fails_at_once() -> None:
    store = RenewingInMemoryLockStore()
    store.issue_ticket("case-2", 30)  # a live holder
    lock = store.get_lock("case-2")

    async def turn() -> None:
        async with store.lock("case-2", wait_time_in_seconds=0.05):
            pass

    async def lose_ticket() -> None:
        task = asyncio.create_task(turn())
        await asyncio.sleep(0.1)
        lock.tickets.pop()  # the waiter's ticket vanishes from the store
        store.save_lock(lock)
        await task

    with pytest.raises(LockError):
        asyncio.run(asyncio.wait_for(lose_ticket(), timeout=3))


def test_lock_store_settings_follow_redis_url() -> None:
    assert lock_store_env({})["LOCK_STORE_TYPE"] == "in_memory"
    redis = lock_store_env({"REDIS_URL": "redis://:s%40cret@127.0.0.1:6390/3"})
    assert redis == {
        "LOCK_STORE_TYPE": "deescalate.lock_store.RenewingRedisLockStore",
        "LOCK_STORE_HOST": "127.0.0.1",
        "LOCK_STORE_PORT": "6390",
        "LOCK_STORE_DB": "3",
        "LOCK_STORE_PASSWORD": "s@cret",
    }
