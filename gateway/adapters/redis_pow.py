"""The proof-of-work gate on Redis: the secret the gateways share, and the used challenges.

Challenges are minted and checked without I/O (gateway/pow.py); Redis only remembers each
challenge a purchase spent, until the challenge would have expired anyway (SET NX PX), so a
solution is good for one purchase. Only a solution that passes every other check is
remembered: a wrong guess does not burn its buyer's challenge.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import cast
from uuid import UUID

import redis.asyncio as aioredis
from pydantic import SecretStr

from gateway import pow
from shared.contracts.errors import Forbidden
from shared.contracts.redis_layout import Keys
from shared.contracts.sales import now_ms


async def shared_secret(client: aioredis.Redis, keys: Keys) -> str:
    """The secret every gateway of the namespace signs challenges with: the first to ask
    creates it (SET NX), the others read that one."""
    created = secrets.token_hex(32)
    earlier = await client.set(keys.pow_secret, created, nx=True, get=True)
    return created if earlier is None else cast(str, earlier)


class RedisProofOfWork:
    """Issues challenges and checks solutions (gateway.ports.ProofOfWork)."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        *,
        secret: str,
        ttl_seconds: float,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._secret = secret.encode()
        self._ttl_ms = int(ttl_seconds * 1000)
        self._clock = clock

    @classmethod
    async def open(
        cls,
        client: aioredis.Redis,
        keys: Keys,
        *,
        secret: SecretStr | None,
        ttl_seconds: float,
    ) -> RedisProofOfWork:
        """With POW_SECRET if set, otherwise with the secret shared in Redis."""
        text = secret.get_secret_value() if secret else await shared_secret(client, keys)
        return cls(client, keys, secret=text, ttl_seconds=ttl_seconds)

    def challenge(self, user_id: UUID, sale_id: UUID, difficulty: int) -> pow.Challenge:
        """A fresh challenge for this buyer and sale (nothing is stored)."""
        return pow.mint(
            self._secret,
            user_id,
            sale_id,
            difficulty,
            expires_at_ms=self._clock() + self._ttl_ms,
            random=secrets.token_bytes(9),
        )

    async def verify(
        self, user_id: UUID, sale_id: UUID, difficulty: int, solution: str | None
    ) -> None:
        verified = pow.check(
            self._secret, user_id, sale_id, difficulty, solution, now_ms=self._clock()
        )
        first = await self._redis.set(
            self._keys.pow_used(verified.challenge), "1", nx=True, px=verified.remaining_ms
        )
        if not first:
            raise Forbidden("this challenge was already used: fetch a new one", code="pow_invalid")
