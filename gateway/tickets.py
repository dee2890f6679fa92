"""Redis adapter: ticket records and idempotency keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from uuid import UUID

import redis.asyncio as aioredis

from gateway.domain import TicketView
from shared.keys import Keys
from shared.messages import PlacePurchase

_PENDING = "pending:"


class TicketStore:
    def __init__(self, client: aioredis.Redis, keys: Keys, *, idempotency_ttl: int) -> None:
        self._redis = client
        self._keys = keys
        self._idempotency_ttl = idempotency_ttl

    async def create_queued(self, purchases: Sequence[PlacePurchase]) -> None:
        """Record every ticket of a batch as queued, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for p in purchases:
                pipe.hset(
                    self._keys.ticket(p.ticket_id),
                    items=[
                        "sale_id",
                        str(p.sale_id),
                        "user_id",
                        str(p.user_id),
                        "status",
                        "queued",
                    ],
                )
            await pipe.execute()

    async def get(self, ticket_id: UUID, owner: UUID) -> TicketView | None:
        """The ticket if ``owner`` owns it; None otherwise (no hint that it exists)."""
        values = await self._redis.hmget(
            self._keys.ticket(ticket_id), ["sale_id", "user_id", "status", "reason", "order_id"]
        )
        sale_id, user_id, status, reason, order_id = cast(list[str | None], values)
        if user_id != str(owner) or sale_id is None:
            return None
        return TicketView(
            ticket_id=ticket_id,
            sale_id=UUID(sale_id),
            status=status,
            reason=reason,
            order_id=UUID(order_id) if order_id else None,
        )

    # An idempotency key holds "pending:<ticket>" until the broker confirmed the intent and
    # "<ticket>" afterwards, so a repeat never gets a ticket that might not be queued.

    async def claim_key(
        self, user_id: UUID, sale_id: UUID, key: str, ticket_id: UUID
    ) -> str | None:
        """Claim ``key`` for ``ticket_id``; if it was claimed before, return its value."""
        previous = await self._redis.set(
            self._keys.idempotency(user_id, f"{sale_id}:{key}"),
            f"{_PENDING}{ticket_id}",
            nx=True,
            ex=self._idempotency_ttl,
            get=True,
        )
        return cast(str | None, previous)

    async def claimed_key(self, user_id: UUID, sale_id: UUID, key: str) -> str | None:
        """The value of ``key`` if an earlier request claimed it."""
        value = await self._redis.get(self._keys.idempotency(user_id, f"{sale_id}:{key}"))
        return cast(str | None, value)

    async def confirm_key(self, user_id: UUID, sale_id: UUID, key: str, ticket_id: UUID) -> None:
        await self._redis.set(
            self._keys.idempotency(user_id, f"{sale_id}:{key}"),
            str(ticket_id),
            ex=self._idempotency_ttl,
        )

    async def release_key(self, user_id: UUID, sale_id: UUID, key: str) -> None:
        await self._redis.delete(self._keys.idempotency(user_id, f"{sale_id}:{key}"))

    @staticmethod
    def is_pending(claimed: str) -> bool:
        return claimed.startswith(_PENDING)

    async def ping(self) -> None:
        await self._redis.ping()
