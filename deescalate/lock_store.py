"""Rasa's Redis lock store, with waiting turns that keep their place.

Rasa 3.6 queues the turns of one conversation with tickets that expire after
LOCK_LIFETIME (60 s), so that a Rasa instance that dies holding the lock
does not block the conversation for ever. A turn that waits behind such a
dead ticket has a ticket of the same lifetime, issued a moment later: when
the dead ticket expires, the waiting turn polls once a second, and if its
own ticket expired in between, the lock has no ticket left that it could
ever be served by, so it waits until its client gives up (seen in the
scale-out load test: a turn retried after `kill -9` of one instance).

Here a waiting turn renews its own ticket on every poll, so a live waiter
never loses its place, while a dead instance's ticket still expires after
LOCK_LIFETIME. A waiter whose ticket is gone all the same fails at once with
Rasa's LockError (the client sees a 500 and may retry) instead of waiting
for ever.

endpoints.yml (deescalate/tools/stack.py sets these when REDIS_URL is set):

    lock_store:
      type: deescalate.lock_store.RenewingRedisLockStore
      url: 127.0.0.1
      port: 6379
      db: 1
"""

import asyncio
import logging
import time
from typing import Any, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)


class RenewingTickets:
    """Mixin for a Rasa LockStore: waiting tickets are renewed, never left to expire."""

    ticket_lifetime: float = LOCK_LIFETIME

    def renew(self, lock: TicketLock, ticket: int) -> bool:
        """Move the expiry of `ticket` to a full lifetime from now; False when it is gone."""
        for held in lock.tickets:
            if held.number == ticket:
                held.expires = time.time() + self.ticket_lifetime
                return True
        return False

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        while True:
            lock: Optional[TicketLock] = self.get_lock(conversation_id)  # type: ignore[attr-defined]
            if lock is None:
                break
            if not lock.is_locked(ticket):
                return lock
            # is_locked dropped expired tickets (a dead holder's among them).
            if not self.renew(lock, ticket):
                break
            self.save_lock(lock)  # type: ignore[attr-defined]
            await asyncio.sleep(wait_time_in_seconds)
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")


class RenewingRedisLockStore(RenewingTickets, RedisLockStore):
    """RedisLockStore whose waiting turns keep their place in the queue."""

    def __init__(self, endpoint_config: EndpointConfig, **_: Any) -> None:
        # Rasa builds a lock store named by module path with the endpoint config only.
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)
