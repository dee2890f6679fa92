"""Idempotency keys in Redis: a repeated purchase gets the ticket of the first.

A key holds "pending:<ticket>" until the broker confirmed the intent and "<ticket>" after, so
a repeat never gets a ticket that might not be queued. A request without a key gets a claim
that does nothing, so the use case has no branch for it.
"""

from __future__ import annotations

from typing import cast
from uuid import UUID

import redis.asyncio as aioredis

from gateway.domain import Earlier
from gateway.ports import IdempotencyClaim
from shared.contracts.redis_layout import Keys

_PENDING = "pending:"


def _earlier(value: str | None) -> Earlier | None:
    if value is None:
        return None
    return Earlier(value.removeprefix(_PENDING), in_progress=value.startswith(_PENDING))


class RedisIdempotencyKeys:
    def __init__(self, client: aioredis.Redis, keys: Keys, *, ttl: int) -> None:
        self._redis = client
        self._keys = keys
        self._ttl = ttl

    def for_request(self, user_id: UUID, sale_id: UUID, key: str | None) -> IdempotencyClaim:
        if key is None:
            return NO_KEY
        return _Claim(self._redis, self._keys.idempotency(user_id, f"{sale_id}:{key}"), self._ttl)


class _Claim:
    def __init__(self, client: aioredis.Redis, redis_key: str, ttl: int) -> None:
        self._redis = client
        self._key = redis_key
        self._ttl = ttl

    async def earlier(self) -> Earlier | None:
        return _earlier(cast(str | None, await self._redis.get(self._key)))

    async def claim(self, ticket_id: str) -> Earlier | None:
        previous = await self._redis.set(
            self._key, f"{_PENDING}{ticket_id}", nx=True, ex=self._ttl, get=True
        )
        return _earlier(cast(str | None, previous))

    async def confirm(self, ticket_id: str) -> None:
        await self._redis.set(self._key, ticket_id, ex=self._ttl)

    async def release(self) -> None:
        await self._redis.delete(self._key)


class NoKey:
    """The claim of a request without an Idempotency-Key: nothing to remember."""

    async def earlier(self) -> Earlier | None:
        return None

    async def claim(self, ticket_id: str) -> Earlier | None:
        return None

    async def confirm(self, ticket_id: str) -> None:
        return None

    async def release(self) -> None:
        return None


NO_KEY = NoKey()
