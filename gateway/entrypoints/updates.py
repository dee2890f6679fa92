"""Following what the deciders and the order services publish: sale counters and ticket states."""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

from gateway.adapters.memory_tickets import TicketBoard
from gateway.adapters.redis_sales import SaleCache
from shared.contracts.redis_layout import Keys
from shared.runtime.web import DEPENDENCY_ERRORS

log = logging.getLogger(__name__)


async def follow_updates(
    client: aioredis.Redis, keys: Keys, *, sales: SaleCache, tickets: TicketBoard
) -> None:
    """Apply published updates to the caches until cancelled; resubscribe after a failure."""
    while True:
        try:
            async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(keys.sale_updates, keys.ticket_updates)
                # Whatever was published while we were not subscribed: sales are re-read
                # now; tickets are re-read at their next use.
                tickets.resubscribed()
                await sales.refresh()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is None:
                        continue
                    if message["channel"] == keys.ticket_updates:
                        tickets.apply_updates(message["data"])
                    elif message["channel"] == keys.sale_updates:
                        sales.apply_update(message["data"])
        except DEPENDENCY_ERRORS as exc:
            log.warning(
                "updates interrupted; resubscribing",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
            await asyncio.sleep(0.5)
