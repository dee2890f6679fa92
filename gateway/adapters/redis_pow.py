"""The proof-of-work gate on Redis: the secret the gateways share, and the used challenges.

Challenges are minted and checked without I/O (gateway/pow.py); Redis only remembers each
challenge a purchase spent, until the challenge would have expired anyway (SET NX PX), so a
solution is good for one purchase. Only a solution that passes every other check is
remembered: a wrong guess does not burn its buyer's challenge.

Spending is on the purchase's hot path, so the challenges spent together share one call
(gateway.batching), as the ticket records do: a command per purchase would cost the gateway
~150 µs of redis-py per purchase, a script over a batch a few.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import cast
from uuid import UUID

import redis.asyncio as aioredis
from pydantic import SecretStr

from gateway import pow
from gateway.batching import MicroBatcher
from shared.contracts.errors import Forbidden
from shared.contracts.redis_layout import Keys, lua_script, tag_of
from shared.contracts.sales import now_ms

# KEYS: the first challenge's key (the batch's slot: its challenges' sales share a tag).
# ARGV: prefix, "sale,challenge,ms sale,challenge,ms ..." (a challenge is base64url: no
# comma, no space). Returns one character per challenge: "1" spent now, "0" spent before.
_SPEND = lua_script("""
local spent = {}
for sid, challenge, ms in string.gmatch(ARGV[2], "([^ ,]+),([^ ,]+),([^ ,]+)") do
  local first = redis.call("SET", pow_used_key(sid, challenge), "1", "NX", "PX", ms)
  spent[#spent + 1] = first and "1" or "0"
end
return table.concat(spent)
""")


async def shared_secret(client: aioredis.Redis, keys: Keys) -> str:
    """The secret every gateway of the namespace signs challenges with: the first to ask
    creates it (SET NX), the others read that one."""
    created = secrets.token_hex(32)
    earlier = await client.set(keys.pow_secret, created, nx=True, get=True)
    return created if earlier is None else cast(str, earlier)


class _Spend:
    """One challenge to spend, and whether this was its first use (set by the batch)."""

    __slots__ = ("first", "text")

    def __init__(self, sale_id: UUID, verified: pow.Verified) -> None:
        self.text = f"{sale_id},{verified.challenge},{verified.remaining_ms}"
        self.first = False


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
        linger: float = 0.0005,
        max_batch: int = 500,
    ) -> None:
        self._keys = keys
        self._secret = secret.encode()
        self._ttl_ms = int(ttl_seconds * 1000)
        self._clock = clock
        self._spend = client.register_script(_SPEND)
        self._batcher: MicroBatcher[str, _Spend] = MicroBatcher(
            self._spend_batch, linger=linger, max_batch=max_batch
        )

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
        spend = _Spend(sale_id, verified)
        await self._batcher.submit(tag_of(sale_id), spend)
        if not spend.first:
            raise Forbidden("this challenge was already used: fetch a new one", code="pow_invalid")

    async def _spend_batch(self, tag: str, batch: list[_Spend]) -> None:
        sale_id, challenge, _ = batch[0].text.split(",")
        spent = await self._spend(
            keys=[self._keys.pow_used(sale_id, challenge)],
            args=[self._keys.prefix, " ".join([s.text for s in batch])],
        )
        for spend, first in zip(batch, cast(str, spent), strict=True):
            spend.first = first == "1"

    async def close(self) -> None:
        """Spend what is waiting for its batch."""
        await self._batcher.close()
