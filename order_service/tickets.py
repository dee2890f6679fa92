"""Redis adapter: finalise ticket records where the gateway reads them."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from order_service.domain import Outcome
from shared.keys import Keys


class TicketBoard:
    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    async def finalise(self, outcomes: list[Outcome]) -> None:
        """Mark each ticket confirmed (with its order) or rejected (with its reason), and
        tell the gateways (they answer polls and ticket streams from memory)."""
        updates = []
        async with self._redis.pipeline(transaction=False) as pipe:
            for o in outcomes:
                order_id = str(o.order_id) if o.order_id is not None else ""
                fields = ["status", o.status]
                if order_id:
                    fields += ["order_id", order_id]
                if o.reason is not None:
                    fields += ["reason", o.reason]
                pipe.hset(self._keys.ticket(o.ticket_id), items=fields)
                updates.append([str(o.ticket_id), o.status, o.reason or "", order_id])
            pipe.publish(self._keys.ticket_updates, json.dumps(updates))
            await pipe.execute()

    async def ping(self) -> None:
        await self._redis.ping()
